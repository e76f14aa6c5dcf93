package dev.atsdispatch.log;

/**
 * An exception as it may be logged where task content could be in its message: the class names
 * and stack frames of the exception and its causes, none of their messages. The JDK quotes
 * offending values in its messages (an environment variable, a path, a parse error's input), and a
 * task's text, decrypted or not, is never to reach the log that way.
 */
public final class Scrubbed extends RuntimeException {
  private Scrubbed(Throwable x, Throwable cause) {
    super(x.getClass().getName() + " (message withheld: it may quote task content)", cause, false, true);
    setStackTrace(x.getStackTrace());
  }

  /** The scrubbed copy of {@code x} and its causes (at most 16 deep); null for null. */
  public static Throwable of(Throwable x) {
    return of(x, 0);
  }

  private static Throwable of(Throwable x, int depth) {
    if (x == null || depth >= 16) return null;
    return new Scrubbed(x, of(x.getCause(), depth + 1));
  }

  /** The simple class name of {@code x}, for a reason text: no message. */
  public static String name(Throwable x) {
    return x.getClass().getSimpleName();
  }
}
