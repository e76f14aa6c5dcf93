package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dependency gate (design.md §1): decides for a task whether its {@code depends_on} lets it
 * run, keeps the deferred tasks with an index from each dependency to the tasks waiting on it (so
 * a status change re-checks only those), and looks up unknown statuses through the source off the
 * loop, batched and backed off per id. Owned by the loop thread; lookups run on the source-call
 * pool and hand their answers back through {@code toLoop}.
 */
final class DependencyGate {
  private static final Logger log = LoggerFactory.getLogger(DependencyGate.class);
  /** Lookups in flight at once, and the longest wait between two lookups of one id. */
  static final int MAX_IN_FLIGHT = 8;
  static final Duration MAX_LOOKUP_BACKOFF = Duration.ofSeconds(60);

  /** What the gate says about a task. */
  sealed interface Verdict {}

  record Ready() implements Verdict {}

  record Waiting() implements Verdict {}

  record Blocked(String reason) implements Verdict {}

  private final Dependencies deps;
  private final Map<TaskKey, Tracked> deferred = new LinkedHashMap<>();
  private final Map<TaskKey, Set<Tracked>> waiters = new HashMap<>();
  private final Map<TaskKey, long[]> lookupState = new HashMap<>(); // {next allowed nanos, backoff ms}
  private final Set<TaskKey> inFlight = new LinkedHashSet<>();
  private final Set<TaskKey> wanted = new LinkedHashSet<>();
  private final TaskSource source;
  private final Executor calls;
  private final Consumer<Runnable> toLoop;
  private final Clock clock;
  private final int maxDependencies;
  private final Duration recheck;
  private final Runnable onAnswer;

  private final Consumer<Tracked> ready;
  private final java.util.function.BiConsumer<Tracked, String> blocked;

  /**
   * {@code ready}: a task may run now; {@code blocked}: it never can (fail it); {@code onAnswer}: a
   * lookup came back; {@code parkedHere}: this service parked the task for a question (a failed
   * dependency that is, waits: see {@link Dependencies#waitsForAnswer}).
   */
  DependencyGate(TaskSource source, Executor calls, Consumer<Runnable> toLoop, Clock clock,
      int maxDependencies, Duration recheck, Consumer<Tracked> ready,
      java.util.function.BiConsumer<Tracked, String> blocked, Runnable onAnswer,
      java.util.function.Predicate<TaskKey> parkedHere) {
    this.deps = new Dependencies(parkedHere);
    this.ready = ready;
    this.blocked = blocked;
    this.source = source;
    this.calls = calls;
    this.toLoop = toLoop;
    this.clock = clock;
    this.maxDependencies = maxDependencies;
    this.recheck = recheck;
    this.onAnswer = onAnswer;
  }

  /** A new task with dependencies: ready, deferred or blocked; a new edge may close a cycle of waiting tasks. */
  void admit(Tracked t) {
    apply(t);
    if (t.state == Tracked.State.DEFERRED) recheck(deferredTasks());
    lookUp();
  }

  /** A status seen from outside (event, listing): re-checks the tasks waiting on it. */
  void seen(TaskKey key, TaskStatus s) {
    seen(key, s, false);
  }

  /** As {@link #seen(TaskKey, TaskStatus)}; {@code parked}: the source says it waits for an answer. */
  void seen(TaskKey key, TaskStatus s, boolean parked) {
    recheck(status(key, s, parked));
  }

  /** Re-checks deferred tasks until nothing changes: a failure cascades through a chain in one pass. */
  void recheck(List<Tracked> candidates) {
    java.util.ArrayDeque<Tracked> work = new java.util.ArrayDeque<>(candidates);
    Set<Tracked> seen = new java.util.HashSet<>();
    while (!work.isEmpty()) {
      Tracked t = work.poll();
      if (t.state != Tracked.State.DEFERRED || deferred.get(t.key) != t || !seen.add(t)) continue;
      if (apply(t)) work.addAll(status(t.key, TaskStatus.FAILED));
    }
    lookUp();
  }

  /** The periodic work: tasks that waited too long are blocked, then unfinished dependencies are asked for. */
  void periodic(Duration timeout) {
    if (timeout != null) {
      for (Tracked t : waitedLongerThan(timeout)) {
        if (t.state != Tracked.State.DEFERRED) continue;
        block(t, "Blocked: dependency " + unfinished(t) + " not finished after " + Reasons.human(timeout));
        recheck(status(t.key, TaskStatus.FAILED));
      }
    }
    refresh();
  }

  /** Applies the verdict; true when the task was blocked. */
  private boolean apply(Tracked t) {
    Verdict v = check(t);
    if (v instanceof Blocked b) {
      block(t, b.reason());
      return true;
    }
    if (v instanceof Waiting) {
      t.state = Tracked.State.DEFERRED;
      defer(t);
    } else {
      remove(t);
      ready.accept(t);
    }
    return false;
  }

  /** The task can never run; the tasks waiting on it see it failed at once. */
  private void block(Tracked t, String reason) {
    remove(t);
    blocked.accept(t, reason);
    deps.status(t.key, TaskStatus.FAILED);
  }

  int deferredCount() {
    return deferred.size();
  }

  /** The verdict for a task that is new or deferred; records its edges. */
  Verdict check(Tracked t) {
    if (t.deps.given() > maxDependencies) {
      return new Blocked("Blocked: depends on " + t.deps.given() + " tasks; at most " + maxDependencies
          + " are allowed (dependency_max)");
    }
    deps.edges(t.key, t.deps.ids());
    Dependencies.Verdict v = deps.verdict(t.key, t.deps);
    if (v instanceof Dependencies.Ready) return new Ready();
    if (v instanceof Dependencies.Blocked b) return new Blocked(b.reason());
    Dependencies.Wait w = (Dependencies.Wait) v;
    wanted.addAll(w.lookup());
    return new Waiting();
  }

  /** Keeps a waiting task until its dependencies change. */
  void defer(Tracked t) {
    if (deferred.put(t.key, t) == null) {
      t.deferredAt = clock.nanoTime();
      for (TaskKey d : t.deps.ids()) waiters.computeIfAbsent(d, k -> new LinkedHashSet<>()).add(t);
      log.info("task {}: waiting for dependencies {}", t.key, t.deps.ids().stream()
          .filter(d -> deps.statusOf(d) != TaskStatus.COMPLETED).map(this::waitingOn).collect(Collectors.joining(", ")));
    }
  }

  /** Forgets a deferred task (it runs, is blocked, cancelled or finished elsewhere). */
  void remove(Tracked t) {
    if (deferred.remove(t.key, t)) {
      for (TaskKey d : t.deps.ids()) {
        Set<Tracked> w = waiters.get(d);
        if (w != null && w.remove(t) && w.isEmpty()) waiters.remove(d);
      }
    }
  }

  /**
   * Records a status; returns the deferred tasks whose verdict it may change (those waiting on
   * it directly). New edges that close a cycle come through {@link #check}, which the caller
   * runs for every deferred task after an offer.
   */
  private List<Tracked> status(TaskKey key, TaskStatus s) {
    return status(key, s, false);
  }

  private List<Tracked> status(TaskKey key, TaskStatus s, boolean parked) {
    deps.status(key, s, parked);
    if (deps.finished(key)) lookupState.remove(key);
    Set<Tracked> w = waiters.get(key);
    return w == null ? List.of() : List.copyOf(w);
  }

  /** What is known of a dependency's status; null: nothing yet. */
  TaskStatus statusOf(TaskKey key) {
    return deps.statusOf(key);
  }

  /** Whether a dependency shows failed only while it waits for the answer to a question. */
  boolean waitsForAnswer(TaskKey key) {
    return deps.waitsForAnswer(key);
  }

  /** A dependency's id for a log line or a reason, with "waiting for an answer" when it is parked. */
  private String waitingOn(TaskKey d) {
    return deps.waitsForAnswer(d) ? d.display() + " (waiting for an answer)" : d.display();
  }

  List<Tracked> deferredTasks() {
    return List.copyOf(deferred.values());
  }

  /** Deferred tasks that waited longer than {@code limit}. */
  private List<Tracked> waitedLongerThan(Duration limit) {
    long now = clock.nanoTime();
    List<Tracked> out = new ArrayList<>();
    for (Tracked t : deferred.values()) {
      if (now - t.deferredAt >= limit.toNanos()) out.add(t);
    }
    return out;
  }

  /** The ids a timed-out task still waits for, for its reason. */
  private String unfinished(Tracked t) {
    return t.deps.ids().stream().filter(d -> deps.statusOf(d) != TaskStatus.COMPLETED)
        .map(this::waitingOn).collect(Collectors.joining(", "));
  }

  /**
   * The periodic safety net behind events: asks for every unfinished dependency of a deferred
   * task (other channels send no events here), each id at most once per its backoff.
   */
  void refresh() {
    for (TaskKey d : waiters.keySet()) {
      if (!deps.finished(d)) wanted.add(d); // a parked one too: its reopen may send no event here
    }
    lookUp();
  }

  /** Sends the wanted lookups that are due, at most {@link #MAX_IN_FLIGHT} at once. */
  void lookUp() {
    long now = clock.nanoTime();
    var it = wanted.iterator();
    while (it.hasNext() && inFlight.size() < MAX_IN_FLIGHT) {
      TaskKey id = it.next();
      if (inFlight.contains(id)) {
        it.remove();
        continue;
      }
      long[] st = lookupState.get(id);
      if (st != null && now - st[0] < 0) continue; // backed off: stays wanted
      it.remove();
      inFlight.add(id);
      try {
        calls.execute(() -> ask(id));
      } catch (RejectedExecutionException e) {
        inFlight.remove(id);
        return;
      }
    }
  }

  private void ask(TaskKey id) {
    Runnable answer;
    try {
      TaskSource.DependencyStatus s = source.dependencyStatus(id);
      answer = () -> answered(id, s);
    } catch (SourceException x) {
      if (x.kind() == SourceException.Kind.NOT_FOUND) {
        answer = () -> {
          deps.notFound(id);
          lookupState.remove(id);
        };
      } else {
        log.debug("dependency {}: lookup failed ({}); retried later", id, x.getMessage());
        answer = () -> backOff(id);
      }
    } catch (RuntimeException x) {
      log.warn("dependency {}: lookup failed", id, x);
      answer = () -> backOff(id);
    }
    Runnable a = answer;
    toLoop.accept(() -> {
      inFlight.remove(id);
      a.run();
      onAnswer.run();
      lookUp();
    });
  }

  private void answered(TaskKey id, TaskSource.DependencyStatus s) {
    deps.status(id, s.status(), s.parked());
    if (deps.finished(id)) {
      lookupState.remove(id);
    } else {
      backOff(id); // still running, or waiting for an answer: ask again later, less often the longer it runs
    }
  }

  private void backOff(TaskKey id) {
    long[] st = lookupState.computeIfAbsent(id, k -> new long[] {0, recheck.toMillis() / 2});
    st[1] = Math.min(MAX_LOOKUP_BACKOFF.toMillis(), Math.max(recheck.toMillis(), st[1] * 2));
    st[0] = clock.nanoTime() + st[1] * 1_000_000;
  }
}
