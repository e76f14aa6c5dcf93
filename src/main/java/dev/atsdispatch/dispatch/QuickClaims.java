package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.status.DispatchMetrics;
import java.time.Duration;
import dev.atsdispatch.log.Scrubbed;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tasks that are claimed only to be finished at once, without an agent: registrations (the
 * intake decides), refusals, poisoned and blocked tasks. Each runs on the source-call pool and
 * returns whether the task was claimed; one that was not (held by someone else, or the source is
 * unreachable) is forgotten, so a later offer or reconcile brings it back.
 */
final class QuickClaims {
  private static final Logger log = LoggerFactory.getLogger(QuickClaims.class);

  private final TaskSource source;
  private final Duration lease;
  private final StateDir state;
  private final Intake intake;
  private final TaskObserver observer;
  private final ResultReporter reporter;
  private final Stats stats;
  private final DispatchMetrics metrics;

  QuickClaims(TaskSource source, Duration lease, StateDir state, Intake intake, TaskObserver observer,
      ResultReporter reporter, Stats stats, DispatchMetrics metrics) {
    this.source = source;
    this.lease = lease;
    this.state = state;
    this.intake = intake;
    this.observer = observer;
    this.reporter = reporter;
    this.stats = stats;
    this.metrics = metrics;
  }

  /** Runs {@code job} (one of the methods below) on {@code calls}; {@code then} hears whether it claimed the task. */
  void run(Tracked t, java.util.function.BooleanSupplier job, java.util.concurrent.Executor calls,
      java.util.function.Consumer<Boolean> then) {
    calls.execute(() -> {
      boolean claimed;
      try {
        claimed = job.getAsBoolean();
      } catch (RuntimeException x) {
        log.error("task {}: could not be finished", t.key, Scrubbed.of(x));
        claimed = false;
      }
      then.accept(claimed);
    });
  }

  /** Claims the task and fails it with {@code reason}. */
  boolean fail(Tracked t, TaskObserver.Failure why, String reason) {
    Lease l = claim(t, reason);
    if (l == null) return false;
    int attempt = state.ledger(t.key).summary().attempts();
    reporter.submit(t.key, attempt, null, reason, l);
    stats.failed.incrementAndGet();
    if (why == TaskObserver.Failure.POISON) stats.poisoned.incrementAndGet();
    metrics.taskFinished(why.metric());
    observer.failed(t.view, attempt, why, reason);
    return true;
  }

  /** Claims a registration request, lets the intake decide, and reports (no callback). */
  boolean register(Tracked t, String publicKey) {
    Lease l = claim(t, "registration");
    if (l == null) return false;
    Intake.Registration r = intake.register(t.key, publicKey);
    if (r instanceof Intake.Registered ok) {
      reporter.submit(t.key, 0, ok.outputs(), null, l);
      stats.completed.incrementAndGet();
      if (ok.notifyFingerprint() != null) observer.registrationRequested(ok.notifyFingerprint(), publicKey, t.key);
    } else {
      Intake.Refused no = (Intake.Refused) r;
      reporter.submit(t.key, 0, null, no.reason(), l);
      stats.failed.incrementAndGet();
      if (no.invalidKey()) {
        observer.registrationInvalid(t.key, no.reason());
      } else {
        observer.registrationRefused(t.key, no.reason());
      }
    }
    return true;
  }

  private Lease claim(Tracked t, String what) {
    try {
      return source.claim(t.key, lease);
    } catch (SourceException x) {
      log.info("task {}: not claimed ({}): {}", t.key, what, x.getMessage());
      return null;
    }
  }
}
