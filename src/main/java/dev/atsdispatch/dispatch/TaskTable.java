package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.Clock;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tasks the engine knows, one entry per key: opening, deferred, queued or running (a task
 * done here is dropped at once; its ledger answers for it after that). Owned by the loop thread; only
 * {@link #active()} (the keys not done) may be read from other threads.
 */
final class TaskTable {
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
   * The task is done here: its entry goes, and what it held (the view, with an encrypted task's
   * plaintext; the claim; the payload) with it. A late offer of it opens a new entry, and
   * admission turns it away by its ledger, as it would after a restart; so the table holds only
   * the tasks that are opening, waiting or running, however many have gone through.
   */
  void markDone(Tracked t) {
    t.state = Tracked.State.DONE;
    t.doneAt = clock.nanoTime();
    forget(t);
    t.releaseContent();
  }

  /** Forgets this entry, and only this one: a newer entry for the same key stays. */
  void forget(Tracked t) {
    if (known.remove(t.key, t)) active.remove(t.key);
  }

  Collection<Tracked> all() {
    return known.values();
  }

  /** The keys of tasks not done, from any thread. */
  List<TaskKey> active() {
    return List.copyOf(active);
  }
}
