package dev.atsdispatch.time;

import java.time.Instant;

/**
 * The service's only source of time. Leases, timeouts and backoffs read {@link #nanoTime()}
 * (monotonic); {@link #now()} is for timestamps written out. Tests substitute a fake they advance
 * by hand, so no test sleeps a lease or timeout out.
 */
public interface Clock {
  long nanoTime();

  Instant now();

  Clock SYSTEM = new Clock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public Instant now() {
      return Instant.now();
    }
  };
}
