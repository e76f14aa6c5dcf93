package dev.atsdispatch.dispatch;

import java.time.Instant;

/** Claiming paused until {@code until}, and why (a usage limit, the daily spend cap). A value. */
public record Pause(Instant until, String reason) {

  /** The later of two pauses (either may be null). */
  static Pause later(Pause a, Pause b) {
    if (a == null) return b;
    if (b == null) return a;
    return b.until().isAfter(a.until()) ? b : a;
  }
}
