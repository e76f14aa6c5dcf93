package dev.atsdispatch.notify;

import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The admin's registration notices, batched so that a flood of {@code register} tasks costs one
 * Telegram message per window instead of one per task (issue 12, finding 6): the first event after
 * a quiet window goes out at once, in its single form; later ones within the window are summed up
 * in one {@link Notifications#registrationDigest} message when the window ends, and whatever is
 * left at {@link #close()}. At most {@link #LISTED} fingerprints and task ids are listed, the rest
 * counted. Thread-safe; the window's end runs on one daemon timer thread
 * ({@code registration-notices}).
 */
public final class RegistrationDigest implements AutoCloseable {
  public static final Duration WINDOW = Duration.ofMinutes(10);
  static final int LISTED = 10;

  /** Runs a task after a delay; {@link #close()} drops what has not run. */
  public interface Timer extends AutoCloseable {
    void after(Duration delay, Runnable task);

    @Override
    void close();

    /** A daemon thread named {@code registration-notices}. */
    static Timer thread() {
      ScheduledThreadPoolExecutor ex = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "registration-notices");
        t.setDaemon(true);
        return t;
      });
      ex.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
      ScheduledExecutorService s = ex;
      return new Timer() {
        @Override
        public void after(Duration delay, Runnable task) {
          s.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public void close() {
          s.shutdownNow();
        }
      };
    }
  }

  private final Notifications out;
  private final Clock clock;
  private final Duration window;
  private final Timer timer;
  private boolean sentOnce;
  private long lastSent;
  private boolean flushScheduled;
  private boolean closed;
  private int buffered;
  private Runnable lone; // the only buffered event, in its single form
  private final List<String[]> requests = new ArrayList<>();
  private int requestCount;
  private final List<String> invalidTasks = new ArrayList<>();
  private int invalidCount;
  private final Map<String, Integer> refused = new LinkedHashMap<>();

  public RegistrationDigest(Notifications out, Clock clock, Duration window, Timer timer) {
    this.out = out;
    this.clock = clock;
    this.window = window;
    this.timer = timer;
  }

  public synchronized void requested(String fingerprint, String publicKey, String taskId) {
    event(() -> out.registrationRequested(fingerprint, publicKey, taskId), () -> {
      if (requests.size() < LISTED) requests.add(new String[] {fingerprint, "task " + taskId});
      requestCount++;
    });
  }

  public synchronized void invalid(String taskId, String detail) {
    event(() -> out.registrationInvalid(taskId, detail), () -> {
      if (invalidTasks.size() < LISTED) invalidTasks.add(taskId);
      invalidCount++;
    });
  }

  public synchronized void refused(String taskId, String reason) {
    event(() -> out.registrationRefused(taskId, reason), () -> {
      refused.merge(refused.size() < LISTED || refused.containsKey(reason) ? reason : "other reasons", 1, Integer::sum);
    });
  }

  private void event(Runnable single, Runnable add) {
    if (closed) return;
    long now = clock.nanoTime();
    if (buffered == 0 && (!sentOnce || now - lastSent >= window.toNanos())) {
      single.run();
      sentOnce = true;
      lastSent = now;
      return;
    }
    lone = ++buffered == 1 ? single : null;
    add.run();
    if (!flushScheduled) {
      flushScheduled = true;
      timer.after(Duration.ofNanos(Math.max(0, lastSent + window.toNanos() - now)), this::flush);
    }
  }

  /** Sends what the window gathered (the timer calls it when the window ends). */
  synchronized void flush() {
    flushScheduled = false;
    if (buffered == 0) return;
    if (lone != null) {
      lone.run();
    } else {
      out.registrationDigest(requests, requestCount, invalidTasks, invalidCount, refused, window);
    }
    sentOnce = true;
    lastSent = clock.nanoTime();
    buffered = 0;
    lone = null;
    requests.clear();
    requestCount = 0;
    invalidTasks.clear();
    invalidCount = 0;
    refused.clear();
  }

  /** Sends what is gathered now and stops the timer. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) return;
      flush();
      closed = true;
    }
    timer.close();
  }
}
