package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.exec.RunningAgent;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import dev.atsdispatch.log.Scrubbed;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Runs one claimed task to its end on the calling (runner) thread: the claim, a lease keeper for
 * it, the attempts inside the claim (retries with backoff), and the report. Every way out is one
 * of: reported (completed or failed, through the outbox), cancelled, given back (shutdown), or
 * left to its new owner (lease lost, finished elsewhere). Anything unexpected inside an attempt
 * becomes a reported failure counted as a strike; nothing is left without an owner.
 */
final class AttemptRunner {
  private static final Logger log = LoggerFactory.getLogger(AttemptRunner.class);
  private static final ObjectMapper M = new ObjectMapper();

  /** How a claim ended, for the loop. */
  enum End {
    /** Finished here (reported, or cancelled): stale offers of it are ignored for a while. */
    DONE,
    /** Not ours (any more): forget it; a later offer is taken as new. */
    FORGET
  }

  private final ServiceConfig cfg;
  private final TaskSource source;
  private final AgentRunner runner;
  private final StateDir state;
  private final Clock clock;
  private final Intake intake;
  private final TaskObserver observer;
  private final ResultReporter reporter;
  private final Executor calls;
  private final ScheduledExecutorService timers;
  private final AgentWork work;
  private final Stats stats;
  private final DispatchMetrics metrics;
  private final String instance;
  private final java.util.function.BooleanSupplier accepting;
  private final Executor preparers;

  /** Questions to people (set before the engine starts); null: none are looked for. */
  private volatile Asking asking;

  void useAsking(Asking a) {
    this.asking = a;
  }

  /** The backend's spend per UTC day (agent.daily_cost_usd); set by the engine before it starts. */
  private volatile DailySpend spend;

  void useSpend(DailySpend s) {
    this.spend = s;
  }

  /** Pauses claiming until an instant (a usage limit of the agent's backend). */
  private final java.util.function.Consumer<Instant> pause;

  AttemptRunner(ServiceConfig cfg, TaskSource source, AgentRunner runner, StateDir state, Clock clock,
      Intake intake, TaskObserver observer, ResultReporter reporter, Executor calls,
      ScheduledExecutorService timers, AgentWork work, Stats stats, DispatchMetrics metrics, String instance,
      java.util.function.BooleanSupplier accepting, Executor preparers) {
    this(cfg, source, runner, state, clock, intake, observer, reporter, calls, timers, work, stats, metrics, instance,
        accepting, preparers, until -> { });
  }

  AttemptRunner(ServiceConfig cfg, TaskSource source, AgentRunner runner, StateDir state, Clock clock,
      Intake intake, TaskObserver observer, ResultReporter reporter, Executor calls,
      ScheduledExecutorService timers, AgentWork work, Stats stats, DispatchMetrics metrics, String instance,
      java.util.function.BooleanSupplier accepting, Executor preparers, java.util.function.Consumer<Instant> pause) {
    this.pause = pause;
    this.accepting = accepting;
    this.preparers = preparers;
    this.cfg = cfg;
    this.source = source;
    this.runner = runner;
    this.state = state;
    this.clock = clock;
    this.intake = intake;
    this.observer = observer;
    this.reporter = reporter;
    this.calls = calls;
    this.timers = timers;
    this.work = work;
    this.stats = stats;
    this.metrics = metrics;
    this.instance = instance;
  }

  End run(Tracked t, Claim c) {
    MDC.put("task_id", t.key.toString());
    try {
      // the task's directories and ledger file are made while the claim is on its way (synced
      // after the spawn: the start journal makes the attempt durable before it)
      CompletableFuture<TaskLedger> prepared = prepare(t.key);
      t.claimSentAt = clock.now();
      long sentAt = clock.nanoTime();
      Lease lease;
      try {
        lease = source.claim(t.key, cfg.lease(), t.whole != null);
      } catch (SourceException x) {
        if (x.kind() == SourceException.Kind.UNAVAILABLE) {
          log.warn("task {}: claim failed: {}; reconcile will offer it again", t.key, x.getMessage());
        } else {
          log.info("task {}: not claimed: {}", t.key, x.getMessage());
        }
        return End.FORGET;
      }
      t.claimedAt = clock.now();
      LeaseKeeper keeper = new LeaseKeeper(lease, cfg.lease(), clock, calls, c::stop, keeperListener(t.key), sentAt);
      keeper.start(timers);
      try {
        return attempts(t, c, lease, keeper, prepared(prepared, t.key));
      } catch (RuntimeException | Error x) {
        log.error("task {}: internal error during the attempt", t.key, Scrubbed.of(x));
        return internalFailure(t, c, lease, keeper, x);
      } finally {
        keeper.close(cfg.grace().plusSeconds(5));
      }
    } finally {
      MDC.remove("task_id");
    }
  }

  /** Counts renewals, and puts each in the task's event history (the operator's /agents/{task}). */
  private LeaseKeeper.Listener keeperListener(dev.atsdispatch.source.TaskKey key) {
    return new LeaseKeeper.Listener() {
      @Override
      public void renewed() {
        stats.leaseRenewals.incrementAndGet();
        metrics.leaseRenewed();
        Instant now = clock.now();
        work.events().leased(key, now.plus(cfg.lease()));
        work.events().note(key, "renewed", "lease renewed for " + cfg.lease().toSeconds() + " s", now);
      }

      @Override
      public void renewalFailed() {
        stats.leaseRenewalFailures.incrementAndGet();
        metrics.leaseRenewalFailed();
        work.events().note(key, "renewal_failed", null, clock.now());
      }
    };
  }

  /** Starts {@link StateDir#prepare} on a preparer thread; done at once (failed) if none takes it. */
  private CompletableFuture<TaskLedger> prepare(TaskKey key) {
    try {
      return CompletableFuture.supplyAsync(() -> state.prepare(key), preparers);
    } catch (java.util.concurrent.RejectedExecutionException x) {
      return CompletableFuture.failedFuture(x);
    }
  }

  /** The prepared ledger; a preparation that failed is done again here, so its error is the attempt's. */
  private TaskLedger prepared(CompletableFuture<TaskLedger> f, TaskKey key) {
    try {
      return f.join();
    } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException x) {
      return state.prepare(key);
    }
  }

  private End attempts(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, TaskLedger ledger) {
    TaskView view = t.view;
    SourceTask whole = lease.task() != null && !lease.task().light() ? lease.task() : t.whole;
    t.whole = null;
    if (whole != null) {
      Intake.Opened o = intake.open(whole);
      if (!(o instanceof Intake.Run run)) {
        return report(t, c, lease, keeper, ledger.summary().attempts(), null, TaskObserver.Failure.DECRYPTION,
            "The task changed while it waited and can no longer be run: "
                + (o instanceof Intake.Reject r ? r.reason() : "it is now a registration"));
      }
      view = run.view();
    }
    int retriesLeft = cfg.retries();
    while (true) {
      TaskLedger.Summary sum = ledger.summary();
      TaskSource.SharedAttempts shared = shared(t, sum);
      int strikes = Math.max(sum.strikes(), shared.strikes());
      int n = Math.max(sum.attempts(), shared.highest()) + 1;
      if (strikes >= cfg.maxAttempts()) {
        stats.poisoned.incrementAndGet();
        return report(t, c, lease, keeper, n - 1, null, TaskObserver.Failure.POISON, "poison: " + strikes + " attempts");
      }
      End stopped = stoppedBeforeStart(t, c, lease, keeper, n - 1);
      if (stopped != null) return stopped;
      String spentAll = cfg.budget().spentBefore(sum.spent()); // earlier attempts used the task's budget up
      if (spentAll != null) {
        log.warn("task {}: {}; no attempt {}", t.key, spentAll, n);
        return report(t, c, lease, keeper, n - 1, null, TaskObserver.Failure.BUDGET, spentAll);
      }
      Instant recorded = clock.now();
      // durable in the start journal (one flush), in the ledger with the attempt's next record
      ledger.appendUnforced("attempt_started", M.createObjectNode().put("attempt", n).put("instance", instance), recorded);
      StartJournal.Entry journaled = state.journal().record(t.key, n, instance, recorded);
      recorded = clock.now(); // durable from here
      stats.attempts.incrementAndGet();
      Attempt a;
      try {
        a = attempt(t, c, view, n, recorded, sum.spent(), journaled);
      } finally {
        settle(t.key, ledger, journaled); // a no-op once settled; here for an agent that never started
      }
      if (a.outcome.isStrike()) metrics.strike();
      switch (a.outcome) {
        case COMPLETED -> {
          return completed(t, c, lease, keeper, view, a, n);
        }
        case CANCELLED -> {
          stats.cancelled.incrementAndGet();
          metrics.taskFinished("cancelled");
          ledger.append("terminal_seen", M.createObjectNode().put("status", "cancelled"), clock.now());
          return End.DONE;
        }
        case LEASE_LOST -> {
          stats.leaseLost.incrementAndGet();
          metrics.taskFinished("lease_lost");
          log.warn("task {}: {}; nothing reported", t.key, c.stopDetail());
          return End.FORGET;
        }
        case INTERRUPTED -> {
          if (c.stopped() == Claim.Stop.OPERATOR_CANCEL) return operatorCancelled(t, c, lease, keeper, n);
          return interrupted(t, c, lease);
        }
        case LIMITED -> {
          return limited(t, lease, a.preset.limit());
        }
        case QUESTION -> {
          return asking.park(t, c, lease, keeper, view, n, a.question);
        }
        case BUDGET -> { // not retried: a retry would only spend more
          log.warn("task {}: attempt {} stopped: {}", t.key, n, a.detail);
          return report(t, c, lease, keeper, n, null, TaskObserver.Failure.BUDGET, a.detail);
        }
        default -> {
          String reason = work.reason(a.outcome, a.result, a.detail, view.encrypted());
          if (retriesLeft > 0 && strikes + 1 < cfg.maxAttempts() && c.stopped() == null) {
            retriesLeft--;
            log.info("task {}: attempt {} failed ({}); retrying in {} s", t.key, n, reason, cfg.retryBackoff().toSeconds());
            c.sleep(cfg.retryBackoff());
            if (!accepting.getAsBoolean()) c.stop(Claim.Stop.SHUTDOWN, "service shutting down"); // no retry in the drain
            continue; // a stop during the backoff is handled before the next attempt starts
          }
          ObjectNode note = sealedFailure(t, view, a, n);
          if (note != null) reason += " (its stderr tail is sealed to the sender on the task thread)";
          return report(t, c, lease, keeper, n, null, TaskObserver.Failure.AGENT, reason, note);
        }
      }
    }
  }

  /** An encrypted task's failure as its sender may read it, for the thread; null if none can be made. */
  private ObjectNode sealedFailure(Tracked t, TaskView view, Attempt a, int n) {
    if (!view.encrypted() || !source.capabilities().threads()) return null;
    try {
      return work.sealedFailure(view, a.outcome, a.result, a.detail, n);
    } catch (RuntimeException x) {
      log.warn("task {}: the failure cannot be sealed to its sender ({}); only the reason is reported", t.key,
          Scrubbed.name(x));
      return null;
    }
  }

  /** Attempts other services recorded on the task's thread; read only when this one may not be the first. */
  private TaskSource.SharedAttempts shared(Tracked t, TaskLedger.Summary sum) {
    Integer deliveries = t.offer.deliveries();
    if (deliveries != null) return new TaskSource.SharedAttempts(deliveries - 1, deliveries - 1); // the source counts
    if (!source.capabilities().threads() || (t.why == dev.atsdispatch.source.SourceEvent.Why.CREATED && sum.attempts() == 0)) {
      return TaskSource.SharedAttempts.NONE; // a task just created has no attempts anywhere yet
    }
    try {
      return source.sharedAttempts(t.key, sum.resetAt());
    } catch (RuntimeException e) {
      log.debug("task {}: cannot read the attempts on its thread: {}", t.key, e.getMessage());
      return TaskSource.SharedAttempts.NONE;
    }
  }

  /** A stop that came before the attempt started: nothing was run, nothing is a strike. */
  private End stoppedBeforeStart(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, int lastAttempt) {
    Claim.Stop s = c.stopped();
    if (s == null) return null;
    return switch (s) {
      case CANCELLED -> {
        stats.cancelled.incrementAndGet();
        yield End.DONE;
      }
      case SHUTDOWN, GIVE_BACK -> interrupted(t, c, lease);
      case OPERATOR_CANCEL -> operatorCancelled(t, c, lease, keeper, lastAttempt);
      case LEASE_LOST, FINISHED_ELSEWHERE -> End.FORGET;
      case BUDGET -> null; // set only while an agent runs, and that attempt ends the claim
    };
  }

  /** An operator cancelled the task: it fails, with no strike, and is not tried again. */
  private End operatorCancelled(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, int attempt) {
    stats.cancelled.incrementAndGet();
    state.ledger(t.key).append("operator", M.createObjectNode().put("action", "cancel"), clock.now());
    return report(t, c, lease, keeper, attempt, null, TaskObserver.Failure.OPERATOR, OPERATOR_CANCEL_REASON);
  }

  /** The failure reason of a task an operator cancelled. */
  static final String OPERATOR_CANCEL_REASON = "Cancelled by an operator (ats-dispatch dashboard)";

  /** The attempt's start is made durable in its own ledger, so its start journal line can go. */
  private void settle(TaskKey key, TaskLedger ledger, StartJournal.Entry journaled) {
    if (!state.journal().unsettled(journaled)) return;
    try {
      ledger.sync();
      state.journal().settle(journaled);
    } catch (RuntimeException x) {
      log.warn("task {}: its ledger cannot be synced ({}); the start journal keeps the attempt's record", key,
          x.getMessage());
    }
  }

  /** {@code outputs}: what the agent set through the agent API, or null. */
  private record Attempt(Outcome outcome, AgentResult result, String detail, ObjectNode outputs,
      dev.atsdispatch.exec.PresetReader preset, Questions.Asked question) {}

  /**
   * One agent process, from start to end, recorded in the ledger and the running markers. {@code
   * spent}: what the task's earlier attempts spent, which its budget counts with this one's.
   */
  private Attempt attempt(Tracked t, Claim c, TaskView view, int n, Instant recorded, Budget.Spent spent,
      StartJournal.Entry journaled) {
    TaskLedger ledger = state.ledger(t.key);
    AgentResult r = null;
    String detail = null;
    long pgid = -1;
    long[] marked = {-1, -1}; // the process group and start time in the running marker
    RunningAgent agent = null;
    boolean noted = false;
    observer.pickedUp(view, n); // hands a notice to the notifiers' own threads
    dev.atsdispatch.api.AgentApi.Grant grant = work.grant(view, n);
    dev.atsdispatch.exec.PresetReader preset = work.presetReader();
    Asking ask = asking;
    Questions.Open answering = ask == null ? null : ask.answerFor(t.key); // the spec gives it to this attempt
    AgentProgress progress = null;
    try {
      // the marker is written before the agent may run, so a crash at any moment leaves no agent
      // that the next start's leftover reaper cannot find
      dev.atsdispatch.exec.AgentSpec spec = work.spec(view, n, grant, preset, spent);
      dev.atsdispatch.status.AgentEvents events = work.events();
      // an encrypted task's output is plaintext: it goes to no event history (the preset reads it in memory)
      java.util.function.BiConsumer<String, String> toEvents = view.encrypted() ? null
          : (stream, line) -> events.line(t.key, stream, line, clock.now());
      java.util.function.BiConsumer<String, String> read = preset;
      PresetSessions.Session session = null;
      if (preset != null) {
        session = PresetSessions.of(state, t.key, preset.preset()); // as the spec read it: resumed when begun
        read = read.andThen(PresetSessions.markWhenReported(state, t.key, preset, log));
      }
      if (preset != null && cfg.budget().perTask() && !AgentWork.hasBudgetFlags(preset.preset())) {
        Budget budget = cfg.budget(); // a CLI without budget flags: its output is watched, and it is stopped at a limit
        read = read.andThen((stream, line) -> {
          String why = budget.passed(spent, preset.facts());
          if (why != null) c.stop(Claim.Stop.BUDGET, why);
        });
      }
      if (preset != null) spec = spec.withLines(toEvents == null ? read : read.andThen(toEvents));
      else if (toEvents != null) spec = spec.withLines(toEvents);
      events.started(t.key, n, clock.now()); // before the spawn: the first line has a history to go to
      if (t.claimedAt != null) events.leased(t.key, t.claimedAt.plus(cfg.lease()));
      if (work.route() != null) events.route(t.key, work.route());
      agent = runner.start(spec, (group, started) -> {
        state.markRunning(t.key, group, started);
        marked[0] = group;
        marked[1] = started;
      });
      Instant spawned = clock.now();
      events.spawned(t.key, agent.pid());
      c.attach(agent);
      if (preset != null && cfg.progressMessages() && cfg.progressEvery() != null && !view.encrypted()
          && source.capabilities().threads()) {
        progress = AgentProgress.start(preset, n, text -> later(() -> {
          try {
            source.note(t.key, text, null, false);
          } catch (RuntimeException x) {
            log.debug("task {}: progress note not posted: {}", t.key, x.getMessage());
          }
        }), timers, cfg.progressEvery());
      }
      // posted once the agent runs, so the note's round trip (and the event it makes) does not take
      // the CPU the agent's own start needs; the attempt never waited for the post
      noted = attemptNote(t.key, n);
      pgid = agent.pid();
      ObjectNode started = M.createObjectNode().put("attempt", n).put("pgid", pgid).put("start_ms", marked[1]);
      if (session != null) {
        if (session.id() != null) started.put("session_id", session.id());
        started.put("resumed", session.begun());
      }
      // where the pickup's time went (epoch µs): bench/run prints the breakdown from these
      ObjectNode timings = started.putObject("timings_us");
      if (t.offeredAt != null) timings.put("offered", micros(t.offeredAt));
      if (t.admittedAt != null) timings.put("admitted", micros(t.admittedAt));
      if (t.claimSentAt != null) timings.put("claim_sent", micros(t.claimSentAt));
      if (t.claimedAt != null) timings.put("claimed", micros(t.claimedAt));
      timings.put("recorded", micros(recorded)).put("spawned", micros(spawned));
      ledger.append("agent_started", started, spawned); // durable, and with it the attempt's start
      settle(t.key, ledger, journaled); // at once, not when the agent ends: the journal stays short
      if (answering != null) ask.delivered(t.key, answering, n);
      if (n == 1 && t.offer.createdAt() != null) {
        Duration pickup = Duration.between(t.offer.createdAt(), clock.now());
        if (!pickup.isNegative()) metrics.pickedUp(pickup);
      }
      r = agent.result().join();
    } catch (IOException x) {
      detail = x.getMessage();
    } catch (RuntimeException x) {
      log.error("task {}: attempt {} failed inside the service", t.key, n, Scrubbed.of(x));
      detail = Scrubbed.name(x); // its message may quote the task
      if (agent != null) {
        agent.stop("internal error", cfg.grace());
        try {
          agent.result().get(cfg.grace().toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception ignored) {
          // the leftover reaper finds it at the next start if it is still there
        }
      }
    } finally {
      if (progress != null) progress.close();
      if (grant != null) grant.close(); // its token is void from here on
      if (preset != null && preset.noSession()) {
        try {
          PresetSessions.lost(state, t.key, preset.preset());
          log.warn("task {}: {} has no session to resume; the next attempt starts it anew", t.key, preset.preset().name());
        } catch (RuntimeException e) {
          log.warn("task {}: {}", t.key, e.getMessage());
        }
      } else if (preset != null && preset.sessionId() != null) {
        try {
          PresetSessions.begun(state, t.key, preset.preset(), preset.sessionId()); // a later attempt resumes it
        } catch (RuntimeException e) {
          log.warn("task {}: {}", t.key, e.getMessage());
        }
      }
      if (!noted) attemptNote(t.key, n); // an attempt that failed to start is a strike all the same
      c.detach();
      if (pgid > 0 || marked[0] > 0) {
        try {
          state.clearRunning(t.key);
        } catch (RuntimeException e) {
          log.warn("task {}: {}", t.key, e.getMessage());
        }
      }
    }
    Outcome o = outcome(c, r, detail, agent != null);
    if (o == Outcome.COMPLETED && preset != null && preset.isError()) { // exit 0, yet the run says it failed (pi does so)
      o = Outcome.AGENT_ERROR;
      detail = preset.facts().error();
    }
    if (o == Outcome.BUDGET) {
      detail = c.stopDetail();
    } else if ((o == Outcome.COMPLETED || o.isStrike()) && preset != null && cfg.budget().flagged(preset.facts())) {
      o = Outcome.BUDGET; // the CLI stopped at the limit its flags gave it
      detail = cfg.budget().stoppedAt(spent, preset.facts());
    }
    if (o.isStrike() && o != Outcome.INTERNAL_ERROR && preset != null && preset.limit() != null) o = Outcome.LIMITED;
    Questions.Asked question = null;
    if (ask != null && (o == Outcome.COMPLETED || o == Outcome.EXITED)) {
      try {
        question = ask.found(t.key, grant == null ? null : grant.question());
      } catch (RuntimeException x) {
        log.warn("task {}: its questions cannot be read: {}", t.key, x.getMessage());
      }
      if (question != null) o = Outcome.QUESTION; // the agent ended to wait for an answer: no strike
    }
    work.events().finished(t.key, o.wire(), clock.now());
    ObjectNode fin = M.createObjectNode().put("attempt", n).put("outcome", o.wire()).put("strike", o.isStrike()).put("pgid", pgid);
    if (r != null) fin.put("exit_code", r.exitCode()).put("duration_ms", r.durationMs());
    if (preset != null) fin.setAll(preset.facts().outputs()); // session, cost and tokens, for the dashboard's task page
    if (o != Outcome.COMPLETED) ledger.append("attempt_finished", fin, clock.now()); // a completion is recorded once its outputs are made
    if (r != null) metrics.agentFinished(Duration.ofMillis(r.durationMs()));
    if (preset != null) { // spent whatever the outcome
      dev.atsdispatch.exec.PresetReader.Facts f = preset.facts();
      metrics.agentUsage(preset.preset().name(), f.costUsd(), f.inputTokens(), f.outputTokens(), f.cacheReadTokens(),
          f.cacheWriteTokens());
      spent(preset.preset().name(), f.costUsd());
    }
    log.info("task {} attempt {}: {}{}", t.key, n, o.wire(), r == null ? "" : " in " + r.durationMs() + " ms");
    if (!o.isStrike() && o != Outcome.COMPLETED && source.capabilities().threads()) {
      later(() -> note(t.key, null, n, false));
    }
    return new Attempt(o, r, detail, grant == null ? null : grant.outputs(), preset, question);
  }

  /** Adds an attempt's cost to its backend's spend today, when a daily cap is set; says when the cap is reached. */
  private void spent(String backend, Double cost) {
    Double cap = cfg.budget().dailyCostUsd();
    if (cap == null || cost == null || cost <= 0) return;
    DailySpend s = spend;
    double today = s.add(backend, cost);
    if (today >= cap && today - cost < cap) {
      Pause p = s.pause(backend, cap);
      if (p != null) log.warn("{}: claiming paused until {} (running tasks may finish)", p.reason(), p.until());
    }
  }

  /** Posts the attempt record on the task's thread (what other services count strikes by), if it has one. */
  private boolean attemptNote(TaskKey key, int n) {
    if (source.capabilities().threads()) {
      String text = !cfg.progressMessages() ? null
          : (n == 1 ? "Agent processing started" : "Agent retry started") + " (attempt " + n + ")";
      later(() -> note(key, text, n, true));
    }
    return true;
  }

  private static long micros(Instant i) {
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
  }

  private static Outcome outcome(Claim c, AgentResult r, String detail, boolean started) {
    Claim.Stop s = c.stopped();
    if (s == Claim.Stop.CANCELLED) return Outcome.CANCELLED;
    if (s == Claim.Stop.BUDGET && started) return Outcome.BUDGET;
    if (s == Claim.Stop.LEASE_LOST) return Outcome.LEASE_LOST;
    if (s != null && (r == null || !r.succeeded())) return Outcome.INTERRUPTED;
    if (r == null) return started ? Outcome.INTERNAL_ERROR : detail == null ? Outcome.INTERNAL_ERROR
        : detail.contains("Exception") ? Outcome.INTERNAL_ERROR : Outcome.START_FAILED;
    return switch (r.outcome()) {
      case EXITED -> r.succeeded() ? Outcome.COMPLETED : Outcome.EXITED;
      case TIMED_OUT -> Outcome.TIMED_OUT;
      case NO_OUTPUT -> Outcome.NO_OUTPUT;
      case STOPPED -> Outcome.INTERRUPTED;
    };
  }

  private End completed(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, TaskView view, Attempt a, int n) {
    TaskLedger ledger = state.ledger(t.key);
    ObjectNode out;
    try {
      out = work.outputs(view, a.result, n, a.outputs, a.preset);
    } catch (RuntimeException x) {
      log.error("task {}: cannot make the outputs of attempt {}", t.key, n, Scrubbed.of(x));
      ledger.append("attempt_finished", M.createObjectNode().put("attempt", n).put("outcome", Outcome.INTERNAL_ERROR.wire())
          .put("strike", true), clock.now());
      return report(t, c, lease, keeper, n, null, TaskObserver.Failure.AGENT,
          work.reason(Outcome.INTERNAL_ERROR, a.result, "the result could not be prepared (" + x.getClass().getSimpleName() + ")", true));
    }
    keeper.close(cfg.grace().plusSeconds(5));
    if (c.stopped() == Claim.Stop.LEASE_LOST || c.stopped() == Claim.Stop.CANCELLED) {
      ledger.append("attempt_finished", M.createObjectNode().put("attempt", n).put("outcome", "completed_too_late")
          .put("strike", false), clock.now());
      log.warn("task {}: finished, but {}; nothing reported", t.key, c.stopDetail());
      return End.FORGET;
    }
    ObjectNode fin = M.createObjectNode().put("attempt", n).put("outcome", Outcome.COMPLETED.wire())
        .put("strike", false).put("exit_code", a.result.exitCode()).put("duration_ms", a.result.durationMs());
    if (a.preset != null) fin.setAll(a.preset.facts().outputs()); // session, cost and tokens, for the dashboard's task page
    ledger.append("attempt_finished", fin, clock.now());
    reporter.submit(t.key, n, out, null, lease); // recorded first: the ledger never lags behind what ATS was told
    stats.completed.incrementAndGet();
    metrics.taskFinished("completed");
    String said = a.preset != null && a.preset.response() != null ? a.preset.response() : a.result.response();
    observer.completed(view, n, view.encrypted() ? out.get("encrypted_response").toString()
        : a.outputs != null ? a.outputs.toString() : said);
    return End.DONE;
  }

  /** Reports a failure after the lease keeper has stopped; a fence that came first wins. */
  private End report(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, int attempt, ObjectNode outputs,
      TaskObserver.Failure why, String reason) {
    return report(t, c, lease, keeper, attempt, outputs, why, reason, null);
  }

  /** As above; {@code threadNote}, when not null, goes on the task's thread before the failure. */
  private End report(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, int attempt, ObjectNode outputs,
      TaskObserver.Failure why, String reason, ObjectNode threadNote) {
    keeper.close(cfg.grace().plusSeconds(5));
    Claim.Stop s = c.stopped();
    if (s == Claim.Stop.LEASE_LOST || s == Claim.Stop.FINISHED_ELSEWHERE || s == Claim.Stop.CANCELLED) {
      log.warn("task {}: would fail ({}), but {}; nothing reported", t.key, reason, c.stopDetail());
      return End.FORGET;
    }
    reporter.submit(t.key, attempt, outputs, reason, lease, threadNote);
    stats.failed.incrementAndGet();
    metrics.taskFinished(why.metric());
    observer.failed(t.view, attempt, why, reason);
    return End.DONE;
  }

  /** Something threw outside an attempt's own guard: fail the task with a strike, or give it back. */
  private End internalFailure(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, Throwable x) {
    String detail = Scrubbed.name(x); // its message may quote the task
    try {
      TaskLedger ledger = state.ledger(t.key);
      ledger.append("attempt_finished", M.createObjectNode().put("outcome", Outcome.INTERNAL_ERROR.wire())
          .put("strike", true).put("error", x.getClass().getSimpleName()), clock.now());
      int attempt = ledger.summary().attempts();
      return report(t, c, lease, keeper, attempt, null, TaskObserver.Failure.AGENT,
          t.view != null && t.view.encrypted() ? "Internal error in ats-dispatch (" + x.getClass().getSimpleName() + ")"
              : "Internal error in ats-dispatch: " + detail);
    } catch (RuntimeException again) {
      // the state directory itself fails: report straight to the source, or give the task back
      log.error("task {}: cannot record or queue the failure; reporting it directly", t.key, Scrubbed.of(again));
      keeper.close(Duration.ofSeconds(5));
      try {
        lease.fail(Reasons.clean("Internal error in ats-dispatch: " + x.getClass().getSimpleName()));
        return End.DONE;
      } catch (RuntimeException third) {
        try {
          lease.release(Duration.ZERO);
        } catch (RuntimeException ignored) {
          // its lease runs out and the task is offered again
        }
        return End.FORGET;
      }
    }
  }

  /** Shutdown stopped the task (or someone finished it): give it back at once, no strike. */
  /**
   * The backend refused for a usage or rate limit: no strike; claiming pauses until the reset
   * time (or a back-off when none was said) and the task goes back to its queue at once, for this
   * service or another to take when the limit allows.
   */
  private End limited(Tracked t, Lease lease, dev.atsdispatch.exec.PresetReader.Limit limit) {
    Instant now = clock.now();
    Instant until = limit.reset() != null && limit.reset().isAfter(now) ? limit.reset() : now.plus(cfg.limitBackoff());
    log.warn("task {}: the agent's backend is at a usage limit ({}); claiming paused until {}", t.key, limit.detail(), until);
    pause.accept(until);
    metrics.taskFinished("limited");
    try {
      lease.release(Duration.ZERO);
      state.ledger(t.key).append("released", M.createObjectNode().put("why", "usage limit").put("until", until.toString()), now);
    } catch (SourceException x) {
      log.warn("task {}: not given back ({}); it is offered again when its lease expires", t.key, x.getMessage());
    }
    return End.FORGET;
  }

  private End interrupted(Tracked t, Claim c, Lease lease) {
    stats.interrupted.incrementAndGet();
    metrics.taskFinished("interrupted");
    Claim.Stop s = c.stopped();
    if (s != Claim.Stop.SHUTDOWN && s != Claim.Stop.GIVE_BACK) return End.FORGET;
    String why = s == Claim.Stop.SHUTDOWN ? "shutdown" : "operator";
    try {
      lease.release(Duration.ZERO);
      state.ledger(t.key).append("released", M.createObjectNode().put("why", why), clock.now());
      log.info("task {}: given back to the queue ({})", t.key, c.stopDetail());
    } catch (SourceException x) {
      log.warn("task {}: not given back ({}); it is offered again when its lease expires", t.key, x.getMessage());
    }
    return End.FORGET;
  }

  /** Runs a note on the source-call pool; dropped (it is only a note) when the pool is shut down. */
  private void later(Runnable r) {
    try {
      calls.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("note dropped: the engine is stopping");
    }
  }

  private void note(TaskKey key, String text, int attempt, boolean strike) {
    try {
      source.note(key, text, attempt, strike);
    } catch (RuntimeException x) {
      log.debug("task {}: note not posted: {}", key, x.getMessage());
    }
  }
}
