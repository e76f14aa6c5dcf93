package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tasks the engine knows, one entry per key: opening, deferred, queued, running, or done here
 * a little while ago (so stale offers of it are dropped cheaply). Owned by the loop thread; only
 * {@link #active()} (the keys not done) may be read from other threads.
 */
final class TaskTable {
  private static final Duration FORGET_AFTER = Duration.ofMinutes(10);

  private final Map<TaskKey, Tracked> known = new HashMap<>();
  private final Set<TaskKey> active = ConcurrentHashMap.newKeySet();
  private final Clock clock;

  TaskTable(Clock clock) {
    this.clock = clock;
  }

  Tracked get(TaskKey key) {
    return known.get(key);
  }

  /** Whether the entry for its key is this one (not a newer one, not gone). */
  boolean holds(Tracked t) {
    return known.get(t.key) == t;
  }

  void track(Tracked t) {
    known.put(t.key, t);
    active.add(t.key);
  }

  /**
   * The task is done here: its entry stays (for {@code FORGET_AFTER}) with its key and state only.
   * What it was (the view, with an encrypted task's plaintext; the claim; the timings) is let go
   * now, so memory does not grow with the tasks of the last ten minutes.
   */
  void markDone(Tracked t) {
    t.state = Tracked.State.DONE;
    t.doneAt = clock.nanoTime();
    active.remove(t.key);
    t.releaseContent();
  }

  /** Forgets this entry, and only this one: a newer entry for the same key stays. */
  void forget(Tracked t) {
    if (known.remove(t.key, t)) active.remove(t.key);
  }

  /** Forgets tasks finished here long ago; a late duplicate is caught by its ledger instead. */
  void forgetFinished() {
    long now = clock.nanoTime();
    known.values().removeIf(t -> t.state == Tracked.State.DONE && now - t.doneAt > FORGET_AFTER.toNanos());
  }

  Collection<Tracked> all() {
    return known.values();
  }

  /** The keys of tasks not done, from any thread. */
  List<TaskKey> active() {
    return List.copyOf(active);
  }
}
