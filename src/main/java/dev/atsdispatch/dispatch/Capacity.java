package dev.atsdispatch.dispatch;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One concurrency cap and one set of named slots shared by the engines of several routes, with
 * artificer's rule for who goes first when the cap is reached: the route with the lower
 * {@code priority} value, ties by order in the settings (downstream stages of a pipeline drain
 * first). A route may take a place only while no better route has tasks waiting; when a place
 * frees up, every route with waiting tasks is woken, and only the best of them can take it. (A
 * better route whose waiting tasks all need a slot that is in use still holds the others back.)
 * Thread-safe: each engine calls it from its own loop thread; wake-ups go to those loops.
 */
public final class Capacity {
  private final int cap;
  private final Map<String, Integer> slotLimits;
  private final Map<String, Integer> slotsInUse = new HashMap<>();
  private final List<Member> members = new ArrayList<>();
  private int running;

  public Capacity(int cap, Map<String, Integer> slotLimits) {
    if (cap < 1) throw new IllegalArgumentException("concurrency must be at least 1");
    this.cap = cap;
    this.slotLimits = Map.copyOf(slotLimits);
  }

  /** A route's share: its rank ({@code priority}, then {@code order}) and how to wake its loop. */
  public final class Member {
    final int priority;
    final int order;
    final Runnable wake;
    boolean waiting;

    Member(int priority, int order, Runnable wake) {
      this.priority = priority;
      this.order = order;
      this.wake = wake;
    }

    /** Whether the route has tasks ready and waiting for a place (its scheduler says so as it changes). */
    public void waiting(boolean w) {
      synchronized (Capacity.this) {
        waiting = w;
      }
    }

    /** Takes a place (and the slots) if there is one and no better route is waiting for it. */
    public boolean take(Set<String> slots) {
      synchronized (Capacity.this) {
        if (running >= cap || !slotsFree(slots)) return false;
        for (Member m : members) {
          if (m != this && m.waiting && better(m, this)) return false;
        }
        running++;
        slots.forEach(s -> slotsInUse.merge(s, 1, Integer::sum));
        return true;
      }
    }

    /** Gives back a place (and its slots) and wakes the routes that wait, best first. */
    public void release(Set<String> slots) {
      List<Runnable> wake = new ArrayList<>();
      synchronized (Capacity.this) {
        running--;
        slots.forEach(s -> slotsInUse.merge(s, -1, Integer::sum));
        for (Member m : members) if (m.waiting) wake.add(m.wake);
      }
      wake.forEach(Runnable::run);
    }

    /** Places free now across every route. */
    public int free() {
      synchronized (Capacity.this) {
        return cap - running;
      }
    }

    public int cap() {
      return cap;
    }
  }

  /** Joins a route; members are kept best first. */
  public synchronized Member join(int priority, int order, Runnable wake) {
    Member m = new Member(priority, order, wake);
    members.add(m);
    members.sort(Comparator.comparingInt((Member x) -> x.priority).thenComparingInt(x -> x.order));
    return m;
  }

  public synchronized int running() {
    return running;
  }

  private static boolean better(Member a, Member b) {
    return a.priority < b.priority || (a.priority == b.priority && a.order < b.order);
  }

  private boolean slotsFree(Set<String> need) {
    for (String s : need) {
      Integer limit = slotLimits.get(s);
      if (limit != null && slotsInUse.getOrDefault(s, 0) >= limit) return false;
    }
    return true;
  }
}
