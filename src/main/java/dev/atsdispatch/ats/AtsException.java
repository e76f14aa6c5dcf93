package dev.atsdispatch.ats;

/**
 * An ATS call that did not succeed, typed by what the caller should do about it, whatever the
 * transport: the HTTP status where there is one, else the §3.3 text the CLI printed.
 */
public final class AtsException extends RuntimeException {
  /** What went wrong, as far as a caller needs to know. */
  public enum Kind {
    /** 404: the task (or project) does not exist. */
    NOT_FOUND,
    /** 409: refused in the task's current status ("Cannot claim task in failed status"). */
    CONFLICT,
    /** 400/413/422 or a client-side check: the request itself is wrong; retrying won't help. */
    BAD_REQUEST,
    /** 403: refused for this actor. */
    FORBIDDEN,
    /** Network failure, timeout, 5xx, 429 or an unparseable answer: worth retrying later. */
    UNAVAILABLE
  }

  private final Kind kind;
  private final int status;
  private boolean tooLarge;

  public AtsException(Kind kind, int status, String message) {
    super(message);
    this.kind = kind;
    this.status = status;
  }

  public AtsException(Kind kind, int status, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.status = status;
  }

  public Kind kind() {
    return kind;
  }

  /** The HTTP status, or 0 when none was seen. */
  public int status() {
    return status;
  }

  /** Marks an answer that failed because of its size (a smaller page would do); returns this. */
  public AtsException tooLarge() {
    tooLarge = true;
    return this;
  }

  /** Whether the answer failed because of its size: cut short, or still streaming at the timeout. */
  public boolean isTooLarge() {
    return tooLarge;
  }

  public boolean retryable() {
    return kind == Kind.UNAVAILABLE;
  }

  public static Kind kindOf(int status) {
    if (status == 404) return Kind.NOT_FOUND;
    if (status == 409) return Kind.CONFLICT;
    if (status == 403 || status == 401) return Kind.FORBIDDEN;
    if (status == 429 || status >= 500 || status == 408) return Kind.UNAVAILABLE;
    return Kind.BAD_REQUEST;
  }

  /** Types an error text from the CLI (no status) using the §3.3 message templates. */
  public static Kind kindOfText(String text) {
    String t = text == null ? "" : text.toLowerCase(java.util.Locale.ROOT);
    if (t.contains("not found")) return Kind.NOT_FOUND;
    if (t.startsWith("cannot ") && t.contains(" status")) return Kind.CONFLICT;
    if (t.contains("assigned to another actor")) return Kind.FORBIDDEN;
    if (t.contains("fetch failed") || t.contains("timed out") || t.contains("econn")
        || t.contains("internal server error") || t.matches(".*http 5\\d\\d.*")
        || t.contains("unexpected end of json") || t.contains("not valid json")) {
      return Kind.UNAVAILABLE;
    }
    return Kind.BAD_REQUEST;
  }
}
