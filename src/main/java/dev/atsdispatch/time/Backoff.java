package dev.atsdispatch.time;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with jitter: base, doubling per failure, capped; each delay is drawn
 * uniformly from [delay/2, delay] so that many clients do not retry in step. Not thread-safe.
 */
public final class Backoff {
  private final Duration base;
  private final Duration max;
  private int failures;

  public Backoff(Duration base, Duration max) {
    this.base = base;
    this.max = max;
  }

  public Duration next() {
    long ceiling = Math.min(max.toMillis(), base.toMillis() << Math.min(failures, 30));
    failures++;
    long half = ceiling / 2;
    return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(ceiling - half + 1));
  }

  public void reset() {
    failures = 0;
  }

  public int failures() {
    return failures;
  }
}
