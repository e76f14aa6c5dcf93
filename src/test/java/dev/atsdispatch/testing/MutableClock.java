package dev.atsdispatch.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link Clock} that stands still until a test moves it. Pass it to
 * {@code DevServer.builder().clock(...)} to test leases without waiting. Thread-safe.
 */
public final class MutableClock extends Clock {
  private final AtomicReference<Instant> now;
  private final ZoneId zone;

  public MutableClock(Instant start) {
    this(new AtomicReference<>(start), ZoneOffset.UTC);
  }

  private MutableClock(AtomicReference<Instant> now, ZoneId zone) {
    this.now = now;
    this.zone = zone;
  }

  /** Starts at the current time, cut to whole milliseconds (the wire resolution). */
  public static MutableClock startingNow() {
    return new MutableClock(Instant.now().truncatedTo(ChronoUnit.MILLIS));
  }

  /** Moves the clock forward (or back, with a negative duration); returns the new instant. */
  public Instant advance(Duration d) {
    return now.updateAndGet(i -> i.plus(d));
  }

  public void set(Instant instant) {
    now.set(instant);
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  @Override
  public ZoneId getZone() {
    return zone;
  }

  /** A view in another zone that shares this clock's instant. */
  @Override
  public Clock withZone(ZoneId z) {
    return new MutableClock(now, z);
  }
}
