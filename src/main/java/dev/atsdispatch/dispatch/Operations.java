package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.status.AgentEvents;
import dev.atsdispatch.status.Readiness;
import dev.atsdispatch.status.Recent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What the operator's dashboard reads and does, over every route of the service: the overview
 * (per route counts, health, the last hour's throughput), one task (its state, attempts from its
 * ledger, agent events, logs), the graph of waiting tasks, recent failures, and the actions
 * cancel, give back and reopen. Nothing of an encrypted task's content is returned. Called on
 * the status port's HTTP threads; questions for an engine's loop wait at most {@link #LOOP_WAIT_MS}.
 */
public final class Operations {
  static final long LOOP_WAIT_MS = 3000;
  private static final JsonNodeFactory J = JsonNodeFactory.instance;

  /** One route: its name (null when the service has one), its engine, and its readiness. */
  public record Route(String name, Engine engine, Readiness readiness) {}

  /** What an action asked of the dashboard did not do, with why; {@code status} is the HTTP status. */
  public static final class Refused extends RuntimeException {
    private final int status;

    public Refused(int status, String message) {
      super(message);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }

  private final List<Route> routes;
  private final AgentEvents agents;

  public Operations(List<Route> routes, AgentEvents agents) {
    this.routes = List.copyOf(routes);
    this.agents = agents;
  }

  public AgentEvents agents() {
    return agents;
  }

  /** Per route: what runs, waits and is paused; health; throughput per minute; totals. */
  public ObjectNode overview() {
    ObjectNode o = J.objectNode();
    ArrayNode rs = o.putArray("routes");
    int running = 0, waiting = 0, deferred = 0, awaiting = 0, outbox = 0;
    boolean ready = true;
    List<Recent> recents = new ArrayList<>();
    for (Route r : routes) {
      ObjectNode s = r.engine().statusNow();
      s.put("route", r.name() == null ? "default" : r.name());
      s.put("outbox", r.engine().outboxDepth());
      s.put("can_reopen", r.engine().canReopen());
      boolean subscribed = safe(() -> r.readiness().subscribed());
      boolean reachable = safe(() -> r.readiness().atsReachable());
      String detail = "";
      try {
        detail = r.readiness().detail();
      } catch (RuntimeException e) {
        detail = "readiness check failed: " + e.getClass().getSimpleName();
      }
      ObjectNode h = s.putObject("health").put("subscribed", subscribed).put("source_reachable", reachable);
      if (detail != null && !detail.isEmpty()) h.put("detail", detail);
      ready &= subscribed && reachable;
      running += s.path("running").asInt();
      waiting += s.path("waiting").asInt();
      deferred += s.path("deferred").asInt();
      awaiting += s.path("awaiting_answer").asInt();
      outbox += r.engine().outboxDepth();
      rs.add(s);
      recents.add(r.engine().recent());
    }
    o.putObject("totals").put("running", running).put("waiting", waiting).put("deferred", deferred)
        .put("awaiting_answer", awaiting).put("outbox", outbox).put("ready", ready);
    o.set("per_minute", Recent.series(recents));
    return o;
  }

  private static boolean safe(java.util.function.BooleanSupplier b) {
    try {
      return b.getAsBoolean();
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Recent failures of every route, newest first. */
  public ArrayNode failures() {
    List<Object[]> all = new ArrayList<>();
    for (Route r : routes) {
      for (Recent.Failure f : r.engine().recent().failures()) all.add(new Object[] {r, f});
    }
    all.sort(Comparator.comparing((Object[] x) -> ((Recent.Failure) x[1]).at()).reversed());
    ArrayNode a = J.arrayNode();
    for (Object[] x : all) {
      Route r = (Route) x[0];
      Recent.Failure f = (Recent.Failure) x[1];
      ObjectNode n = f.json();
      n.put("route", r.name() == null ? "default" : r.name());
      n.put("can_reopen", r.engine().canReopen() && f.key().source().equals(r.engine().sourceName()));
      a.add(n);
    }
    return a;
  }

  /** The questions agents asked that wait for an answer, oldest first (an encrypted task's text is not shown). */
  public ArrayNode questions() {
    ArrayNode a = J.arrayNode();
    for (Route r : routes) {
      for (Questions.Open q : Questions.read(r.engine().stateDir().root())) {
        ObjectNode o = a.addObject().put("task", q.key().toString()).put("id", q.key().id())
            .put("route", r.name() == null ? "default" : r.name()).put("number", q.number());
        if (q.text() != null) o.put("text", q.text());
        o.put("encrypted", q.encrypted()).put("asked_at", q.askedAt().toString()).put("answered", q.answered());
      }
    }
    return a;
  }

  /** Answers the question {@code key} waits on (as `ats-dispatch answer` does); throws {@link Refused} when it waits on none. */
  public String answer(TaskKey key, String text) {
    if (text == null || text.isBlank()) throw new Refused(400, "the answer is empty");
    String why = null;
    for (Route r : routes) {
      try {
        Questions.Open q = Questions.give(r.engine().stateDir().root(), key, text.strip());
        return "answered question " + q.number() + " of " + key + "; it resumes with the answer";
      } catch (Questions.NotAwaiting e) {
        if (why == null || !e.getMessage().endsWith("waits for no answer")) why = e.getMessage();
      } catch (java.io.IOException e) {
        throw new Refused(500, "cannot write the answer: " + e.getMessage());
      }
    }
    throw new Refused(409, why == null ? "task " + key.display() + " waits for no answer" : why);
  }

  /** One task, or null when no route knows it. */
  public ObjectNode task(TaskKey key) {
    for (Route r : routes) {
      ObjectNode held = await(r.engine().heldNow(key));
      Path ledger = r.engine().stateDir().taskDir(key).resolve("events.jsonl");
      Recent.Failure failure = null;
      for (Recent.Failure f : r.engine().recent().failures()) {
        if (f.key().equals(key)) {
          failure = f;
          break;
        }
      }
      if (held == null && failure == null && !Files.exists(ledger)) continue;
      ObjectNode o = J.objectNode().put("task", key.toString()).put("id", key.id()).put("source", key.source())
          .put("route", r.name() == null ? "default" : r.name());
      if (held != null) {
        o.setAll(held);
      } else {
        o.put("state", "not held here");
      }
      if (failure != null) {
        if (failure.title() != null && !o.has("title")) o.put("title", failure.title());
        o.set("failure", failure.json());
      }
      o.put("can_reopen", r.engine().canReopen() && key.source().equals(r.engine().sourceName()));
      List<JsonNode> events = r.engine().stateDir().ledger(key).events();
      o.set("attempts", attempts(events));
      ArrayNode ev = o.putArray("ledger");
      events.forEach(ev::add);
      o.set("logs", logs(r.engine().stateDir(), key));
      AgentEvents.History h = agents == null ? null : agents.get(key);
      if (h != null) {
        ObjectNode agent = h.summary(Instant.now());
        ArrayNode list = agent.putArray("events");
        for (AgentEvents.Event e : h.events()) list.add(e.json());
        o.set("agent", agent);
      }
      return o;
    }
    return null;
  }

  /** Attempts as the ledger tells them: number, outcome, strike, exit, duration, cost and tokens, reported reason. */
  static ArrayNode attempts(List<JsonNode> events) {
    Map<Integer, ObjectNode> by = new LinkedHashMap<>();
    int last = 0;
    for (JsonNode e : events) {
      String type = e.path("event").asText();
      int n = e.path("attempt").asInt(last);
      switch (type) {
        case "attempt_started" -> {
          last = n;
          by.computeIfAbsent(n, k -> J.objectNode().put("attempt", k)).put("started_at", e.path("ts").asText());
        }
        case "attempt_finished" -> {
          ObjectNode a = by.computeIfAbsent(n, k -> J.objectNode().put("attempt", k));
          a.put("finished_at", e.path("ts").asText());
          for (String f : List.of("outcome", "strike", "exit_code", "duration_ms", "cost_usd", "input_tokens",
              "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "num_turns", "session_id", "is_error")) {
            if (e.has(f)) a.set(f, e.get(f));
          }
        }
        case "result_queued" -> {
          ObjectNode a = by.computeIfAbsent(n, k -> J.objectNode().put("attempt", k));
          a.put("result", e.path("action").asText());
          if (e.has("reason")) a.put("reason", e.get("reason").asText());
        }
        case "released" -> {
          ObjectNode a = by.get(last);
          if (a != null) a.put("released", e.path("why").asText());
        }
        default -> { }
      }
    }
    ArrayNode out = J.arrayNode();
    by.values().forEach(out::add);
    return out;
  }

  private static final java.util.regex.Pattern LOG = java.util.regex.Pattern.compile("attempt-(\\d+)\\.(stdout|stderr)\\.(log|sealed)");

  /** The attempt logs on disk: attempt, stream, size, and whether sealed (then only `ats-dispatch logs` opens it). */
  private static ArrayNode logs(StateDir state, TaskKey key) {
    ArrayNode a = J.arrayNode();
    Path dir = state.taskDir(key);
    if (!Files.isDirectory(dir)) return a;
    List<ObjectNode> found = new ArrayList<>();
    try (var s = Files.list(dir)) {
      s.forEach(p -> {
        var m = LOG.matcher(p.getFileName().toString());
        if (!m.matches()) return;
        long size;
        try {
          size = Files.size(p);
        } catch (java.io.IOException e) {
          return;
        }
        found.add(J.objectNode().put("attempt", Integer.parseInt(m.group(1))).put("stream", m.group(2))
            .put("bytes", size).put("sealed", m.group(3).equals("sealed")));
      });
    } catch (java.io.IOException e) {
      return a;
    }
    found.sort(Comparator.comparingInt((ObjectNode n) -> n.get("attempt").asInt()).thenComparing(n -> n.get("stream").asText()));
    found.forEach(a::add);
    return a;
  }

  /** An attempt's plain log file, or null (no such log, or a sealed one). */
  public Path log(TaskKey key, int attempt, String stream) {
    if (!stream.equals("stdout") && !stream.equals("stderr")) return null;
    for (Route r : routes) {
      StateDir s = r.engine().stateDir();
      Path p = stream.equals("stdout") ? s.stdoutLog(key, attempt, false) : s.stderrLog(key, attempt, false);
      if (Files.isRegularFile(p)) return p;
    }
    return null;
  }

  /**
   * The tasks waiting on others, as a graph: nodes (waiting tasks and what they wait for, each
   * with its status), edges from a task to each dependency, and which nodes are blocked (a
   * dependency failed) or on a cycle.
   */
  public ObjectNode deps() {
    Map<String, ObjectNode> nodes = new LinkedHashMap<>();
    List<String[]> edges = new ArrayList<>();
    for (Route r : routes) {
      for (ObjectNode t : await(r.engine().deferredTasksNow())) {
        String k = t.get("task").asText();
        ObjectNode n = nodes.computeIfAbsent(k, x -> J.objectNode());
        n.setAll(t);
        n.put("route", r.name() == null ? "default" : r.name());
        n.put("status", "waiting");
        boolean blocked = false;
        for (JsonNode d : t.path("depends_on")) {
          String dk = d.get("task").asText();
          String st = d.get("status").asText();
          edges.add(new String[] {k, dk});
          ObjectNode dn = nodes.computeIfAbsent(dk, x -> J.objectNode().put("task", dk).put("id", d.get("id").asText()));
          if (!dn.has("status") || !dn.get("status").asText().equals("waiting")) dn.put("status", st);
          blocked |= st.equals("failed") || st.equals("cancelled") || st.equals("rejected") || st.equals("not_found");
        }
        n.put("blocked", blocked);
        n.remove("depends_on");
      }
    }
    // a dependency this service runs is in progress, whatever its last offer said
    for (ObjectNode n : nodes.values()) {
      if (n.path("status").asText().equals("waiting") || agents == null) continue;
      AgentEvents.History h = agents.get(TaskKey.parse(n.get("task").asText()));
      if (h != null && h.running()) n.put("status", "in_progress");
    }
    // cycles: strongly connected components of more than one node, or a self-loop
    Map<String, List<String>> out = new HashMap<>();
    for (String[] e : edges) out.computeIfAbsent(e[0], x -> new ArrayList<>()).add(e[1]);
    for (String k : cycleMembers(nodes.keySet(), out)) nodes.get(k).put("cycle", true);
    ObjectNode g = J.objectNode();
    ArrayNode ns = g.putArray("nodes");
    nodes.values().forEach(ns::add);
    ArrayNode es = g.putArray("edges");
    for (String[] e : edges) es.addObject().put("from", e[0]).put("to", e[1]);
    return g;
  }

  /** Tarjan's algorithm, iterative (a long chain must not overflow the stack). */
  static java.util.Set<String> cycleMembers(java.util.Collection<String> all, Map<String, List<String>> out) {
    Map<String, Integer> index = new HashMap<>();
    Map<String, Integer> low = new HashMap<>();
    Deque<String> stack = new ArrayDeque<>();
    java.util.Set<String> onStack = new java.util.HashSet<>();
    java.util.Set<String> members = new java.util.HashSet<>();
    int[] counter = {0};
    for (String root : all) {
      if (index.containsKey(root)) continue;
      Deque<Object[]> work = new ArrayDeque<>(); // {node, next edge index}
      work.push(new Object[] {root, 0});
      index.put(root, counter[0]);
      low.put(root, counter[0]++);
      stack.push(root);
      onStack.add(root);
      while (!work.isEmpty()) {
        Object[] top = work.peek();
        String v = (String) top[0];
        List<String> next = out.getOrDefault(v, List.of());
        int i = (Integer) top[1];
        if (i < next.size()) {
          top[1] = i + 1;
          String w = next.get(i);
          if (!index.containsKey(w)) {
            index.put(w, counter[0]);
            low.put(w, counter[0]++);
            stack.push(w);
            onStack.add(w);
            work.push(new Object[] {w, 0});
          } else if (onStack.contains(w)) {
            low.put(v, Math.min(low.get(v), index.get(w)));
          }
          continue;
        }
        work.pop();
        if (!work.isEmpty()) {
          String parent = (String) work.peek()[0];
          low.put(parent, Math.min(low.get(parent), low.get(v)));
        }
        if (low.get(v).equals(index.get(v))) {
          List<String> comp = new ArrayList<>();
          String w;
          do {
            w = stack.pop();
            onStack.remove(w);
            comp.add(w);
          } while (!w.equals(v));
          if (comp.size() > 1 || out.getOrDefault(v, List.of()).contains(v)) members.addAll(comp);
        }
      }
    }
    return members;
  }

  /**
   * Does {@code action} (cancel, give-back, reopen) to the task; returns what was done, or throws
   * {@link Refused} saying why not.
   */
  public String act(TaskKey key, String action) {
    switch (action) {
      case "cancel", "give-back" -> {
        boolean giveBack = action.equals("give-back");
        for (Route r : routes) {
          if (Boolean.TRUE.equals(await(r.engine().operatorStop(key, giveBack)))) {
            return giveBack ? "giving " + key + " back: its agent is stopping and the task returns to its queue"
                : "cancelling " + key + ": its agent is stopping and the task fails as cancelled by an operator";
          }
        }
        throw new Refused(409, key + " is not running here");
      }
      case "reopen" -> {
        for (Route r : routes) {
          if (!key.source().equals(r.engine().sourceName())) continue;
          if (!r.engine().canReopen()) throw new Refused(409, "source " + key.source() + " cannot reopen a task");
          try {
            r.engine().reopen(key, "Reopened by an operator (ats-dispatch dashboard)");
          } catch (SourceException e) {
            throw new Refused(e.kind() == SourceException.Kind.NOT_FOUND ? 404 : 409, "cannot reopen " + key + ": " + e.getMessage());
          }
          return "reopened " + key;
        }
        throw new Refused(404, "no route takes tasks from source " + key.source());
      }
      default -> throw new Refused(400, "unknown action " + action + " (cancel, give-back or reopen)");
    }
  }

  private static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get(LOOP_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new Refused(503, "the engine did not answer within " + LOOP_WAIT_MS + " ms");
    } catch (ExecutionException e) {
      throw new Refused(500, "the engine failed to answer: " + e.getCause().getClass().getSimpleName());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Refused(503, "interrupted");
    }
  }
}
