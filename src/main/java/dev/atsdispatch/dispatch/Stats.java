package dev.atsdispatch.dispatch;

import java.util.concurrent.atomic.AtomicInteger;

/** The engine's counters, for tests and the status command; safe from any thread. */
public final class Stats {
  public final AtomicInteger completed = new AtomicInteger();
  public final AtomicInteger failed = new AtomicInteger();
  public final AtomicInteger attempts = new AtomicInteger();
  public final AtomicInteger poisoned = new AtomicInteger();
  public final AtomicInteger cancelled = new AtomicInteger();
  public final AtomicInteger leaseRenewals = new AtomicInteger();
  public final AtomicInteger leaseRenewalFailures = new AtomicInteger();
  public final AtomicInteger leaseLost = new AtomicInteger();
  public final AtomicInteger interrupted = new AtomicInteger();
  public final AtomicInteger reconciles = new AtomicInteger();
  public final AtomicInteger blocked = new AtomicInteger();
}
