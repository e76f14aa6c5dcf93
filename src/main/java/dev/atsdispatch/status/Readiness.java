package dev.atsdispatch.status;

/**
 * What {@code /readyz} asks: is the service subscribed to its channel's events, and does ATS
 * answer? Implementations must be cheap and must not block (answer from cached state); they are
 * called on the status server's threads.
 */
public interface Readiness {
  boolean subscribed();

  boolean atsReachable();

  /** Optional context for a not-ready answer, e.g. the last health check's error; empty if none. */
  default String detail() {
    return "";
  }

  /** Fixed answers, for tests and for a service that has not started yet. */
  static Readiness of(boolean subscribed, boolean atsReachable) {
    return new Readiness() {
      @Override
      public boolean subscribed() {
        return subscribed;
      }

      @Override
      public boolean atsReachable() {
        return atsReachable;
      }
    };
  }
}
