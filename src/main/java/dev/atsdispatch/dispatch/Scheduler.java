package dev.atsdispatch.dispatch;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The run queue: tasks ready to run ordered by priority (higher first), then age, then key; a
 * concurrency cap; and named resource slots ({@code slots.gpu = 1}: at most one task asking for
 * {@code gpu} at a time). Owned by the loop thread.
 */
final class Scheduler {
  private final int cap;
  private final Map<String, Integer> slotLimits;
  private final Map<String, Integer> slotsInUse = new HashMap<>();
  private final TreeSet<Tracked> queue = new TreeSet<>(Comparator
      .comparingInt((Tracked t) -> -t.priority())
      .thenComparing(t -> t.offer.createdAt() == null ? Instant.EPOCH : t.offer.createdAt())
      .thenComparing(t -> t.key));
  private int running;
  /** With routes: the cap and slots shared with the other routes' engines; null: this engine's own. */
  private Capacity.Member shared;

  Scheduler(int cap, Map<String, Integer> slotLimits) {
    this.cap = cap;
    this.slotLimits = Map.copyOf(slotLimits);
  }

  /** Takes places from {@code member} (the routes' shared capacity) instead of this engine's own cap. */
  void share(Capacity.Member member) {
    this.shared = member;
  }

  private void waitingChanged() {
    if (shared != null) shared.waiting(!queue.isEmpty());
  }

  /** The slots a task asks for: payload fields named like a slot and set to {@code true}. */
  Set<String> slotsFor(TaskView v) {
    Set<String> need = new java.util.HashSet<>();
    for (String slot : slotLimits.keySet()) {
      var f = v.payload().get(slot);
      if (f != null && f.isBoolean() && f.asBoolean()) need.add(slot);
    }
    return need;
  }

  void add(Tracked t) {
    t.state = Tracked.State.QUEUED;
    queue.add(t);
    waitingChanged();
  }

  boolean remove(Tracked t) {
    boolean r = queue.remove(t);
    waitingChanged();
    return r;
  }

  int queued() {
    return queue.size();
  }

  int running() {
    return running;
  }

  /** Places a task offered now would start in at once: the cap less what runs and what waits. */
  int free() {
    return (shared != null ? shared.free() : cap - running) - queue.size();
  }

  /** Takes every task that may start now, in order, and counts it as running. */
  List<Tracked> takeReady() {
    List<Tracked> out = new ArrayList<>();
    if (shared != null) {
      for (var it = queue.iterator(); it.hasNext(); ) {
        Tracked t = it.next();
        if (!shared.take(t.slots)) {
          if (shared.free() == 0) break; // no place at all; else its slots are in use or a better route waits
          continue;
        }
        it.remove();
        t.state = Tracked.State.RUNNING;
        running++;
        out.add(t);
      }
      waitingChanged();
      return out;
    }
    for (var it = queue.iterator(); it.hasNext() && running < cap; ) {
      Tracked t = it.next();
      if (!slotsFree(t.slots)) continue;
      it.remove();
      t.slots.forEach(s -> slotsInUse.merge(s, 1, Integer::sum));
      t.state = Tracked.State.RUNNING;
      running++;
      out.add(t);
    }
    return out;
  }

  /** A task taken by {@link #takeReady} ended: its place and slots are free. */
  void finished(Tracked t) {
    running--;
    if (shared != null) {
      shared.release(t.slots);
      return;
    }
    t.slots.forEach(s -> slotsInUse.merge(s, -1, Integer::sum));
  }

  private boolean slotsFree(Set<String> need) {
    for (String s : need) {
      if (slotsInUse.getOrDefault(s, 0) >= slotLimits.get(s)) return false;
    }
    return true;
  }
}
