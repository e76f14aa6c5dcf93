package dev.atsdispatch.source;

/**
 * A source call that did not succeed, typed by what the engine should do about it, whatever the
 * source and transport.
 */
public final class SourceException extends RuntimeException {
  /** What went wrong, as far as the engine needs to know. */
  public enum Kind {
    /** The task does not exist. */
    NOT_FOUND,
    /** Refused in the task's current state: someone else holds it, or it is finished. */
    CONFLICT,
    /** The request itself can never succeed (bad input, forbidden, too large). */
    REFUSED,
    /** Network failure, timeout, overload: worth retrying later. */
    UNAVAILABLE
  }

  private final Kind kind;

  public SourceException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public SourceException(Kind kind, String message) {
    this(kind, message, null);
  }

  public Kind kind() {
    return kind;
  }

  public boolean retryable() {
    return kind == Kind.UNAVAILABLE;
  }
}
