package dev.atsdispatch.devserver;

/** Who made a request, from the X-Actor-* headers (or the WebSocket query string). */
record Actor(String type, String id, String name) {
  static final Actor ANONYMOUS = new Actor("system", "anonymous", "anonymous");
  static final Actor SYSTEM = new Actor("system", "ats-dev-server", "ATS dev server");

  static Actor of(String type, String id, String name) {
    if (blank(type) && blank(id) && blank(name)) return ANONYMOUS;
    return new Actor(
        blank(type) ? ANONYMOUS.type : type,
        blank(id) ? ANONYMOUS.id : id,
        blank(name) ? (blank(id) ? ANONYMOUS.name : id) : name);
  }

  boolean sameIdentity(String otherType, String otherId) {
    return type.equals(otherType) && id.equals(otherId);
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
