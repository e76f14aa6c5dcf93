package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * The benchmark harness (issue 7; not a unit test). For each transport of our service (or for an
 * external executor command) it starts a fresh dev server and the executor as separate
 * processes, with the recording agent, and measures start to ready, idle and peak memory, pickup
 * latency, throughput and dependency-chain handoff; prints a table and writes JSON. Entry point:
 * {@code bench/run}, which builds and runs {@link #main} with target/ats-dispatch.jar and
 * target/test-classes on the classpath. {@link #run} is the same without {@code System.exit}.
 */
public final class Harness {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Harness() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, true));
  }

  /**
   * Runs the whole benchmark; returns 0 when every workload was measured, 1 when some failed (the
   * JSON still has the rest), 2 for bad options, 3 on the overall timeout.
   */
  public static int run(String[] args, PrintStream out, boolean haltOnTimeout) {
    if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
      out.print(BenchOptions.USAGE);
      return 0;
    }
    BenchOptions opt;
    try {
      opt = BenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("bench: " + e.getMessage());
      System.err.print(BenchOptions.USAGE);
      return 2;
    }
    Children children = new Children();
    Thread hook = new Thread(children::killAll, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    Thread main = Thread.currentThread();
    AtomicBoolean timedOut = new AtomicBoolean();
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(opt.timeout().toMillis());
      } catch (InterruptedException e) {
        return;
      }
      timedOut.set(true);
      System.err.println("bench: overall timeout (" + human(opt.timeout()) + "); stopping everything");
      children.killAll();
      main.interrupt();
      if (haltOnTimeout) {
        try {
          Thread.sleep(15_000);
        } catch (InterruptedException e) {
          return;
        }
        children.killAll();
        Runtime.getRuntime().halt(3);
      }
    }, "bench-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    ObjectNode doc = JsonNodeFactory.instance.objectNode();
    Path base = null;
    boolean failed = false;
    try {
      base = Files.createTempDirectory("ats-bench");
      header(doc, opt);
      ArrayNode results = doc.putArray("results");
      List<String> targets = opt.external() != null ? List.of("external") : opt.transports();
      for (String t : targets) {
        out.println("bench: measuring " + (t.equals("external") ? "external: " + opt.external() : "ats-dispatch, " + t
            + " transport") + " ...");
        if (timedOut.get()) break;
        ExecutorRun run = new ExecutorRun(opt, children, t, base.resolve(t));
        results.add(run.result()); // filled as it goes: a timeout keeps what was measured
        run.measure();
        if (!run.result().path("errors").isEmpty()) failed = true;
      }
      if (opt.compare() != null) doc.set("comparison", compare(results.get(0), JSON.readTree(opt.compare().toFile())));
    } catch (InterruptedException e) {
      failed = true;
      doc.put("error", "interrupted");
    } catch (IOException | RuntimeException e) {
      failed = true;
      doc.put("error", e.toString());
    } finally {
      watchdog.interrupt();
      children.killAll();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down: the hook runs anyway
      }
    }
    if (timedOut.get()) doc.put("error", "overall timeout after " + human(opt.timeout()));
    doc.put("finished_at", Instant.now().toString());
    try {
      Path file = opt.out();
      if (file.getParent() != null) Files.createDirectories(file.getParent());
      JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), doc);
      out.println();
      out.print(table(doc));
      out.println("JSON: " + file);
    } catch (IOException e) {
      System.err.println("bench: cannot write " + opt.out() + ": " + e.getMessage());
      failed = true;
    }
    if (base != null) {
      if (opt.keep() || failed) {
        out.println("logs and databases kept in " + base);
      } else {
        delete(base);
      }
    }
    if (timedOut.get()) return 3;
    return failed ? 1 : 0;
  }

  private static void header(ObjectNode doc, BenchOptions opt) {
    doc.put("harness", "ats-dispatch bench/run");
    doc.put("started_at", Instant.now().toString());
    ObjectNode host = doc.putObject("host");
    host.put("cores", Runtime.getRuntime().availableProcessors());
    host.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    host.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    ObjectNode o = doc.putObject("options");
    o.put("quick", opt.quick());
    o.put("warmup", opt.warmup());
    o.put("warmup_burst", opt.warmupBurst());
    o.put("tasks_latency", opt.latencyTasks());
    o.put("tasks_throughput", opt.throughputTasks());
    o.put("soak", opt.soakTasks());
    o.put("pending", opt.pendingTasks());
    o.put("concurrency", opt.concurrency());
    o.put("chain", opt.chain());
    o.put("jvm_opts", String.join(" ", opt.jvmOpts()));
    o.put("server_jvm_opts", String.join(" ", opt.serverJvmOpts()));
    ObjectNode serviceEnv = o.putObject("service_env");
    opt.serviceEnv().forEach(serviceEnv::put);
    o.put("sandbox", opt.sandbox());
    if (opt.external() != null) o.put("external", opt.external());
    ArrayNode notes = doc.putArray("notes");
    notes.add("warm-up: warmup_burst tasks created at once and run through, then warmup tasks one at a time, "
        + "none measured; with 20 one-at-a-time tasks only, the dev server's and the service's JIT compilers "
        + "were still at work through the latency run (its first 100 pickups had twice the median of its last 100)");
    notes.add("pickup latency: agent start timestamp minus the time just before the create request; "
        + "tasks created one at a time, each after the previous one was picked up");
    notes.add("throughput: first create to last completion in ATS");
    notes.add("chain handoff: start of link i+1 minus end of link i (agent timestamps)");
    notes.add("memory: VmRSS of the executor process (rss) and of its process tree without the "
        + "recording agents (tree: includes the ats processes of the cli transport)");
    notes.add("cli figures measure the stand-in ats CLI (src/test/resources/ats-standin/ats.js on Node), "
        + "not the real ats 1.3.0");
  }

  // ---- comparison ---------------------------------------------------------------------------

  /** external ÷ ours for each figure, against each of our transports in {@code ours}. */
  static ObjectNode compare(JsonNode external, JsonNode ours) {
    ObjectNode c = JsonNodeFactory.instance.objectNode();
    for (JsonNode r : ours.path("results")) {
      if (!r.path("executor").asText().equals(ExecutorRun.OURS)) continue;
      ObjectNode x = c.putObject(r.path("transport").asText());
      for (String[] f : FIGURES) {
        JsonNode a = external.at(f[1]);
        JsonNode b = r.at(f[1]);
        if (a.isNumber() && b.isNumber() && b.asDouble() != 0) {
          x.put(f[0], Math.round(a.asDouble() / b.asDouble() * 100) / 100.0);
        }
      }
    }
    return c;
  }

  private static final String[][] FIGURES = {
      {"start_to_ready", "/start_to_ready/ms"},
      {"latency_p50", "/latency/p50_ms"},
      {"latency_p99", "/latency/p99_ms"},
      {"throughput", "/throughput/tasks_per_s"},
      {"chain_p50", "/chain/p50_ms"},
      {"chain_p99", "/chain/p99_ms"},
      {"rss_idle", "/rss/idle_mb"},
      {"rss_peak", "/rss/peak_mb"}};

  // ---- table --------------------------------------------------------------------------------

  static String table(JsonNode doc) {
    List<String[]> rows = new ArrayList<>();
    JsonNode rs = doc.path("results");
    for (String w : List.of("ready", "latency", "breakdown", "throughput", "chain", "rss", "soak", "pending")) {
      for (JsonNode r : rs) {
        if (w.equals("breakdown") && !r.has("pickup_breakdown")) continue;
        if ((w.equals("soak") || w.equals("pending")) && !r.has(w)) continue;
        rows.add(new String[] {label(w, doc), r.path("transport").asText(), cell(w, r)});
      }
    }
    for (JsonNode r : rs) {
      for (JsonNode e : r.path("errors")) rows.add(new String[] {"error", r.path("transport").asText(), e.asText()});
    }
    JsonNode cmp = doc.path("comparison");
    for (var it = cmp.fields(); it.hasNext(); ) {
      var e = it.next();
      List<String> parts = new ArrayList<>();
      e.getValue().fields().forEachRemaining(f -> parts.add(f.getKey() + " " + f.getValue().asText()));
      if (!parts.isEmpty()) rows.add(new String[] {"ratio external / ours", e.getKey(), String.join(", ", parts)});
    }
    int w0 = Stream.concat(Stream.of("workload"), rows.stream().map(r -> r[0])).mapToInt(String::length).max().orElse(8);
    int w1 = Stream.concat(Stream.of("transport"), rows.stream().map(r -> r[1])).mapToInt(String::length).max().orElse(9);
    StringBuilder b = new StringBuilder();
    JsonNode host = doc.path("host");
    b.append(String.format(Locale.ROOT, "ats-dispatch benchmark (%d cores, %s, %s)%n", host.path("cores").asInt(),
        host.path("os").asText(), host.path("java").asText()));
    String fmt = "%-" + w0 + "s  %-" + w1 + "s  %s%n";
    b.append(String.format(Locale.ROOT, fmt, "workload", "transport", "result"));
    for (String[] r : rows) b.append(String.format(Locale.ROOT, fmt, (Object[]) r));
    if (rs.findValues("transport").stream().anyMatch(t -> t.asText().equals("cli"))) {
      b.append("cli: measures the stand-in ats CLI (src/test/resources/ats-standin/ats.js on Node), not the real ats.\n");
    }
    if (doc.has("error")) b.append("error: ").append(doc.path("error").asText()).append('\n');
    return b.toString();
  }

  private static String label(String w, JsonNode doc) {
    JsonNode o = doc.path("options");
    return switch (w) {
      case "ready" -> "start to ready";
      case "latency" -> "pickup latency (n=" + o.path("tasks_latency").asInt() + ")";
      case "throughput" -> "throughput (n=" + o.path("tasks_throughput").asInt() + ", c=" + o.path("concurrency").asInt() + ")";
      case "chain" -> "chain handoff (n=" + o.path("chain").asInt() + ")";
      case "breakdown" -> "  pickup breakdown";
      case "soak" -> "memory over " + o.path("soak").asInt() + " more tasks";
      case "pending" -> "memory, " + o.path("pending").asInt() + " pending";
      default -> "memory RSS idle / peak";
    };
  }

  private static String cell(String w, JsonNode r) {
    switch (w) {
      case "breakdown":
        return PickupBreakdown.line(r.path("pickup_breakdown"));
      case "soak": {
        JsonNode x = r.path("soak");
        JsonNode st = x.path("settled_mb");
        if (st.size() == 0) return "-";
        double maxPeak = 0;
        for (JsonNode v : x.path("peak_mb")) maxPeak = Math.max(maxPeak, v.asDouble());
        return String.format(Locale.ROOT, "settled %.0f MB after round 1 -> %.0f MB after round %d (%.2fx), peak %.0f MB",
            st.get(0).asDouble(), st.get(st.size() - 1).asDouble(), st.size(), x.path("growth").asDouble(), maxPeak);
      }
      case "pending": {
        JsonNode x = r.path("pending");
        if (!x.has("waiting_mb")) return "-";
        return String.format(Locale.ROOT, "%.0f MB holding -> %.0f MB with them waiting (%.2fx), peak %.0f MB, after %.0f MB",
            x.path("holding_mb").asDouble(), x.path("waiting_mb").asDouble(), x.path("growth").asDouble(),
            x.path("peak_mb").asDouble(), x.path("after_mb").asDouble());
      }
      case "ready": {
        JsonNode x = r.path("start_to_ready");
        if (!x.has("ms")) return "-";
        return fmtMs(x.path("ms").asDouble()) + " (" + x.path("method").asText() + ")";
      }
      case "latency": {
        JsonNode x = r.path("latency");
        if (x.has("error")) return "error";
        if (!x.has("p50_ms")) return "-";
        return "p50 " + fmtMs(x.path("p50_ms").asDouble()) + ", p99 " + fmtMs(x.path("p99_ms").asDouble())
            + ", max " + fmtMs(x.path("max_ms").asDouble());
      }
      case "throughput": {
        JsonNode x = r.path("throughput");
        if (x.has("error")) return "error";
        if (!x.has("tasks_per_s")) return "-";
        return String.format(Locale.ROOT, "%.1f tasks/s (%.1f s)", x.path("tasks_per_s").asDouble(),
            x.path("seconds").asDouble());
      }
      case "chain": {
        JsonNode x = r.path("chain");
        if (!x.has("status")) return "-";
        if (!x.path("status").asText().equals("ok")) {
          return x.path("status").asText() + " (" + x.path("reason").asText() + ")";
        }
        return "p50 " + fmtMs(x.path("p50_ms").asDouble()) + ", p99 " + fmtMs(x.path("p99_ms").asDouble())
            + ", max " + fmtMs(x.path("max_ms").asDouble()) + " per link";
      }
      default: {
        JsonNode x = r.path("rss");
        if (!x.has("idle_mb")) return "-";
        String s = String.format(Locale.ROOT, "%.0f MB / %s", x.path("idle_mb").asDouble(),
            x.has("peak_mb") ? String.format(Locale.ROOT, "%.0f MB", x.path("peak_mb").asDouble()) : "-");
        if (x.has("peak_tree_mb") && x.path("peak_tree_mb").asDouble() > x.path("peak_mb").asDouble() + 1) {
          s += String.format(Locale.ROOT, " (process tree %.0f MB / %.0f MB)", x.path("idle_tree_mb").asDouble(),
              x.path("peak_tree_mb").asDouble());
        }
        return s;
      }
    }
  }

  private static String fmtMs(double ms) {
    if (ms >= 1000) return String.format(Locale.ROOT, "%.2f s", ms / 1000);
    return String.format(Locale.ROOT, ms >= 100 ? "%.0f ms" : "%.1f ms", ms);
  }

  private static String human(java.time.Duration d) {
    return d.toSeconds() % 60 == 0 ? d.toMinutes() + " min" : d.toSeconds() + " s";
  }

  private static void delete(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory; the OS cleans it up eventually
    }
  }
}
