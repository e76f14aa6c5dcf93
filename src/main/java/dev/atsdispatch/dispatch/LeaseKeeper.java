package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one claim's lease alive (design.md §1): renews every lease/3 on the source-call pool,
 * never more than one renewal in flight, and fences the task (through {@code onLost}) when the
 * source refuses a renewal or when no renewal has succeeded for long enough that the source may
 * already have offered the task to someone else: at the last successful renewal (the time its
 * request was sent) + lease − margin. {@link #close()} stops it and waits for a renewal in flight,
 * so nothing renews after the result is reported. The timer thread only checks times; no lock is
 * held across a source call. All maths reads the clock seam.
 */
final class LeaseKeeper implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);

  /** What renewals did, for metrics. */
  interface Listener {
    void renewed();

    void renewalFailed();
  }

  private final Lease lease;
  private final Duration length;
  private final Clock clock;
  private final Executor calls;
  private final BiConsumer<Claim.Stop, String> onLost;
  private final Listener listener;
  private final long everyNanos;
  private final long marginNanos;
  private volatile long lastOk;
  private volatile long lastTry;
  private boolean inFlight; // guarded by this
  private boolean closed; // guarded by this
  private ScheduledFuture<?> ticker;

  LeaseKeeper(Lease lease, Duration length, Clock clock, Executor calls,
      BiConsumer<Claim.Stop, String> onLost, Listener listener, long claimedAtNanos) {
    this.lease = lease;
    this.length = length;
    this.clock = clock;
    this.calls = calls;
    this.onLost = onLost;
    this.listener = listener;
    this.everyNanos = Math.max(length.toNanos() / 3, 100_000_000L);
    this.marginNanos = margin(length).toNanos();
    this.lastOk = claimedAtNanos;
    this.lastTry = claimedAtNanos;
  }

  /** How long before the lease's end the task is given up: a tenth of it, at most 30 s. */
  static Duration margin(Duration lease) {
    Duration tenth = lease.dividedBy(10);
    return tenth.compareTo(Duration.ofSeconds(30)) > 0 ? Duration.ofSeconds(30) : tenth;
  }

  /** The local deadline, in the clock's nanoseconds. */
  long deadline() {
    return lastOk + length.toNanos() - marginNanos;
  }

  void start(ScheduledExecutorService timers) {
    long period = Math.max(20, Math.min(everyNanos, marginNanos) / 2_000_000);
    ticker = timers.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
  }

  /** Checks the deadline and starts a renewal when one is due; the timer calls it. */
  void tick() {
    long now = clock.nanoTime();
    boolean expired;
    synchronized (this) {
      if (closed) return;
      expired = now - deadline() >= 0;
      if (expired) {
        closed = true;
      } else {
        if (inFlight || now - lastTry < everyNanos) return;
        inFlight = true;
        lastTry = now;
      }
    }
    if (expired) {
      long since = (now - lastOk) / 1_000_000;
      lost(Claim.Stop.LEASE_LOST, "lease deadline passed: no renewal succeeded for " + since + " ms");
      return;
    }
    try {
      calls.execute(() -> renew(now));
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        inFlight = false;
        notifyAll();
      }
    }
  }

  private void renew(long sentAt) {
    synchronized (this) {
      if (closed) { // queued behind other calls until after close gave up waiting: the result may be out
        inFlight = false;
        notifyAll();
        return;
      }
    }
    boolean refused = false;
    String why = null;
    try {
      lease.renew(length);
      listener.renewed();
      lastOk = Math.max(lastOk, sentAt);
    } catch (SourceException e) {
      listener.renewalFailed();
      if (e.retryable()) {
        log.warn("task {}: lease renewal failed ({}); will retry", lease.key(), e.getMessage());
      } else {
        refused = true;
        why = "lease lost: " + e.getMessage();
      }
    } catch (RuntimeException e) {
      listener.renewalFailed();
      log.warn("task {}: lease renewal failed", lease.key(), e);
    } finally {
      synchronized (this) {
        inFlight = false;
        if (refused) {
          refused = !closed; // a refusal after close (the task is reported) means nothing
          closed = true;
        }
        notifyAll();
      }
    }
    if (refused) lost(Claim.Stop.LEASE_LOST, why);
  }

  private void lost(Claim.Stop why, String detail) {
    if (ticker != null) ticker.cancel(false);
    log.warn("task {}: {}; stopping its agent", lease.key(), detail);
    onLost.accept(why, detail);
  }

  /** True while the lease is held as far as this keeper knows (not fenced, not closed). */
  synchronized boolean holding() {
    return !closed;
  }

  /** Stops renewing; waits up to {@code wait} for a renewal in flight to end. */
  void close(Duration wait) {
    long end = System.nanoTime() + wait.toNanos();
    synchronized (this) {
      closed = true;
      if (ticker != null) ticker.cancel(false);
      while (inFlight) {
        long left = end - System.nanoTime();
        if (left <= 0) break;
        try {
          TimeUnit.NANOSECONDS.timedWait(this, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }
}
