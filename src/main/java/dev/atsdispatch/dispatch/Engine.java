package dev.atsdispatch.dispatch;

import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.exec.OrphanGuard;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import dev.atsdispatch.log.Scrubbed;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatch engine (design.md §1): takes offers from a {@link TaskSource}, admits them
 * ({@link Admission}), holds them at the {@link DependencyGate}, queues them ({@link Scheduler}),
 * and runs each claimed task with an {@link AttemptRunner} whose results go out through the
 * {@link ResultReporter}. One loop thread owns the table of known tasks and every part above;
 * everything else hands work to it. Other threads: one runner per running task, a bounded pool
 * for source calls (renewals, deliveries, lookups, notes, quick claims), one reconcile thread,
 * and a timer pool that only schedules. Lifecycle: {@link #start()} once, {@link #shutdown()} once.
 */
public final class Engine {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  static final int PAGE = 100;

  private final ServiceConfig cfg;
  private final TaskSource source;
  private final StateDir state;
  private final Clock clock;
  private final DispatchMetrics metrics;
  private final Stats stats = new Stats();

  private final ExecutorService loop = Executors.newSingleThreadExecutor(named("dispatch-loop"));
  private final ExecutorService runners = Executors.newCachedThreadPool(named("dispatch-run"));
  private final ThreadPoolExecutor calls = new ThreadPoolExecutor(8, 8, 30, TimeUnit.SECONDS,
      new LinkedBlockingQueue<>(100_000), named("dispatch-call"));
  private final ExecutorService intakes = Executors.newSingleThreadExecutor(named("dispatch-intake"));
  private final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2, named("dispatch-timer"));

  private final ResultReporter reporter;
  private final Admission admission;
  private final DependencyGate gate;
  private final Scheduler scheduler;
  private final AttemptRunner attempts;
  private final QuickClaims quick;
  private final Asking asking;

  private final TaskTable tasks; // owned by the loop thread
  private volatile int runningGauge;
  private volatile int queuedGauge;
  private volatile int deferredGauge;
  private volatile boolean accepting;
  private int connections;
  /** Offers in admission that keep their whole task (see {@link Tracked#whole}); the loop's. */
  private int wholeOpening;
  private final Reconciler reconciler;
  private final AgentWork work;
  private final List<ScheduledFuture<?>> periodic = new ArrayList<>();
  private OrphanGuard guard;
  /** Completions and failures of the last hour, for the dashboard. */
  private final dev.atsdispatch.status.Recent recent;
  /** Tasks an operator gave back, and until when this service leaves them to others; the loop's. */
  private final Map<TaskKey, Instant> heldBack = new java.util.HashMap<>();
  /** How long a task an operator gave back is left to other workers before this service takes it again. */
  static final Duration GIVE_BACK_HOLD = Duration.ofMinutes(10);

  public Engine(ServiceConfig cfg, TaskSource source, AgentRunner runner, StateDir state, Clock clock,
      Map<String, String> serviceEnv, Intake intake, TaskObserver observer, DispatchMetrics metrics, String instance) {
    this.cfg = cfg;
    this.source = source;
    this.state = state;
    this.clock = clock;
    this.metrics = metrics;
    this.tasks = new TaskTable(clock);
    this.recent = new dev.atsdispatch.status.Recent(clock);
    observer = new RecentObserver(observer, recent);
    calls.allowCoreThreadTimeOut(true);
    this.reporter = new ResultReporter(state.outbox("results"), state, source, calls, clock);
    this.asking = new Asking(cfg, source, state, new Questions(state.root()), clock, observer, calls);
    this.admission = new Admission(state, intake, reporter, clock, cfg.maxAttempts(),
        source.capabilities().lookups() ? null : source.name(), asking);
    this.gate = new DependencyGate(source, calls, this::onLoop, clock, cfg.dependencyMax(), cfg.dependencyRecheck(),
        this::ready, this::blocked, this::recheckDeferred, k -> asking.questions().get(k) != null);
    this.scheduler = new Scheduler(cfg.concurrency(), cfg.slots());
    this.work = new AgentWork(cfg, state, serviceEnv, intake::logKey, source);
    this.attempts = new AttemptRunner(cfg, source, runner, state, clock, intake, observer, reporter, calls, timers,
        work, stats, metrics, instance, () -> accepting, runners, this::pauseUntil);
    work.useAsking(asking);
    attempts.useAsking(asking);
    this.reconciler = new Reconciler(source, PAGE, () -> accepting, batch -> onLoop(() -> {
      offer(batch, SourceEvent.Why.LISTED, clock.now());
    }), stats.reconciles::incrementAndGet);
    this.quick = new QuickClaims(source, cfg.lease(), state, intake, observer, reporter, stats, metrics);
    metrics.gauges(() -> runningGauge, () -> queuedGauge, () -> deferredGauge, reporter::depth);
    metrics.pausedGauge(() -> pausedUntil() != null ? 1 : 0);
    shareSpend(new DailySpend(state.root(), clock));
  }

  public Stats stats() {
    return stats;
  }

  public DispatchMetrics metrics() {
    return metrics;
  }

  /** Moves old state, kills leftovers, takes up the outbox, starts the timers and the source. */
  public void start() {
    state.migrateLegacy(source.name());
    LeftoverReaper.reap(state, clock);
    guard = OrphanGuard.start(state.runningDir());
    reporter.load();
    accepting = true;
    every(Duration.ofMillis(250), reporter::tick);
    every(cfg.reconcileEvery(), this::reconcileSoon);
    every(cfg.dependencyRecheck(), () -> onLoop(this::refreshDependencies));
    every(Duration.ofHours(1), this::sweep);
    every(Duration.ofSeconds(1), asking::tick); // answers from the command line, wake-ups, waits run out
    timers.schedule(() -> {
      try {
        sweep();
      } catch (RuntimeException e) {
        log.error("retention sweep failed", e);
      }
    }, 10, TimeUnit.SECONDS);
    source.start(this::onEvent);
  }

  private void every(Duration d, Runnable r) {
    periodic.add(timers.scheduleWithFixedDelay(() -> {
      try {
        r.run();
      } catch (RuntimeException e) {
        log.error("periodic engine task failed", e);
      }
    }, d.toMillis(), d.toMillis(), TimeUnit.MILLISECONDS));
  }

  // ---- the loop ------------------------------------------------------------------------------

  /** Called on the source's threads; hands the event to the loop. */
  public void onEvent(SourceEvent e) {
    java.time.Instant at = clock.now(); // when the offer reached the service: the start of its pickup
    onLoop(() -> handle(e, at));
  }

  /** Runs {@code r} on the loop, guarded: a failure is logged, never lost in the executor. */
  private void onLoop(Runnable r) {
    try {
      loop.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException | Error x) {
          log.error("engine loop task failed", Scrubbed.of(x));
        } finally {
          runningGauge = scheduler.running();
          queuedGauge = scheduler.queued();
          deferredGauge = gate.deferredCount();
        }
      });
    } catch (RejectedExecutionException x) {
      log.debug("engine stopped; dropped a loop task");
    }
  }

  private void handle(SourceEvent e, java.time.Instant at) {
    if (e instanceof SourceEvent.Offered o) {
      offer(List.of(o.task()), o.why(), at);
    } else if (e instanceof SourceEvent.Cancelled c) {
      cancel(c.key());
    } else if (e instanceof SourceEvent.StatusChanged s) {
      statusChanged(s.key(), s.status(), s.parked());
    } else if (e instanceof SourceEvent.Connected) {
      if (connections++ > 0) metrics.webSocketReconnected();
      reconcileSoon();
      asking.lookAll(); // an answer may have come while the service was away
    } else if (e instanceof SourceEvent.Said s) {
      asking.said(s.key());
    }
    pump();
  }

  /**
   * Offers (one event, or a listing page): each is dropped if the task is held here, the rest are
   * admitted together on the intake thread (ledger and intake I/O stay off the loop) while
   * placeholders dedupe further offers, and come back together, so a page is queued whole before
   * any of it starts and priority decides. A failure leaves a task unknown, so a later offer or
   * reconcile retries it.
   */
  private void offer(List<SourceTask> offered, SourceEvent.Why why, java.time.Instant at) {
    if (!accepting) return;
    List<Tracked> opening = new ArrayList<>(offered.size());
    int free = scheduler.free() - wholeOpening; // whole offers kept: at most one per free place
    for (SourceTask t : offered) {
      if (t.status() != null) gate.seen(t.key(), t.status());
      if (!heldBack.isEmpty() && heldBack(t.key())) continue;
      Tracked prior = tasks.get(t.key());
      if (prior != null && prior.state != Tracked.State.DONE) continue;
      Tracked o = new Tracked(t.lighten(), why);
      if (!t.light() && free > 0) {
        o.whole = t;
        free--;
        wholeOpening++;
      }
      o.offeredAt = at;
      o.state = Tracked.State.OPENING;
      tasks.track(o);
      opening.add(o);
    }
    if (opening.isEmpty()) return;
    try {
      intakes.execute(() -> {
        List<Admission.Decision> decided = new ArrayList<>(opening.size());
        for (Tracked o : opening) {
          try {
            decided.add(admission.admit(o.offer, why));
          } catch (RuntimeException x) {
            log.error("task {}: could not be admitted; it is offered again by the next reconcile", o.key, Scrubbed.of(x));
            decided.add(new Admission.Later(x.toString()));
          }
        }
        onLoop(() -> {
          List<Tracked> accepted = new ArrayList<>();
          for (int i = 0; i < opening.size(); i++) {
            Tracked a = opened(opening.get(i), decided.get(i));
            if (a != null) accepted.add(a);
          }
          pump();
          for (Tracked a : accepted) {
            if (a.state != Tracked.State.RUNNING) a.whole = null; // it waits: only its light offer is kept
          }
        });
      });
    } catch (RejectedExecutionException x) {
      opening.forEach(o -> {
        if (o.whole != null) wholeOpening--;
        tasks.forget(o);
      });
    }
  }

  /**
   * Back on the loop with admission's decision; nothing happens if the task was let go meanwhile.
   * Returns the task accepted to run, if it was.
   */
  private Tracked opened(Tracked opening, Admission.Decision d) {
    SourceTask whole = opening.whole;
    if (whole != null) wholeOpening--;
    if (!tasks.holds(opening)) return null; // cancelled or finished elsewhere meanwhile
    SourceTask offer = opening.offer; // read before the entry goes: done, it keeps nothing of the task
    java.time.Instant offeredAt = opening.offeredAt;
    if (d instanceof Admission.Later || !accepting) {
      tasks.forget(opening);
    } else {
      tasks.markDone(opening); // replaced below by what admission made of it, if anything
    }
    if (d instanceof Admission.Accept a) a.task().whole = whole;
    act(d, offer, offeredAt);
    return d instanceof Admission.Accept a ? a.task() : null;
  }

  private void act(Admission.Decision d, SourceTask t, java.time.Instant offeredAt) {
    if (d instanceof Admission.Later l) {
      log.error("task {}: cannot be opened now; left pending for the next reconcile: {}", t.key(), l.why());
    } else if (d instanceof Admission.Settle) {
      log.info("task {}: delivered again after its result was reported; acknowledged without a run", t.key());
      calls.execute(() -> {
        try {
          source.settle(t.key());
        } catch (SourceException x) {
          log.warn("task {}: cannot acknowledge the repeated delivery ({}); it comes back later", t.key(), x.getMessage());
        }
      });
    } else if (d instanceof Admission.Confirm) {
      calls.execute(() -> confirmReopened(t));
    } else if (d instanceof Admission.Accept a) {
      if (a.task().offeredAt == null) a.task().offeredAt = offeredAt;
      a.task().admittedAt = clock.now();
      accept(a.task());
    } else if (d instanceof Admission.Register r) {
      quickly(r.task(), () -> quick.register(r.task(), r.publicKey()));
    } else if (d instanceof Admission.Refuse r) {
      log.info("task {}: refused: {}", t.key(), r.reason());
      quickly(r.task(), () -> quick.fail(r.task(), r.why(), r.reason()));
    } else if (d instanceof Admission.Park p) {
      quickly(p.task(), () -> asking.repark(p.task(), p.question()));
    } else if (d instanceof Admission.Poison p) {
      quickly(p.task(), () -> quick.fail(p.task(), TaskObserver.Failure.POISON, "poison: " + p.strikes() + " attempts"));
    }
  }

  /** A fresh read: pending after this service's report was acknowledged means reopened. */
  private void confirmReopened(SourceTask t) {
    try {
      if (source.status(t.key()) != TaskStatus.PENDING) return;
    } catch (SourceException x) {
      log.debug("task {}: cannot re-read: {}", t.key(), x.getMessage());
      return;
    }
    Admission.Decision d = admission.reopened(t);
    onLoop(() -> {
      Tracked k = tasks.get(t.key());
      if (!accepting || (k != null && k.state != Tracked.State.DONE)) return;
      act(d, t, clock.now());
      pump();
    });
  }

  /** Claims and finishes a task without an agent (counted as running here until then). */
  private void quickly(Tracked t, java.util.function.BooleanSupplier job) {
    tasks.track(t);
    t.state = Tracked.State.RUNNING;
    t.claim = new Claim(cfg.grace());
    quick.run(t, job, calls, claimed -> onLoop(() -> {
      if (!tasks.holds(t)) return;
      if (claimed) tasks.markDone(t);
      else tasks.forget(t); // not claimed: a later offer brings it back
    }));
  }

  private void accept(Tracked t) {
    tasks.track(t);
    t.slots = scheduler.slotsFor(t.view);
    if (t.deps.isEmpty()) {
      scheduler.add(t);
    } else {
      t.whole = null; // it waits for its dependencies: only its light offer is kept
      gate.admit(t);
    }
  }

  private void ready(Tracked t) {
    scheduler.add(t);
  }

  private void blocked(Tracked t, String reason) {
    stats.blocked.incrementAndGet();
    log.info("task {}: {}", t.key, reason);
    quickly(t, () -> quick.fail(t, TaskObserver.Failure.BLOCKED, reason));
  }

  private void recheckDeferred() {
    gate.recheck(gate.deferredTasks());
    pump();
  }

  private void refreshDependencies() {
    if (!accepting) return;
    gate.periodic(cfg.dependencyTimeout());
    pump();
  }

  private void cancel(TaskKey key) {
    letGo(key, Claim.Stop.CANCELLED, "task cancelled");
  }

  /** A status seen from outside: dependencies learn it; a task held here and finished elsewhere is let go. */
  private void statusChanged(TaskKey key, TaskStatus s, boolean parked) {
    gate.seen(key, s, parked);
    if (s.isTerminal()) letGo(key, Claim.Stop.FINISHED_ELSEWHERE, "the task was " + s.wire() + " elsewhere");
  }

  /** Drops a task held here that is no longer to be run; a running one has its agent stopped. */
  private void letGo(TaskKey key, Claim.Stop why, String detail) {
    Tracked t = tasks.get(key);
    if (t == null) return;
    switch (t.state) {
      case OPENING -> tasks.forget(t);
      case QUEUED -> {
        scheduler.remove(t);
        tasks.forget(t);
      }
      case DEFERRED -> {
        gate.remove(t);
        tasks.forget(t);
      }
      case RUNNING -> {
        log.info("task {}: {}; stopping its agent", key, detail);
        t.claim.stop(why, detail);
      }
      case DONE -> { }
    }
  }

  /** True while an operator's give-back keeps this service off the task (the loop thread). */
  private boolean heldBack(TaskKey key) {
    Instant until = heldBack.get(key);
    if (until == null) return false;
    if (until.isAfter(clock.now())) return true;
    heldBack.remove(key);
    return false;
  }

  // ---- the operator's actions and views (the dashboard) ---------------------------------------

  /**
   * An operator stops a running task's agent: {@code giveBack} releases the task without a strike
   * and leaves it to other workers for {@link #GIVE_BACK_HOLD}; otherwise the task fails, with no
   * strike, as cancelled by an operator. Completes with false when the task does not run here.
   */
  public java.util.concurrent.CompletableFuture<Boolean> operatorStop(TaskKey key, boolean giveBack) {
    java.util.concurrent.CompletableFuture<Boolean> done = new java.util.concurrent.CompletableFuture<>();
    onLoop(() -> {
      Tracked t = tasks.get(key);
      if (t == null || t.state != Tracked.State.RUNNING || t.claim == null) {
        done.complete(false);
        return;
      }
      if (giveBack) {
        heldBack.entrySet().removeIf(e -> !e.getValue().isAfter(clock.now()));
        heldBack.put(key, clock.now().plus(GIVE_BACK_HOLD));
        log.info("task {}: given back by an operator", key);
        t.claim.stop(Claim.Stop.GIVE_BACK, "given back by an operator");
      } else {
        log.info("task {}: cancelled by an operator", key);
        t.claim.stop(Claim.Stop.OPERATOR_CANCEL, "cancelled by an operator");
      }
      done.complete(true);
    });
    return done;
  }

  /** An operator reopens a finished task at its source (throws SourceException where it cannot). */
  public void reopen(TaskKey key, String reason) {
    source.reopen(key, reason);
    reconcileSoon();
  }

  /** The name of the engine's source (the first part of its task keys). */
  public String sourceName() {
    return source.name();
  }

  public boolean canReopen() {
    return source.canReopen();
  }

  /** One task as the loop holds it now: its state, title (not an encrypted one's) and dependencies; null if not held. */
  public java.util.concurrent.CompletableFuture<com.fasterxml.jackson.databind.node.ObjectNode> heldNow(TaskKey key) {
    java.util.concurrent.CompletableFuture<com.fasterxml.jackson.databind.node.ObjectNode> done = new java.util.concurrent.CompletableFuture<>();
    onLoop(() -> {
      Tracked t = tasks.get(key);
      done.complete(t == null || t.state == Tracked.State.DONE ? null : held(t));
    });
    return done;
  }

  /** The deferred tasks, each with its dependencies and what is known of their statuses (the loop's view). */
  public java.util.concurrent.CompletableFuture<List<com.fasterxml.jackson.databind.node.ObjectNode>> deferredTasksNow() {
    java.util.concurrent.CompletableFuture<List<com.fasterxml.jackson.databind.node.ObjectNode>> done = new java.util.concurrent.CompletableFuture<>();
    onLoop(() -> {
      List<com.fasterxml.jackson.databind.node.ObjectNode> out = new ArrayList<>();
      for (Tracked t : gate.deferredTasks()) out.add(held(t));
      done.complete(out);
    });
    return done;
  }

  private com.fasterxml.jackson.databind.node.ObjectNode held(Tracked t) {
    var o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    o.put("task", t.key.toString()).put("id", t.key.id()).put("source", t.key.source())
        .put("state", t.state.name().toLowerCase(java.util.Locale.ROOT)).put("priority", t.priority());
    if (t.view != null) {
      o.put("encrypted", t.view.encrypted());
      if (!t.view.encrypted() && t.view.title() != null) o.put("title", t.view.title());
    }
    var deps = o.putArray("depends_on");
    for (TaskKey d : t.deps.ids()) {
      TaskStatus s = gate.statusOf(d);
      var dep = deps.addObject().put("task", d.toString()).put("id", d.id()).put("status", s == null ? "unknown" : s.wire());
      if (gate.waitsForAnswer(d)) dep.put("waiting_for_answer", true); // failed only until its question is answered
    }
    if (t.state == Tracked.State.DEFERRED) {
      o.put("waiting_ms", Math.max(0, (clock.nanoTime() - t.deferredAt) / 1_000_000));
    }
    return o;
  }

  /** Completions and failures of the last hour (the dashboard's chart and failure list). */
  public dev.atsdispatch.status.Recent recent() {
    return recent;
  }

  /** The state directory this engine writes (task ledgers and attempt logs). */
  public StateDir stateDir() {
    return state;
  }

  /** Names the engine's route (shown with its running agents); call before {@link #start}. */
  public void route(String name) {
    work.useRoute(name);
  }

  /** Claiming paused until then (a usage limit of the agent's backend); null: not paused. Read from any thread. */
  private volatile Instant limitedUntil;
  private volatile boolean resumeScheduled;
  /** The backend's spend today, for the daily cap (shared by the routes); set before {@link #start}. */
  private volatile DailySpend spend;

  /** Pauses claiming until {@code until} for a usage limit (any thread); a later pause extends it. */
  void pauseUntil(Instant until) {
    Instant p = limitedUntil;
    if (p == null || until.isAfter(p)) limitedUntil = until;
  }

  /** When claiming resumes, or null when it is not paused. */
  public Instant pausedUntil() {
    Pause p = pause();
    return p == null ? null : p.until();
  }

  /**
   * Why and until when claiming is paused, or null when it is not: a usage limit of the agent's
   * backend, or its daily spend cap (until the next UTC midnight), whichever ends later.
   */
  public Pause pause() {
    Instant now = clock.now();
    Instant l = limitedUntil;
    Pause limited = l != null && l.isAfter(now) ? new Pause(l, "the agent's backend is at a usage limit") : null;
    Double cap = cfg.budget().dailyCostUsd();
    Pause capped = cap == null ? null : spend.pause(cfg.preset(), cap);
    return Pause.later(limited, capped);
  }

  /** The backend's spend per UTC day is counted in {@code s} (shared by several routes' engines); call before {@link #start}. */
  public void shareSpend(DailySpend s) {
    spend = s;
    attempts.useSpend(s);
  }

  private void pump() {
    if (!accepting) return;
    Instant paused = pausedUntil();
    if (paused != null) {
      if (!resumeScheduled) { // one wake-up at the end of the pause
        resumeScheduled = true;
        long ms = Math.max(1, Duration.between(clock.now(), paused).toMillis());
        timers.schedule(() -> onLoop(() -> {
          resumeScheduled = false;
          // what was given back during the pause is pending again; a source's events may not say so
          reconcileSoon();
          pump();
        }), ms, java.util.concurrent.TimeUnit.MILLISECONDS);
      }
      return;
    }
    for (Tracked t : scheduler.takeReady()) {
      t.claim = new Claim(cfg.grace());
      try {
        runners.execute(() -> {
          AttemptRunner.End end = AttemptRunner.End.FORGET;
          try {
            end = attempts.run(t, t.claim);
          } catch (RuntimeException | Error x) {
            log.error("task {}: the runner failed", t.key, Scrubbed.of(x));
          } finally {
            AttemptRunner.End e = end;
            onLoop(() -> finished(t, e));
          }
        });
      } catch (RejectedExecutionException x) {
        finished(t, AttemptRunner.End.FORGET);
      }
    }
  }

  private void finished(Tracked t, AttemptRunner.End end) {
    scheduler.finished(t);
    if (end == AttemptRunner.End.DONE) tasks.markDone(t);
    else tasks.forget(t);
    pump();
  }

  /** The retention sweep (on a timer; package-private for tests): returns the task directories removed. */
  int sweep() {
    return Retention.sweep(state, cfg.stateRetention(), clock.now(), tasks.active());
  }

  /** What the running agents do (started, output lines, renewals, finished), for the operator API. */
  public dev.atsdispatch.status.AgentEvents agentEvents() {
    return work.events();
  }

  /**
   * Makes this engine one route of several: places and slots come from {@code capacity}, shared
   * with the other routes, in order of {@code priority} (lower first), then {@code order}. Call
   * before {@link #start}.
   */
  public void shareCapacity(Capacity capacity, int priority, int order) {
    scheduler.share(capacity.join(priority, order, () -> onLoop(this::pump)));
  }

  /** The agents' events go to {@code events} (shared by several routes' engines); call before {@link #start}. */
  public void shareAgentEvents(dev.atsdispatch.status.AgentEvents events) {
    work.useEvents(events);
  }

  /** Gives every attempt from now on a token for the agent API (call before {@link #start}). */
  public void useAgentApi(dev.atsdispatch.api.AgentApi api) {
    work.useApi(api);
  }

  /** Starts a reconcile (on the reconciler's thread); requests during one make it run once more. */
  public void reconcileSoon() {
    if (accepting && source.capabilities().list()) reconciler.request();
  }

  // ---- shutdown ------------------------------------------------------------------------------

  /**
   * Stops taking work at once; lets running agents finish for up to the drain limit while their
   * leases are still renewed; then stops the rest (TERM, grace, KILL), which give their tasks
   * back. Interrupted attempts get no strike. Returns when every agent is gone.
   */
  public void shutdown() {
    accepting = false;
    try {
      source.stopOffers();
    } catch (RuntimeException x) {
      log.warn("the source did not stop its offers: {}", x.toString());
    }
    periodic.forEach(f -> f.cancel(false));
    onLoop(() -> { // a task waiting to retry is given back now: no new attempt starts in the drain
      for (Tracked t : tasks.all()) {
        if (t.state == Tracked.State.RUNNING && t.claim.sleeping()) t.claim.stop(Claim.Stop.SHUTDOWN, "service shutting down");
      }
    });
    long drainEnd = clock.nanoTime() + cfg.drain().toNanos();
    while (runningNow() > 0 && clock.nanoTime() - drainEnd < 0) sleep(20);
    onLoop(() -> {
      int n = 0;
      for (Tracked t : tasks.all()) {
        if (t.state == Tracked.State.RUNNING) {
          t.claim.stop(Claim.Stop.SHUTDOWN, "service shutting down");
          n++;
        }
      }
      if (n > 0) log.info("stopping {} running agent(s)", n);
    });
    long stopEnd = clock.nanoTime() + cfg.grace().plusSeconds(10).toNanos();
    while (runningNow() > 0 && clock.nanoTime() - stopEnd < 0) sleep(20);
    reporter.flush(Duration.ofSeconds(5));
    if (guard != null) guard.close();
    timers.shutdownNow();
    reconciler.close();
    intakes.shutdownNow();
    loop.shutdown();
    calls.shutdown();
    runners.shutdown();
    try {
      calls.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
    }
  }

  /** Running tasks, as the loop last saw them (never waits for the loop). */
  /** For the operator's {@code /status}: capacity, and how many tasks run, wait for a place, wait on others. */
  public com.fasterxml.jackson.databind.node.ObjectNode statusNow() {
    com.fasterxml.jackson.databind.node.ObjectNode o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    o.put("source", source.describe());
    o.put("capacity", cfg.concurrency());
    o.put("running", runningNow());
    o.put("waiting", queuedNow());
    o.put("deferred", deferredNow());
    o.put("accepting", accepting);
    o.put("reconciles", stats.reconciles.get());
    o.put("awaiting_answer", asking.awaiting());
    Pause p = pause();
    if (p != null) o.put("paused_until", p.until().toString()).put("paused_for", p.reason());
    return o;
  }

  public int runningNow() {
    return runningGauge;
  }

  public int deferredNow() {
    return deferredGauge;
  }

  public int queuedNow() {
    return queuedGauge;
  }

  public int outboxDepth() {
    return reporter.depth();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
    }
  }

  private static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
