package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What the service knows of the dependency graph: each task's {@code depends_on} ids and the last
 * status seen for every task involved, and a verdict for a task (ready, waiting, blocked). Pure
 * bookkeeping with no I/O; owned by the engine's loop thread, which feeds it events and lookup
 * answers. Lives as long as the engine.
 */
public final class Dependencies {
  /** What a task's dependencies say about running it now. */
  public sealed interface Verdict {}

  /** Every dependency is completed (or there are none). */
  public record Ready() implements Verdict {}

  /** Some dependency is not finished; {@code lookup} are ids whose status is not known yet. */
  public record Wait(Set<TaskKey> unmet, Set<TaskKey> lookup) implements Verdict {}

  /** The task can never run: the reason names the ids. */
  public record Blocked(String reason) implements Verdict {}

  /** The result of reading a {@code depends_on} value. */
  public record Parsed(List<TaskKey> ids, List<String> invalid, int given) {
    public static final Parsed NONE = new Parsed(List.of(), List.of(), 0);

    public boolean isEmpty() {
      return ids.isEmpty() && invalid.isEmpty();
    }
  }

  /** Beyond this many ids the oldest edges are forgotten (only tasks with dependencies have them). */
  static final int REMEMBERED = 100_000;

  /**
   * Statuses are seen for every task that goes by, depending on others or not: the newest this
   * many are kept (a forgotten one is looked up again), so that the memory they take stops
   * growing within a few thousand tasks rather than after a hundred thousand.
   */
  static final int STATUSES_REMEMBERED = 10_000;

  private final Map<TaskKey, List<TaskKey>> edges = bounded(REMEMBERED);
  private final Map<TaskKey, TaskStatus> status = bounded(STATUSES_REMEMBERED);
  private final Set<TaskKey> missing = java.util.Collections.newSetFromMap(bounded(STATUSES_REMEMBERED));
  private final Map<TaskKey, String> inCycle = bounded(REMEMBERED);
  /** Failed tasks whose source said they are parked for a question: not finished. */
  private final Set<TaskKey> parked = java.util.Collections.newSetFromMap(bounded(STATUSES_REMEMBERED));
  private final java.util.function.Predicate<TaskKey> parkedHere;

  /** Nothing is parked but what a source says is. */
  public Dependencies() {
    this(k -> false);
  }

  /**
   * {@code parkedHere}: whether this service parked a task for a question (its state directory
   * knows); such a task that shows failed is not finished either. Called on the owner's thread.
   */
  public Dependencies(java.util.function.Predicate<TaskKey> parkedHere) {
    this.parkedHere = parkedHere;
  }

  private static <V> Map<TaskKey, V> bounded(int max) {
    return new LinkedHashMap<>(256, 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<TaskKey, V> eldest) {
        return size() > max;
      }
    };
  }

  /**
   * Reads {@code payload.depends_on} the way the JavaScript version does: a string, a number or an
   * array of either. Duplicates are dropped; anything that is not a positive whole number is kept
   * aside as invalid so the task can be failed naming it.
   */
  /** The ids only, as ATS numbers (for the admin commands, which speak ATS). */
  public static List<Long> atsIds(JsonNode dependsOn) {
    return parse(dependsOn, "ats").ids().stream().map(TaskKey::numericId).toList();
  }

  public static Parsed parse(JsonNode dependsOn, String source) {
    if (dependsOn == null || dependsOn.isMissingNode() || dependsOn.isNull()) return Parsed.NONE;
    List<JsonNode> items = new ArrayList<>();
    if (dependsOn.isArray()) dependsOn.forEach(items::add);
    else items.add(dependsOn);
    Set<TaskKey> ids = new LinkedHashSet<>();
    Set<String> invalid = new LinkedHashSet<>();
    for (JsonNode n : items) {
      String text = n.isTextual() ? n.asText().trim() : n.isIntegralNumber() ? n.asText() : n.toString();
      if (text.startsWith("#")) text = text.substring(1);
      long id = text.matches("[0-9]{1,18}") ? Long.parseLong(text) : 0;
      if (id <= 0) {
        if (invalid.size() < 10) invalid.add(text.length() > 40 ? text.substring(0, 40) + "..." : text);
      } else {
        ids.add(TaskKey.of(source, id));
      }
    }
    return new Parsed(List.copyOf(ids), List.copyOf(invalid), items.size());
  }

  /** Records what a task depends on (from its payload, after decryption for encrypted tasks). */
  public void edges(TaskKey id, List<TaskKey> dependsOn) {
    edges.put(id, List.copyOf(dependsOn));
  }

  public boolean knowsEdges(TaskKey id) {
    return edges.containsKey(id);
  }

  /** Records a task's current status, from an event, a listing or a lookup. */
  public void status(TaskKey id, TaskStatus s) {
    status(id, s, false);
  }

  /** As {@link #status(TaskKey, TaskStatus)}; {@code parked}: the source says it waits for an answer. */
  public void status(TaskKey id, TaskStatus s, boolean parked) {
    missing.remove(id);
    status.put(id, s);
    if (parked && s == TaskStatus.FAILED) this.parked.add(id);
    else this.parked.remove(id);
  }

  /**
   * Whether a task shows failed only because it waits for the answer to a question (parked by
   * this service, or by another whose fail reason says so): it will be reopened, so it is
   * unfinished for the tasks that depend on it.
   */
  public boolean waitsForAnswer(TaskKey id) {
    return status.get(id) == TaskStatus.FAILED && (parked.contains(id) || parkedHere.test(id));
  }

  /** Whether the task is known to be finished for good (a terminal status, not parked). */
  public boolean finished(TaskKey id) {
    TaskStatus s = status.get(id);
    return s != null && s.isTerminal() && !waitsForAnswer(id);
  }

  /** Records that ATS answered 404 for this id. */
  public void notFound(TaskKey id) {
    status.remove(id);
    parked.remove(id);
    missing.add(id);
  }

  public TaskStatus statusOf(TaskKey id) {
    return status.get(id);
  }

  /**
   * The verdict for task {@code id} with dependencies {@code deps}. Order: a self-dependency, then
   * a cycle, then finished dependencies that block (failed, cancelled, rejected, not found), then
   * unfinished ones (a failed one parked for a question is unfinished: {@link #waitsForAnswer}).
   */
  public Verdict verdict(TaskKey id, Parsed deps) {
    if (deps.ids().contains(id)) return new Blocked("Blocked: task " + id.display() + " depends on itself");
    if (!deps.invalid().isEmpty()) {
      return new Blocked("Blocked: invalid dependency id " + deps.invalid().stream()
          .map(s -> "\"" + s + "\"").collect(Collectors.joining(", ")));
    }
    String knownCycle = inCycle.get(id);
    if (knownCycle != null) return new Blocked(knownCycle);
    List<TaskKey> cycle = cycleThrough(id, deps.ids());
    if (cycle != null) {
      // every member gets the same reason, whichever of them is looked at first
      String reason = "Blocked: dependency cycle " + cycle.stream().map(TaskKey::display)
          .collect(Collectors.joining(" → "));
      for (TaskKey member : cycle) inCycle.put(member, reason);
      return new Blocked(reason);
    }
    Map<TaskKey, String> bad = new LinkedHashMap<>();
    Set<TaskKey> unmet = new LinkedHashSet<>();
    Set<TaskKey> lookup = new LinkedHashSet<>();
    for (TaskKey d : deps.ids()) {
      if (missing.contains(d)) {
        bad.put(d, "not found");
        continue;
      }
      TaskStatus s = status.get(d);
      if (s == null) {
        unmet.add(d);
        lookup.add(d);
      } else if (waitsForAnswer(d)) {
        unmet.add(d); // parked for a question: reopened once answered (looked up again by the refresh)
      } else if (s == TaskStatus.FAILED || s == TaskStatus.CANCELLED || s == TaskStatus.REJECTED) {
        bad.put(d, s.wire());
      } else if (s != TaskStatus.COMPLETED) {
        unmet.add(d);
        // an unfinished dependency's own dependencies are needed to see a cycle through it
        if (!edges.containsKey(d)) lookup.add(d);
      }
    }
    if (!bad.isEmpty()) {
      return new Blocked("Blocked: dependency " + bad.entrySet().stream()
          .map(x -> x.getKey().display() + " (" + x.getValue() + ")").collect(Collectors.joining(", "))
          + " failed");
    }
    if (unmet.isEmpty()) return new Ready();
    return new Wait(Set.copyOf(unmet), Set.copyOf(lookup));
  }

  /**
   * A cycle that leads from {@code id} back to itself through unfinished tasks, as the id path
   * (first and last element equal), or null. Finished tasks end a path: they can no longer wait.
   */
  List<TaskKey> cycleThrough(TaskKey id, Collection<TaskKey> deps) {
    Map<TaskKey, TaskKey> parent = new HashMap<>();
    Deque<TaskKey> todo = new ArrayDeque<>();
    for (TaskKey d : deps) {
      if (!parent.containsKey(d)) {
        parent.put(d, id);
        todo.add(d);
      }
    }
    while (!todo.isEmpty()) {
      TaskKey at = todo.poll();
      if (at.equals(id)) {
        List<TaskKey> path = new ArrayList<>();
        TaskKey x = id;
        do {
          path.add(0, x);
          x = parent.get(x);
        } while (!x.equals(id));
        path.add(0, id);
        return path;
      }
      if (finished(at)) continue;
      for (TaskKey next : edges.getOrDefault(at, List.of())) {
        if (!parent.containsKey(next)) {
          parent.put(next, at);
          todo.add(next);
        }
      }
    }
    return null;
  }
}
