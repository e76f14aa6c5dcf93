package dev.atsdispatch.status;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.TaskKey;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * What each agent is doing, as events (started, each output line, lease renewals, finished) kept
 * in a bounded history per task and pushed to live subscribers: the operator API's
 * {@code /agents} and the SSE streams read it. An encrypted task's output never comes here (its
 * lines are not reported). Written from attempt and output threads, read from HTTP threads: every
 * history is its own lock; the table of histories is this object's.
 */
public final class AgentEvents {
  private static final ObjectMapper M = new ObjectMapper();
  /** Events kept per task: the newest, for a subscriber who comes late. */
  static final int HISTORY = 1000;
  /** Finished tasks whose history is still kept (the newest). */
  static final int FINISHED_KEPT = 50;
  /** Characters of a line kept in a history (a longer one is cut, with an ellipsis). */
  static final int LINE_KEPT = 4096;

  /** One event: its number in the task's history, when, what, and its text (a line, an outcome). */
  public record Event(long seq, Instant at, String type, String text) {
    public ObjectNode json() {
      ObjectNode o = M.createObjectNode().put("seq", seq).put("at", at.toString()).put("type", type);
      if (text != null) o.put("text", text);
      return o;
    }
  }

  /** One task's history and its subscribers. */
  public static final class History {
    private final TaskKey key;
    private final ArrayDeque<Event> events = new ArrayDeque<>();
    private final List<Consumer<Event>> subscribers = new CopyOnWriteArrayList<>();
    private long seq;
    private int attempt;
    private Instant startedAt;
    private long pgid;
    private boolean running;
    private Instant leaseUntil;
    private String route;

    History(TaskKey key) {
      this.key = key;
    }

    synchronized void add(String type, String text, Instant at) {
      Event e = new Event(++seq, at, type, text);
      events.addLast(e);
      if (events.size() > HISTORY) events.removeFirst();
      for (Consumer<Event> s : subscribers) {
        try {
          s.accept(e);
        } catch (RuntimeException x) {
          subscribers.remove(s);
        }
      }
    }

    /**
     * The history so far, and from then on every new event to {@code live} (on the thread that
     * adds it; it must not block), until {@link #unsubscribe}. Atomic: no event is missed or seen twice.
     */
    public synchronized List<Event> subscribe(Consumer<Event> live) {
      subscribers.add(live);
      return new ArrayList<>(events);
    }

    public void unsubscribe(Consumer<Event> live) {
      subscribers.remove(live);
    }

    public synchronized boolean running() {
      return running;
    }

    public synchronized ObjectNode summary(Instant now) {
      ObjectNode o = M.createObjectNode().put("task", key.toString()).put("id", key.id()).put("source", key.source())
          .put("attempt", attempt).put("running", running);
      if (startedAt != null) {
        o.put("started_at", startedAt.toString());
        if (running) o.put("elapsed_ms", Math.max(0, now.toEpochMilli() - startedAt.toEpochMilli()));
      }
      if (pgid > 0) o.put("pgid", pgid);
      if (route != null) o.put("route", route);
      if (running && leaseUntil != null) {
        o.put("lease_expires", leaseUntil.toString());
        o.put("lease_left_ms", Math.max(0, leaseUntil.toEpochMilli() - now.toEpochMilli()));
      }
      return o;
    }

    public synchronized List<Event> events() {
      return new ArrayList<>(events);
    }
  }

  private final Map<TaskKey, History> histories = new LinkedHashMap<>();

  /** An attempt started: a history for the task (an earlier attempt's events stay before it). */
  public void started(TaskKey key, int attempt, Instant at) {
    History h;
    synchronized (this) {
      h = histories.remove(key); // re-inserted as the newest
      if (h == null) h = new History(key);
      synchronized (h) {
        h.attempt = attempt;
        h.startedAt = at;
        h.pgid = 0;
        h.running = true;
        h.leaseUntil = null;
      }
      histories.put(key, h);
      trim();
    }
    h.add("started", "attempt " + attempt, at);
  }

  /** The task's lease runs until {@code until} (claimed or renewed then). */
  public void leased(TaskKey key, Instant until) {
    History h = get(key);
    if (h == null) return;
    synchronized (h) {
      h.leaseUntil = until;
    }
  }

  /** Which route runs the task (when the service has several). */
  public void route(TaskKey key, String route) {
    History h = get(key);
    if (h == null) return;
    synchronized (h) {
      h.route = route;
    }
  }

  /** The agent's process group, once it runs. */
  public void spawned(TaskKey key, long pgid) {
    History h = get(key);
    if (h == null) return;
    synchronized (h) {
      h.pgid = pgid;
    }
  }

  /** A line the agent printed ({@code stream} stdout or stderr). */
  public void line(TaskKey key, String stream, String line, Instant at) {
    History h = get(key);
    if (h != null) h.add(stream, line.length() > LINE_KEPT ? line.substring(0, LINE_KEPT) + "…" : line, at);
  }

  /** Anything else worth a line: a lease renewal, a stop asked for. */
  public void note(TaskKey key, String type, String text, Instant at) {
    History h = get(key);
    if (h != null) h.add(type, text, at);
  }

  /** The attempt ended with {@code outcome}; its history stays for a late reader. */
  public void finished(TaskKey key, String outcome, Instant at) {
    History h = get(key);
    if (h == null) return;
    synchronized (h) {
      h.running = false;
    }
    h.add("finished", outcome, at);
  }

  public synchronized History get(TaskKey key) {
    return histories.get(key);
  }

  /** The histories of running agents, oldest start first. */
  public synchronized List<History> running() {
    List<History> out = new ArrayList<>();
    for (History h : histories.values()) if (h.running()) out.add(h);
    return out;
  }

  /** Keeps every running task's history and the newest finished ones. */
  private void trim() {
    int finished = 0;
    for (History h : histories.values()) if (!h.running()) finished++;
    var it = histories.values().iterator();
    while (finished > FINISHED_KEPT && it.hasNext()) {
      if (!it.next().running()) {
        it.remove();
        finished--;
      }
    }
  }
}
