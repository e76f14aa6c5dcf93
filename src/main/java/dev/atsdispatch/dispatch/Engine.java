package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsEvent;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.ats.Backoff;
import dev.atsdispatch.ats.EventTypes;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.ats.TaskPage;
import dev.atsdispatch.ats.TaskQuery;
import dev.atsdispatch.ats.TaskStatus;
import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.exec.AgentSpec;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.exec.RunningAgent;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The dispatch engine (design.md §1): takes tasks from events and reconcile listings, dedupes
 * them, orders them by priority, claims them with a lease, runs the agent, keeps the lease alive,
 * and reports through a durable outbox. One loop thread owns the queue and the table of known
 * tasks; ATS calls and agent waits run on worker threads; timers run lease renewals, reconcile and
 * outbox retries. Lifecycle: {@link #start()}, then events and {@link #reconcile()} calls, then
 * {@link #shutdown()} (drain, then TERM/grace/KILL), once.
 */
public final class Engine {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  private static final ObjectMapper M = new ObjectMapper();
  private static final int PAGE = 500;
  private static final Duration FORGET_AFTER = Duration.ofMinutes(10);

  private enum State { DEFERRED, QUEUED, RUNNING, DONE }

  /** One task this process knows about; fields touched off the loop are volatile. */
  private static final class Entry {
    final long id;
    volatile Task task;
    /** What the agent sees and delivery settings come from (decrypted for encrypted tasks). */
    volatile TaskView view;
    State state = State.QUEUED;
    long doneAt;
    long deferredAt;
    Dependencies.Parsed deps;
    Set<String> slots = Set.of();
    volatile RunningAgent agent;
    volatile boolean cancelled;
    volatile String fenced;
    volatile boolean interrupted;
    volatile boolean released;
    final CountDownLatch wake = new CountDownLatch(1);

    Entry(Task t) {
      this.id = t.id();
      this.task = t;
    }
  }

  /** Counters for tests, status and metrics. */
  public static final class Stats {
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

  private final ServiceConfig cfg;
  private final AtsClient ats;
  private final AgentRunner runner;
  private final StateDir state;
  private final Clock clock;
  private final Map<String, String> serviceEnv;
  private final Outbox results;
  private final Stats stats = new Stats();
  private final DispatchMetrics metrics = DispatchMetrics.create();
  private final Intake intake;
  private final TaskObserver observer;

  private final ExecutorService loop = Executors.newSingleThreadExecutor(named("dispatch-loop"));
  private final ExecutorService workers = Executors.newCachedThreadPool(named("dispatch-worker"));
  private final ScheduledExecutorService timers =
      Executors.newScheduledThreadPool(2, named("dispatch-timer"));

  // owned by the loop thread
  private final Map<Long, Entry> known = new HashMap<>();
  private final TreeSet<Entry> queue = new TreeSet<>(Comparator
      .comparingInt((Entry e) -> -e.task.priority())
      .thenComparing(e -> e.task.createdAt() == null ? java.time.Instant.EPOCH : e.task.createdAt())
      .thenComparingLong(e -> e.id));
  private final Map<String, Integer> slotsInUse = new HashMap<>();
  private int running;
  private final Dependencies deps = new Dependencies();
  private final Map<Long, Entry> deferred = new LinkedHashMap<>();
  private final Set<Long> lookingUp = new HashSet<>();
  private final ExecutorService lookups = Executors.newFixedThreadPool(4, named("dispatch-lookup"));

  private final Set<String> delivering = ConcurrentHashMap.newKeySet();
  private final Backoff deliveryBackoff = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60));
  private volatile long nextDeliveryNanos;
  private volatile boolean accepting;
  /** 0 idle, 1 running, 2 running and asked again: a request during a run is not lost. */
  private final AtomicInteger reconcileState = new AtomicInteger();
  private final List<ScheduledFuture<?>> periodic = new ArrayList<>();

  public Engine(ServiceConfig cfg, AtsClient ats, AgentRunner runner, StateDir state, Clock clock,
      Map<String, String> serviceEnv) {
    this(cfg, ats, runner, state, clock, serviceEnv, Intake.PLAIN, TaskObserver.NONE);
  }

  public Engine(ServiceConfig cfg, AtsClient ats, AgentRunner runner, StateDir state, Clock clock,
      Map<String, String> serviceEnv, Intake intake, TaskObserver observer) {
    this.intake = intake;
    this.observer = observer;
    this.cfg = cfg;
    this.ats = ats;
    this.runner = runner;
    this.state = state;
    this.clock = clock;
    this.serviceEnv = Map.copyOf(serviceEnv);
    this.results = state.outbox("results");
    metrics.gauges(this::runningNow, this::queuedNow, this::deferredNow, this::outboxDepth);
  }

  public Stats stats() {
    return stats;
  }

  /** The Prometheus metrics of this engine (served by the status port). */
  public DispatchMetrics metrics() {
    return metrics;
  }

  /** Kills agents a crashed earlier incarnation left behind, then starts the periodic work. */
  public void start() {
    recoverLeftovers();
    accepting = true;
    periodic.add(timers.scheduleWithFixedDelay(() -> workers.execute(this::reconcile),
        cfg.reconcileEvery().toMillis(), cfg.reconcileEvery().toMillis(), TimeUnit.MILLISECONDS));
    periodic.add(timers.scheduleWithFixedDelay(() -> workers.execute(this::deliverPending),
        0, 500, TimeUnit.MILLISECONDS));
    periodic.add(timers.scheduleWithFixedDelay(() -> loop.execute(this::forgetFinished), 1, 1,
        TimeUnit.MINUTES));
    long recheck = cfg.dependencyRecheck().toMillis();
    periodic.add(timers.scheduleWithFixedDelay(() -> loop.execute(this::refreshDependencies),
        recheck, recheck, TimeUnit.MILLISECONDS));
  }

  private void recoverLeftovers() {
    for (long id : state.knownTasks()) {
      TaskLedger ledger = state.ledger(id);
      for (long[] g : ledger.summary().agentGroups()) {
        boolean killed = ProcessAgentRunner.killLeftover(g[0], g[1]);
        ObjectNode f = M.createObjectNode().put("pgid", g[0]).put("outcome", "crashed")
            .put("strike", true).put("leftover_killed", killed);
        ledger.append("attempt_finished", f, clock.now());
        log.warn("task {}: an attempt was cut short by a crash of the service{}", id,
            killed ? "; killed its leftover process group " + g[0] : "");
      }
    }
  }

  // ---- intake ------------------------------------------------------------------------------

  /** Called on the WebSocket thread; hands the event to the loop. */
  public void onEvent(AtsEvent e) {
    loop.execute(() -> handle(e));
  }

  private void handle(AtsEvent e) {
    Task t = e.task();
    if (t.status() != null) deps.status(t.id(), t.status());
    switch (e.type()) {
      case EventTypes.CREATED, EventTypes.REOPENED, EventTypes.LEASE_EXPIRED -> offer(t, e.type());
      case EventTypes.CANCELLED -> cancel(t.id());
      case EventTypes.COMPLETED, EventTypes.FAILED -> finishedElsewhere(t.id());
      default -> {
      }
    }
    if (waitedOn(t.id())) recheckDeferred();
  }

  /**
   * Whether a deferred task depends on this one directly: only then can its status change a
   * verdict (new edges, which can close a cycle, come from offers and lookups, which re-check).
   */
  private boolean waitedOn(long id) {
    for (Entry e : deferred.values()) {
      if (e.deps.ids().contains(id)) return true;
    }
    return false;
  }

  /** Starts a reconcile on a worker thread (for callers that must not block). */
  public void reconcileSoon() {
    if (accepting) workers.execute(this::reconcile);
  }

  /** Lists every pending task of the channel, page by page, and offers those not known. */
  public void reconcile() {
    if (!accepting) return;
    if (reconcileState.getAndUpdate(v -> Math.min(v + 1, 2)) != 0) return; // the running one repeats
    do {
      listPending();
    } while (accepting && reconcileState.getAndUpdate(v -> v - 1) == 2);
  }

  private void listPending() {
    try {
      int offset = 0;
      int seen = 0;
      while (true) {
        TaskPage page = ats.list(TaskQuery.pending(cfg.channel()).page(PAGE, offset));
        List<Task> batch = page.tasks();
        loop.execute(() -> {
          for (Task t : batch) offer(t, "reconcile", false);
          pump(); // a whole page is queued before any starts, so priority decides
        });
        seen += page.tasks().size();
        offset += PAGE;
        if (page.tasks().size() < PAGE || offset >= page.count()) break;
      }
      stats.reconciles.incrementAndGet();
      atsAnswered();
      log.debug("reconcile listed {} pending tasks", seen);
    } catch (AtsException e) {
      log.warn("reconcile failed: {}", e.getMessage());
    } catch (RuntimeException e) {
      log.error("reconcile failed", e);
    }
  }

  private void offer(Task t, String source) {
    offer(t, source, true);
  }

  private void offer(Task t, String source, boolean pumpNow) {
    if (!accepting || t.status() != TaskStatus.PENDING || !cfg.channel().equals(t.channel())) return;
    Entry known = this.known.get(t.id());
    if (known != null && known.state != State.DONE) return; // queued or running here
    TaskLedger ledger = state.ledger(t.id());
    TaskLedger.Summary sum = ledger.summary();
    if (sum.resultPending()) return; // our result is in the outbox; it will be delivered
    if (known != null || sum.reported()) {
      if (!source.equals(EventTypes.REOPENED)) {
        workers.execute(() -> confirmReopened(t.id()));
        return;
      }
      ledger.append("reset", M.createObjectNode().put("why", "reopened"), clock.now());
      this.known.remove(t.id());
      sum = ledger.summary();
    }
    Entry e = new Entry(t);
    this.known.put(t.id(), e);
    Intake.Opened opened;
    try {
      opened = intake.open(t);
    } catch (RuntimeException x) {
      // e.g. a key file that is being edited and does not parse: not the task's fault, so it is
      // left pending (unclaimed) and the next reconcile offers it again
      log.error("task {}: cannot be opened now; left pending for the next reconcile: {}", t.id(), x.getMessage());
      this.known.remove(t.id());
      return;
    }
    if (opened instanceof Intake.Register r) {
      markDone(e);
      e.view = new TaskView(t.id(), null, null, M.createObjectNode(), null, null);
      workers.execute(() -> register(e, r.publicKey()));
      return;
    }
    if (opened instanceof Intake.Reject r) {
      markDone(e);
      e.view = new TaskView(t.id(), null, null, M.createObjectNode(), null, null); // nothing untrusted
      log.info("task {}: refused: {}", t.id(), r.reason());
      workers.execute(() -> claimAndFail(e, r.why(), r.reason()));
      return;
    }
    e.view = ((Intake.Run) opened).view();
    e.deps = Dependencies.parse(e.view.payload().get("depends_on"));
    deps.status(t.id(), t.status());
    deps.edges(t.id(), e.deps.ids());
    if (!e.deps.isEmpty()) {
      if (!gate(e)) return;
      recheckDeferred(); // a newly known edge can close a cycle of tasks already waiting
      if (e.state != State.QUEUED) return;
    }
    admit(e, pumpNow);
  }

  /** Past the dependency gate: the strike gate, then the queue. */
  private void admit(Entry e, boolean pumpNow) {
    TaskLedger.Summary sum = state.ledger(e.id).summary();
    if (sum.strikes() >= cfg.maxAttempts()) {
      markDone(e);
      int strikes = sum.strikes();
      workers.execute(() -> poison(e, strikes));
      return;
    }
    e.state = State.QUEUED;
    e.slots = slotsFor(e.view);
    queue.add(e);
    if (pumpNow) pump();
  }

  // ---- dependency gate -----------------------------------------------------------------------

  /**
   * Applies the dependency verdict to a task that is new or deferred. Returns true when the task
   * may go on to the strike gate and the queue; otherwise it is deferred (not claimed, no strike)
   * or blocked (claimed and failed, and so are the tasks waiting on it, in the same pass).
   */
  private boolean gate(Entry e) {
    Dependencies.Verdict v = deps.verdict(e.id, e.deps);
    if (v instanceof Dependencies.Ready) {
      deferred.remove(e.id);
      e.state = State.QUEUED;
      return true;
    }
    if (v instanceof Dependencies.Wait w) {
      if (e.state != State.DEFERRED) {
        e.state = State.DEFERRED;
        e.deferredAt = clock.nanoTime();
        deferred.put(e.id, e);
        log.info("task {}: waiting for dependencies {}", e.id, w.unmet());
      }
      lookUp(w.lookup());
      return false;
    }
    block(e, ((Dependencies.Blocked) v).reason());
    return false;
  }

  /** Claims and fails a task that can never run; tasks waiting on it see it failed at once. */
  private void block(Entry e, String reason) {
    deferred.remove(e.id);
    markDone(e);
    deps.status(e.id, TaskStatus.FAILED); // dependents see it at once, before ATS does
    stats.blocked.incrementAndGet();
    log.info("task {}: {}", e.id, reason);
    workers.execute(() -> claimAndFail(e, TaskObserver.Failure.BLOCKED, reason));
  }

  /** Re-evaluates every deferred task until nothing changes: a failure cascades in one pass. */
  private void recheckDeferred() {
    boolean changed = true;
    boolean anyReady = false;
    while (changed && !deferred.isEmpty()) {
      changed = false;
      for (Entry e : List.copyOf(deferred.values())) {
        if (e.state != State.DEFERRED) continue;
        boolean ready = gate(e);
        if (e.state != State.DEFERRED) changed = true;
        if (ready) {
          admit(e, false);
          anyReady = true;
        }
      }
    }
    if (anyReady) pump();
  }

  /** Reads tasks whose status or dependencies are not known yet, off the loop. */
  private void lookUp(Set<Long> ids) {
    for (long id : ids) {
      if (!lookingUp.add(id)) continue;
      lookups.execute(() -> {
        Runnable answer;
        try {
          Task t = ats.get(id);
          answer = () -> {
            deps.status(id, t.status());
            if (!deps.knowsEdges(id) && !t.payload().path("encrypted").asBoolean(false)) {
              deps.edges(id, Dependencies.parse(t.payload().get("depends_on")).ids());
            }
          };
        } catch (AtsException x) {
          if (x.kind() == AtsException.Kind.NOT_FOUND) {
            answer = () -> deps.notFound(id);
          } else {
            log.debug("dependency #{}: lookup failed ({}); the periodic re-check retries", id, x.getMessage());
            answer = () -> { };
          }
        }
        Runnable a = answer;
        loop.execute(() -> {
          lookingUp.remove(id);
          a.run();
          if (!deferred.isEmpty()) recheckDeferred();
        });
      });
    }
  }

  /**
   * The safety net behind events: re-reads every dependency a deferred task still waits for
   * (dependencies in other channels send no events to this channel's subscription).
   */
  private void refreshDependencies() {
    if (!accepting || deferred.isEmpty()) return;
    if (cfg.dependencyTimeout() != null) {
      long now = clock.nanoTime();
      boolean expired = false;
      for (Entry e : List.copyOf(deferred.values())) {
        if (now - e.deferredAt < cfg.dependencyTimeout().toNanos()) continue;
        List<Long> open = e.deps.ids().stream()
            .filter(d -> deps.statusOf(d) != TaskStatus.COMPLETED).toList();
        block(e, "Blocked: dependency " + open.stream().map(d -> "#" + d)
            .collect(java.util.stream.Collectors.joining(", ")) + " not finished after " + human(cfg.dependencyTimeout()));
        expired = true;
      }
      if (expired) recheckDeferred();
      if (deferred.isEmpty()) return;
    }
    Set<Long> ids = new HashSet<>();
    for (Entry e : deferred.values()) {
      for (long d : e.deps.ids()) {
        TaskStatus s = deps.statusOf(d);
        if (s == null || !s.isTerminal()) ids.add(d);
      }
    }
    lookUp(ids);
  }

  /** A task finished by someone else while it waited here: forget it. */
  private void finishedElsewhere(long id) {
    Entry e = known.get(id);
    if (e == null) return;
    if (e.state == State.DEFERRED) {
      deferred.remove(id);
      known.remove(id);
    } else if (e.state == State.QUEUED) {
      queue.remove(e);
      known.remove(id);
    }
  }

  /** A task we finished shows up pending: only a fresh read can tell a reopen from a stale list. */
  private void confirmReopened(long id) {
    try {
      Task fresh = ats.get(id);
      if (fresh.status() == TaskStatus.PENDING) {
        loop.execute(() -> offer(fresh, EventTypes.REOPENED));
      }
    } catch (AtsException e) {
      log.debug("task {}: cannot re-read: {}", id, e.getMessage());
    }
  }

  private Set<String> slotsFor(TaskView t) {
    Set<String> need = new HashSet<>();
    for (String slot : cfg.slots().keySet()) {
      if (t.payload().path(slot).asBoolean(false) && t.payload().path(slot).isBoolean()) need.add(slot);
    }
    return need;
  }

  private void cancel(long id) {
    Entry e = known.get(id);
    if (e == null) return;
    if (e.state == State.QUEUED) {
      queue.remove(e);
      known.remove(id);
      return;
    }
    if (e.state == State.DEFERRED) {
      deferred.remove(id);
      known.remove(id);
      return;
    }
    if (e.state == State.RUNNING) {
      e.cancelled = true;
      e.wake.countDown();
      RunningAgent a = e.agent;
      if (a != null) a.stop("task cancelled", shortGrace());
      log.info("task {}: cancelled in ATS; stopping its agent", id);
    }
  }

  private Duration shortGrace() {
    return cfg.grace().compareTo(Duration.ofSeconds(1)) < 0 ? cfg.grace() : Duration.ofSeconds(1);
  }

  private void pump() {
    if (!accepting) return;
    for (var it = queue.iterator(); it.hasNext() && running < cfg.concurrency(); ) {
      Entry e = it.next();
      if (!slotsFree(e.slots)) continue;
      it.remove();
      e.slots.forEach(s -> slotsInUse.merge(s, 1, Integer::sum));
      e.state = State.RUNNING;
      running++;
      workers.execute(() -> run(e));
    }
  }

  private boolean slotsFree(Set<String> need) {
    for (String s : need) {
      if (slotsInUse.getOrDefault(s, 0) >= cfg.slots().get(s)) return false;
    }
    return true;
  }

  private void markDone(Entry e) {
    e.state = State.DONE;
    e.doneAt = clock.nanoTime();
  }

  /**
   * Forgets tasks finished here more than {@link #FORGET_AFTER} ago, so the table does not grow
   * without bound; a late duplicate event for one of them is caught by its ledger instead.
   */
  private void forgetFinished() {
    long now = clock.nanoTime();
    known.values().removeIf(e -> e.state == State.DONE && now - e.doneAt > FORGET_AFTER.toNanos());
  }

  /** Back on the loop after a run: free the slots; DONE stays known so stale events are ignored. */
  private void release(Entry e, boolean done) {
    e.slots.forEach(s -> slotsInUse.merge(s, -1, Integer::sum));
    running--;
    if (done) {
      markDone(e);
    } else {
      known.remove(e.id);
    }
    pump();
  }

  // ---- one task ------------------------------------------------------------------------------

  private void run(Entry e) {
    MDC.put("task_id", Long.toString(e.id));
    boolean done = true;
    ScheduledFuture<?> keeper = null;
    try {
      try {
        e.task = ats.claim(e.id, cfg.lease());
      } catch (AtsException x) {
        done = false;
        if (x.kind() == AtsException.Kind.CONFLICT || x.kind() == AtsException.Kind.NOT_FOUND) {
          log.info("task {}: not claimed: {}", e.id, x.getMessage());
        } else {
          log.warn("task {}: claim failed: {}; reconcile will offer it again", e.id, x.getMessage());
        }
        return;
      }
      long every = Math.max(1000, cfg.lease().toMillis() / 3);
      keeper = timers.scheduleWithFixedDelay(() -> workers.execute(() -> renew(e)), every, every,
          TimeUnit.MILLISECONDS);
      done = attempts(e);
    } catch (RuntimeException x) {
      log.error("task {}: unexpected failure", e.id, x);
    } finally {
      if (keeper != null) keeper.cancel(false);
      if (!done && e.interrupted && e.fenced == null && !e.cancelled) giveBack(e);
      boolean finalDone = done;
      loop.execute(() -> release(e, finalDone));
      MDC.remove("task_id");
    }
  }

  /** Runs attempts inside one claim; returns whether the task is finished here. */
  private boolean attempts(Entry e) {
    TaskLedger ledger = state.ledger(e.id);
    int retriesLeft = cfg.retries();
    while (true) {
      TaskLedger.Summary sum = ledger.summary();
      if (sum.strikes() >= cfg.maxAttempts()) {
        stats.poisoned.incrementAndGet();
        fail(e, sum.attempts(), TaskObserver.Failure.POISON, "poison: " + sum.strikes() + " attempts");
        return true;
      }
      int n = sum.attempts() + 1;
      ledger.append("attempt_started", M.createObjectNode().put("attempt", n), clock.now());
      stats.attempts.incrementAndGet();
      if (cfg.progressMessages()) {
        int attempt = n; // posted beside the agent's start, not before it: pickup latency is the agent's
        workers.execute(() -> progress(e, attempt, attempt == 1 ? "Agent processing started" : "Agent retry started"));
      }
      observer.pickedUp(e.view, n);
      AgentResult r;
      String startError = null;
      long pgid = -1;
      try {
        RunningAgent agent = runner.start(spec(e, n));
        pgid = agent.pid();
        ledger.append("agent_started", M.createObjectNode().put("attempt", n).put("pgid", pgid)
            .put("start_ms", ProcessAgentRunner.startMillis(pgid)), clock.now());
        e.agent = agent;
        Task created = e.task;
        if (n == 1 && created.createdAt() != null) {
          metrics.pickedUp(Duration.between(created.createdAt(), clock.now()));
        }
        if (e.cancelled) agent.stop("task cancelled", shortGrace());
        if (e.fenced != null) agent.stop(e.fenced, cfg.grace());
        if (e.interrupted) agent.stop("service shutting down", cfg.grace());
        r = agent.result().join();
      } catch (IOException x) {
        startError = x.getMessage();
        r = null;
      } finally {
        e.agent = null;
      }
      String outcome = outcome(e, r, startError);
      boolean strike = !(outcome.equals("completed") || outcome.equals("cancelled")
          || outcome.equals("lease_lost") || outcome.equals("interrupted"));
      ObjectNode fin = M.createObjectNode().put("attempt", n).put("outcome", outcome).put("strike", strike)
          .put("pgid", pgid);
      if (r != null) fin.put("exit_code", r.exitCode()).put("duration_ms", r.durationMs());
      ledger.append("attempt_finished", fin, clock.now());
      if (strike) metrics.strike();
      if (r != null) metrics.agentFinished(Duration.ofMillis(r.durationMs()));
      log.info("task {} attempt {}: {}{}", e.id, n, outcome, r == null ? "" : " in " + r.durationMs() + " ms");
      switch (outcome) {
        case "completed" -> {
          ObjectNode out = outputs(e.view, r, n);
          complete(e, n, out, e.view.encrypted() ? out.get("encrypted_response").toString() : r.response());
          return true;
        }
        case "cancelled" -> {
          stats.cancelled.incrementAndGet();
          metrics.taskFinished("cancelled");
          return true;
        }
        case "lease_lost" -> {
          stats.leaseLost.incrementAndGet();
          metrics.taskFinished("lease_lost");
          log.warn("task {}: {}; nothing reported", e.id, e.fenced);
          return false;
        }
        case "interrupted" -> {
          stats.interrupted.incrementAndGet();
          metrics.taskFinished("interrupted");
          return false;
        }
        default -> {
          String reason = reason(outcome, r, startError, e.view.encrypted());
          if (retriesLeft > 0 && ledger.summary().strikes() < cfg.maxAttempts() && accepting) {
            retriesLeft--;
            log.info("task {}: attempt {} failed ({}); retrying in {} s", e.id, n, reason,
                cfg.retryBackoff().toSeconds());
            if (waitOrWake(e, cfg.retryBackoff())) continue;
            return e.fenced == null && !e.interrupted;
          }
          fail(e, n, TaskObserver.Failure.AGENT, reason);
          return true;
        }
      }
    }
  }

  /** Sleeps for the retry backoff unless cancelled, fenced or shut down; true if it slept fully. */
  private boolean waitOrWake(Entry e, Duration d) {
    try {
      e.wake.await(d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
    }
    return !e.cancelled && e.fenced == null && !e.interrupted && accepting;
  }

  private String outcome(Entry e, AgentResult r, String startError) {
    if (e.cancelled) return "cancelled";
    if (e.fenced != null) return "lease_lost";
    if (e.interrupted && (r == null || !r.succeeded())) return "interrupted";
    if (startError != null) return "start_failed";
    return switch (r.outcome()) {
      case EXITED -> r.exitCode() != null && r.exitCode() == 0 ? "completed" : "exited";
      case TIMED_OUT -> "timed_out";
      case NO_OUTPUT -> "no_output";
      case STOPPED -> "interrupted";
    };
  }

  private String reason(String outcome, AgentResult r, String startError, boolean encrypted) {
    return switch (outcome) {
      case "start_failed" -> "Agent could not start: " + startError;
      case "timed_out" -> "Agent timed out after " + human(cfg.agentTimeout()) + " (killed)";
      case "no_output" -> "Agent produced no output for " + human(cfg.noOutputTimeout()) + " (killed)";
      default -> {
        String tail = encrypted ? "" : r.stderrTail().strip(); // stderr may echo the plaintext
        if (tail.length() > 1000) tail = "..." + tail.substring(tail.length() - 1000);
        yield "Agent exited with code " + r.exitCode() + (tail.isEmpty() ? "" : ": " + tail);
      }
    };
  }

  private static String human(Duration d) {
    if (d == null) return "?";
    long s = d.toSeconds();
    if (s % 3600 == 0 && s > 0) return s / 3600 + "h";
    if (s % 60 == 0 && s > 0) return s / 60 + "m";
    return d.toMillis() % 1000 == 0 ? s + "s" : d.toMillis() + "ms";
  }

  /**
   * A plaintext task's outputs carry the response and stderr tail; an encrypted task's carry only
   * the sealed response and metadata that reveal nothing of the content.
   */
  private ObjectNode outputs(TaskView v, AgentResult r, int attempt) {
    ObjectNode o = M.createObjectNode();
    if (v.encrypted()) {
      o.set("encrypted_response", v.seal().apply(r.response()));
      o.put("response_encrypted", true);
    } else {
      o.put("response", r.response());
    }
    if (r.responseTruncated()) {
      o.put("response_truncated", true);
      o.put("response_bytes", r.stdoutBytes());
    }
    o.put("exit_code", r.exitCode());
    o.put("duration_ms", r.durationMs());
    o.put("attempt", attempt);
    if (!v.encrypted()) o.put("stderr_tail", r.stderrTail());
    return o;
  }

  private AgentSpec spec(Entry e, int attempt) {
    Task t = e.task;
    TaskView v = e.view;
    String prompt = Prompts.build(cfg.promptIntro(), v.title(), v.description(), v.payload());
    Map<String, String> env = new LinkedHashMap<>();
    for (String k : cfg.envAllowlist()) {
      String value = serviceEnv.get(k);
      if (value != null) env.put(k, value);
    }
    env.putAll(cfg.extraEnv());
    env.put("ATS_TASK_ID", Long.toString(t.id()));
    env.put("ATS_TASK_TITLE", v.title() == null ? "" : v.title());
    env.put("ATS_CHANNEL", cfg.channel());
    env.put("ATS_ATTEMPT", Integer.toString(attempt));
    return new AgentSpec(cfg.agentCommand(), prompt, state.workDir(t.id()), env,
        state.stdoutLog(t.id(), attempt), state.stderrLog(t.id(), attempt), cfg.agentTimeout(),
        cfg.noOutputTimeout(), cfg.grace(), cfg.responseCapBytes(), cfg.stderrTailBytes());
  }

  private void progress(Entry e, int attempt, String text) {
    try {
      ats.addMessage(e.id, List.of(
          M.createObjectNode().put("type", "text").put("content", text + " (attempt " + attempt + ")"),
          M.createObjectNode().put("type", "data").set("content",
              M.createObjectNode().set("ats_dispatch", M.createObjectNode().put("attempt", attempt)))));
    } catch (AtsException x) {
      log.debug("task {}: progress message not posted: {}", e.id, x.getMessage());
    }
  }

  private void renew(Entry e) {
    synchronized (e) { // never interleaved with a release: a renewal after it would claim again
      renewLocked(e);
    }
  }

  private void renewLocked(Entry e) {
    if (e.fenced != null || e.cancelled || e.released) return;
    try {
      ats.claim(e.id, cfg.lease());
      stats.leaseRenewals.incrementAndGet();
      metrics.leaseRenewed();
    } catch (AtsException x) {
      stats.leaseRenewalFailures.incrementAndGet();
      metrics.leaseRenewalFailed();
      if (x.retryable()) {
        log.warn("task {}: lease renewal failed ({}); will retry", e.id, x.getMessage());
        return;
      }
      e.fenced = "lease lost: " + x.getMessage();
      e.wake.countDown();
      RunningAgent a = e.agent;
      if (a != null) a.stop(e.fenced, cfg.grace());
      log.warn("task {}: {}; stopping its agent", e.id, e.fenced);
    }
  }

  /**
   * Graceful shutdown stopped the agent: the task goes back to pending at once, so this or another
   * service takes it without waiting for the lease to expire. If ATS is unreachable the lease
   * expiry does the same later.
   */
  private void giveBack(Entry e) {
    synchronized (e) {
      e.released = true;
    }
    try {
      ats.release(e.id);
      state.ledger(e.id).append("released", M.createObjectNode().put("why", "shutdown"), clock.now());
      log.info("task {}: given back to the queue (service shutting down)", e.id);
    } catch (AtsException x) {
      log.warn("task {}: not given back ({}); it is pending again when its lease expires", e.id, x.getMessage());
    }
  }

  private void poison(Entry e, int strikes) {
    if (claimAndFail(e, TaskObserver.Failure.POISON, "poison: " + strikes + " attempts")) {
      stats.poisoned.incrementAndGet();
    }
  }

  /** Claims a registration request, lets the intake decide, and reports (no callback). */
  private void register(Entry e, String publicKey) {
    MDC.put("task_id", Long.toString(e.id));
    try {
      ats.claim(e.id, cfg.lease());
    } catch (AtsException x) {
      log.info("task {}: registration not claimed: {}", e.id, x.getMessage());
      loop.execute(() -> known.remove(e.id));
      return;
    } finally {
      MDC.remove("task_id");
    }
    Intake.Registration r = intake.register(e.id, publicKey);
    if (r instanceof Intake.Registered ok) {
      report(e, 0, ok.outputs(), null);
      if (ok.notifyFingerprint() != null) observer.registrationRequested(ok.notifyFingerprint(), publicKey, e.id);
    } else {
      Intake.Refused no = (Intake.Refused) r;
      report(e, 0, null, no.reason());
      if (no.invalidKey()) observer.registrationInvalid(e.id, no.reason());
    }
  }

  /**
   * Claims a task only to fail it (poison, blocked). A task someone else holds is left alone; if
   * ATS is unreachable, reconcile offers the task again later.
   */
  private boolean claimAndFail(Entry e, TaskObserver.Failure why, String reason) {
    try {
      ats.claim(e.id, cfg.lease());
    } catch (AtsException x) {
      log.info("task {}: not claimed to fail it ({}): {}", e.id, reason, x.getMessage());
      loop.execute(() -> known.remove(e.id));
      return false;
    }
    fail(e, state.ledger(e.id).summary().attempts(), why, reason);
    return true;
  }

  // ---- reporting -----------------------------------------------------------------------------

  private void complete(Entry e, int attempt, ObjectNode outputs, String callbackResult) {
    report(e, attempt, outputs, null);
    metrics.taskFinished("completed");
    observer.completed(e.view, attempt, callbackResult);
  }

  private void fail(Entry e, int attempt, TaskObserver.Failure why, String reason) {
    report(e, attempt, null, reason);
    metrics.taskFinished(switch (why) {
      case AGENT -> "failed";
      case POISON -> "poisoned";
      case BLOCKED -> "blocked";
      case DECRYPTION, PLAINTEXT_REJECTED -> "rejected";
    });
    observer.failed(e.view, attempt, why, reason);
  }

  /** Queues the result durably, then tries to deliver it at once. Exactly one of the two. */
  private void report(Entry e, int attempt, ObjectNode outputs, String reason) {
    ObjectNode body = M.createObjectNode();
    body.put("task_id", e.id);
    body.put("attempt", attempt);
    if (outputs != null) {
      body.put("action", "complete");
      body.set("outputs", outputs);
      stats.completed.incrementAndGet();
    } else {
      body.put("action", "fail");
      body.put("reason", reason);
      stats.failed.incrementAndGet();
    }
    Outbox.Entry entry = results.put("task-" + e.id + "-attempt-" + attempt, body);
    state.ledger(e.id).append("result_queued", M.createObjectNode().put("attempt", attempt)
        .put("action", body.path("action").asText()), clock.now());
    deliver(entry);
  }

  /** Delivers what the outbox holds; backs off while ATS is unreachable. */
  private void deliverPending() {
    if (clock.nanoTime() - nextDeliveryNanos < 0) return;
    for (Outbox.Entry entry : results.pending()) {
      if (!deliver(entry)) return;
    }
  }

  /** Returns false when ATS is unreachable (the entry stays for a later try). */
  private boolean deliver(Outbox.Entry entry) {
    if (!delivering.add(entry.key())) return true;
    long id = entry.body().path("task_id").asLong();
    try {
      if (entry.body().path("action").asText().equals("complete")) {
        ats.complete(id, List.of(entry.body().path("outputs")));
      } else {
        ats.fail(id, entry.body().path("reason").asText());
      }
      results.remove(entry);
      state.ledger(id).append("reported", M.createObjectNode().put("attempt", entry.body().path("attempt").asInt()),
          clock.now());
      atsAnswered();
      return true;
    } catch (AtsException x) {
      if (x.retryable()) {
        long wait = deliveryFailed();
        log.warn("task {}: result not delivered ({}); kept in the outbox, next try in {} ms", id,
            x.getMessage(), wait);
        return false;
      }
      log.warn("task {}: ATS refused the result ({}); dropping it", id, x.getMessage());
      results.remove(entry);
      state.ledger(id).append("report_refused", M.createObjectNode().put("error", x.getMessage()), clock.now());
      return true;
    } finally {
      delivering.remove(entry.key());
    }
  }

  /**
   * One more failed round: the backoff advances once per retry round, not once per result that
   * failed in the same outage. Returns the milliseconds until the next round.
   */
  private long deliveryFailed() {
    synchronized (deliveryBackoff) {
      long now = clock.nanoTime();
      if (now - nextDeliveryNanos >= 0) nextDeliveryNanos = now + deliveryBackoff.next().toNanos();
      return Math.max(0, (nextDeliveryNanos - now) / 1_000_000);
    }
  }

  /** ATS answered: the outage is over, so what the outbox holds goes out on the next tick. */
  private void atsAnswered() {
    synchronized (deliveryBackoff) {
      deliveryBackoff.reset();
      nextDeliveryNanos = clock.nanoTime();
    }
  }

  public int outboxDepth() {
    return results.size();
  }

  // ---- shutdown ------------------------------------------------------------------------------

  /**
   * Stops taking work at once; lets running agents finish for up to the drain limit while their
   * leases are still renewed; then stops the rest (TERM, grace, KILL). Interrupted attempts get no
   * strike and nothing is reported for them. Returns when every agent is gone.
   */
  public void shutdown() {
    accepting = false;
    periodic.forEach(f -> f.cancel(false));
    long drainEnd = clock.nanoTime() + cfg.drain().toNanos();
    while (runningNow() > 0 && clock.nanoTime() - drainEnd < 0) sleep(50);
    List<Entry> left = call(() -> known.values().stream().filter(x -> x.state == State.RUNNING).toList());
    for (Entry e : left) {
      e.interrupted = true;
      e.wake.countDown();
      RunningAgent a = e.agent;
      if (a != null) a.stop("service shutting down", cfg.grace());
    }
    if (!left.isEmpty()) log.info("stopping {} running agent(s)", left.size());
    long stopEnd = System.nanoTime() + cfg.grace().plusSeconds(4).toNanos();
    while (runningNow() > 0 && System.nanoTime() < stopEnd) sleep(50);
    deliverPending();
    timers.shutdownNow();
    lookups.shutdownNow();
    loop.shutdown();
    workers.shutdown();
    try {
      workers.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
    }
  }

  /** Running tasks, as the loop sees them. */
  public int runningNow() {
    Integer n = call(() -> running);
    return n == null ? 0 : n;
  }

  /** Tasks waiting for their dependencies. */
  public int deferredNow() {
    Integer n = call(deferred::size);
    return n == null ? 0 : n;
  }

  /** Tasks waiting for a slot. */
  public int queuedNow() {
    Integer n = call(queue::size);
    return n == null ? 0 : n;
  }

  private <T> T call(java.util.concurrent.Callable<T> c) {
    try {
      return loop.submit(c).get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.RejectedExecutionException x) {
      return null;
    } catch (Exception x) {
      throw new IllegalStateException(x);
    }
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
