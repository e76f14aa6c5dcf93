package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.testing.AtsStandIn;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.NatsServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * One executor under test (our service on one transport, or an external command) measured on
 * its own fresh dev server: start to ready, idle memory, pickup latency, throughput with peak
 * memory, and chain handoff. Lifecycle: {@link #measure()} once; it starts and stops every
 * process it needs (through {@link Children}) and fills {@link #result()} as JSON; a workload
 * that fails is recorded as an error and the next one still runs.
 */
final class ExecutorRun {
  static final String OURS = "ats-dispatch";
  static final String PROBE = "bench-probe-0";
  static final String NATS = "nats";
  static final String NATS_AGENT = "bencher";

  private final BenchOptions opt;
  private final Children children;
  private final String transport; // cli, http or external
  private final Path dir;
  private final ObjectNode result = JsonNodeFactory.instance.objectNode();
  private final ArrayNode errors = result.putArray("errors");
  private RecordingAgent agent;
  private BenchQueue queue;
  private String channel;
  private Process exec;
  private Integer statusPort;
  private boolean executorGone;
  private int natsPort;

  ExecutorRun(BenchOptions opt, Children children, String transport, Path dir) {
    this.opt = opt;
    this.children = children;
    this.transport = transport;
    this.dir = dir;
  }

  /** The result so far; complete once {@link #measure()} returns. */
  ObjectNode result() {
    return result;
  }

  void measure() throws InterruptedException {
    result.put("executor", transport.equals("external") ? "external" : OURS);
    result.put("transport", transport);
    if (transport.equals("external")) result.put("command", opt.external());
    if (transport.equals("cli")) {
      result.put("note", "cli figures measure the stand-in ats CLI (src/test/resources/ats-standin/ats.js on Node)");
    }
    Process server = null;
    try {
      Files.createDirectories(dir);
      agent = new RecordingAgent(dir);
      agent.selfCheck();
      String url;
      if (transport.equals(NATS)) {
        server = startNatsServer();
        url = "nats://127.0.0.1:" + natsPort;
        queue = new NatsQueue(url, NATS_AGENT, Duration.ofSeconds(30), 4);
        result.put("subject", "agent." + NATS_AGENT + ".tasks");
      } else {
        server = children.start(new ProcessBuilder(javaCommand(opt.serverJvmOpts(), "dev-server", "--port", "0", "--db",
            dir.resolve("ats.sqlite").toString())).directory(dir.toFile()), dir, "dev-server");
        url = Children.awaitStdout(server, dir, "dev-server", "ready at (http://\\S+)",
            Duration.ofSeconds(60)).group(1);
        channel = "bench-" + transport + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
        queue = new AtsQueue(url, channel);
        result.put("channel", channel);
      }
      startExecutor(url);
      step("idle memory", this::idleMemory);
      step("warm-up", () -> {
        for (int i = 0; i < opt.warmupBurst(); i++) create("bench-burst-" + i, null);
        awaitDrained(opt.stall());
        oneAtATime("warm", opt.warmup());
      });
      step("latency", () -> {
        long[] lat = oneAtATime("lat", opt.latencyTasks());
        result.set("latency", Stats.of(lat).json());
        if (!transport.equals("external")) {
          ObjectNode b = PickupBreakdown.of(dir.resolve("state"), queue.source(), agent, created);
          if (b != null) result.set("pickup_breakdown", b);
        }
      });
      step("throughput", this::throughput);
      step("chain", this::chain);
      if (opt.soakTasks() > 0) step("soak", this::soak);
      if (opt.pendingTasks() > 0) step("pending", this::pending);
      result.put("duplicate_runs", agent.duplicateRuns());
      if (queue instanceof NatsQueue n) result.put("repeated_results", n.repeatedResults());
    } catch (RuntimeException | IOException e) {
      if (children.closed()) throw new InterruptedException("harness stopping");
      errors.add(e.getMessage() == null ? e.toString() : e.getMessage());
    } finally {
      if (exec != null) children.stop(exec, Duration.ofSeconds(15));
      if (queue != null) queue.close();
      if (server != null) children.stop(server, Duration.ofSeconds(10));
    }
  }

  private interface Step {
    void run() throws Exception;
  }

  private void step(String name, Step s) throws InterruptedException {
    if (Thread.currentThread().isInterrupted() || children.closed()) throw new InterruptedException();
    if (exec != null && !exec.isAlive()) {
      if (!executorGone) errors.add(name + ": executor exited (" + exec.exitValue() + "): " + Children.tail(dir, "executor"));
      executorGone = true; // the remaining workloads are simply not measured
      return;
    }
    try {
      s.run();
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      if (children.closed()) throw new InterruptedException("harness stopping");
      if (!exec.isAlive()) executorGone = true;
      String msg = name + ": " + (e.getMessage() == null ? e.toString() : e.getMessage());
      errors.add(msg);
      if (name.equals("latency")) result.putObject("latency").put("error", msg);
      if (name.equals("throughput")) result.putObject("throughput").put("error", msg);
      if (name.equals("chain")) result.putObject("chain").put("status", "error").put("reason", msg);
    }
  }

  // ---- processes ------------------------------------------------------------------------------

  private List<String> javaCommand(List<String> jvmOpts, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmOpts);
    if (opt.jar() != null) {
      cmd.add("-jar");
      cmd.add(opt.jar().toAbsolutePath().toString());
    } else {
      cmd.add("-cp");
      cmd.add(ChildJvm.classpath());
      cmd.add("dev.atsdispatch.cli.Main");
    }
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** A command line for the JSON, with a long classpath shortened. */
  private static String describe(List<String> cmd) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < cmd.size(); i++) {
      out.add(i > 0 && cmd.get(i - 1).equals("-cp") ? "<test classpath>" : cmd.get(i));
    }
    return String.join(" ", out);
  }

  private static void cleanEnv(Map<String, String> env) {
    env.keySet().removeIf(k -> k.startsWith("ATS_") || k.startsWith("BENCH_"));
  }

  /** Creates the probe task, starts the executor, and measures the time from start to ready. */
  private void startExecutor(String url) throws IOException, InterruptedException {
    Path work = Files.createDirectories(dir.resolve("work"));
    ProcessBuilder pb;
    if (transport.equals("external")) {
      pb = new ProcessBuilder("bash", "-c", opt.external());
      cleanEnv(pb.environment());
      pb.environment().putAll(Map.of("ATS_URL", url, "ATS_CHANNEL", channel,
          "BENCH_AGENT", agent.script().toString(), "BENCH_CONCURRENCY", Integer.toString(opt.concurrency()),
          "BENCH_WORKDIR", work.toString()));
    } else {
      statusPort = freePort();
      pb = new ProcessBuilder(javaCommand(opt.jvmOpts(), "run"));
      Map<String, String> env = pb.environment();
      cleanEnv(env);
      env.put("HOME", Files.createDirectories(dir.resolve("home")).toString());
      env.putAll(opt.serviceEnv()); // what the systemd unit sets besides JAVA_OPTS (MALLOC_ARENA_MAX)
      if (transport.equals(NATS)) {
        env.put("ATS_DISPATCH_SOURCE", "nats");
        env.put("ATS_DISPATCH_NATS_URL", url);
        env.put("ATS_DISPATCH_NATS_AGENT_ID", NATS_AGENT);
      } else {
        env.put("ATS_URL", url);
        env.put("ATS_DISPATCH_CHANNEL", channel);
        env.put("ATS_DISPATCH_TRANSPORT", transport);
      }
      env.put("ATS_DISPATCH_STATE_DIR", dir.resolve("state").toString());
      env.put("ATS_DISPATCH_KEYS_DIR", dir.resolve("keys").toString());
      env.put("ATS_DISPATCH_CONCURRENCY", Integer.toString(opt.concurrency()));
      env.put("ATS_DISPATCH_AGENT_COMMAND", Http.json(List.of(agent.script().toString())));
      // the default sandbox (bwrap where installed) applies: the agent records through a bind
      env.put("ATS_DISPATCH_AGENT_RW_BINDS", agent.dir().toString());
      env.put("ATS_DISPATCH_AGENT_SANDBOX", opt.sandbox());
      env.put("ATS_DISPATCH_DRAIN", "5s");
      env.put("ATS_DISPATCH_AGENT_GRACE", "2s");
      env.put("ATS_DISPATCH_STATUS_PORT", Integer.toString(statusPort));
      if (transport.equals("cli")) {
        env.put("ATS_DISPATCH_ATS_BIN", AtsStandIn.install(dir.resolve("bin")).toString());
      }
      result.put("command", describe(javaCommand(opt.jvmOpts(), "run")));
    }
    if (!transport.equals("external")) pb.directory(work.toFile()); // external: the harness's directory
    create(PROBE, null);
    long t0 = RecordingAgent.now();
    exec = children.start(pb, dir, "executor");
    ReadyzPoller readyz = statusPort == null ? null : new ReadyzPoller(statusPort);
    try {
      awaitStartWhileAlive(PROBE, Duration.ofSeconds(120));
      long probe = agent.start(PROBE);
      Long ready = readyz == null ? null : readyz.awaitReady(Duration.ofSeconds(2));
      ObjectNode r = result.putObject("start_to_ready");
      if (ready != null) {
        r.put("ms", Stats.ms(ready - t0));
        r.put("method", "readyz");
      } else {
        r.put("ms", Stats.ms(probe - t0));
        r.put("method", "first probe task picked up");
        if (readyz != null && readyz.answered()) {
          r.put("readyz", "answered, but not 200 within 2 s of the first pickup");
          errors.add("start to ready: /readyz answered, but not 200 within 2 s of the first pickup");
        }
      }
      r.put("probe_pickup_ms", Stats.ms(probe - t0));
    } finally {
      if (readyz != null) readyz.stop();
    }
    awaitDrained(opt.stall());
  }

  private void awaitStartWhileAlive(String key, Duration timeout) throws InterruptedException {
    agent.await(() -> {
      if (!exec.isAlive()) {
        throw new BenchFailure("executor exited (" + exec.exitValue() + "): " + Children.tail(dir, "executor"));
      }
      return agent.start(key) != null;
    }, timeout, "no agent start for " + key);
  }

  /** A nats-server with JetStream on a free loopback port, its store in the run's directory. */
  private Process startNatsServer() throws IOException, InterruptedException {
    natsPort = freePort();
    Process p = children.start(new ProcessBuilder(NatsServer.binary(), "-js", "-a", "127.0.0.1", "-p",
        Integer.toString(natsPort), "-sd", dir.resolve("nats-store").toString()), dir, "nats-server");
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", natsPort)) {
        return p;
      } catch (IOException notYet) {
        if (!p.isAlive()) throw new BenchFailure("nats-server exited (" + p.exitValue() + "): " + Children.tail(dir, "nats-server"));
        if (System.nanoTime() > end) throw new BenchFailure("nats-server did not listen within 20 s");
        Thread.sleep(20);
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /**
   * Polls GET /readyz on the status port every 5 ms from the executor's start; remembers when it
   * first answered 200, and whether it answered at all (a service without a status port never does).
   */
  static final class ReadyzPoller {
    private final OkHttpClient client = new OkHttpClient.Builder().connectTimeout(200, TimeUnit.MILLISECONDS)
        .readTimeout(1, TimeUnit.SECONDS).retryOnConnectionFailure(false).build();
    private final Thread thread;
    private volatile Long readyAt;
    private volatile boolean answered;
    private volatile boolean stop;

    ReadyzPoller(int port) {
      Request req = new Request.Builder().url("http://127.0.0.1:" + port + "/readyz").build();
      thread = new Thread(() -> {
        while (!stop && readyAt == null) {
          try (Response r = client.newCall(req).execute()) {
            answered = true;
            if (r.code() == 200) readyAt = RecordingAgent.now();
          } catch (IOException e) {
            // not listening (yet, or not at all)
          }
          try {
            Thread.sleep(5);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "bench-readyz");
      thread.setDaemon(true);
      thread.start();
    }

    /** The time /readyz first said 200 (epoch ns), waiting up to {@code grace} more; null if it did not. */
    Long awaitReady(Duration grace) throws InterruptedException {
      long end = System.nanoTime() + grace.toNanos();
      while (readyAt == null && System.nanoTime() < end) Thread.sleep(5);
      return readyAt;
    }

    boolean answered() {
      return answered;
    }

    void stop() {
      stop = true;
      thread.interrupt();
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
  }

  // ---- ATS ----------------------------------------------------------------------------------

  private String create(String title, JsonNode payload) {
    return queue.create(title, payload);
  }

  /** Waits until no task of the channel is pending or in progress, failing on a stall. */
  private void awaitDrained(Duration stall) throws InterruptedException {
    long lastChange = System.nanoTime();
    int lastOpen = -1;
    while (true) {
      int open = queue.open();
      if (open == 0) return;
      if (open != lastOpen) {
        lastOpen = open;
        lastChange = System.nanoTime();
      } else if (System.nanoTime() - lastChange > stall.toNanos()) {
        throw new BenchFailure(open + " tasks still open after " + stall.toSeconds() + " s without progress");
      }
      if (!exec.isAlive()) throw new BenchFailure("executor exited (" + exec.exitValue() + ")");
      Thread.sleep(20);
    }
  }

  // ---- workloads ----------------------------------------------------------------------------

  private void idleMemory() throws InterruptedException {
    Thread.sleep(opt.idleSettle().toMillis());
    ObjectNode m = result.putObject("rss");
    m.put("idle_mb", mb(Children.rss(exec.pid())));
    m.put("idle_tree_mb", mb(Children.treeRss(exec.toHandle(), agent.script().toString())));
  }

  /** Tasks created one at a time, each after the previous one was picked up; latencies in ns. */
  /** Latency tasks: key → the epoch ns just before its create request. */
  private final java.util.Map<String, Long> created = new java.util.LinkedHashMap<>();

  private long[] oneAtATime(String kind, int n) throws InterruptedException {
    long[] lat = new long[n];
    for (int i = 0; i < n; i++) {
      String key = "bench-" + kind + "-" + i;
      long before = RecordingAgent.now();
      if (kind.equals("lat")) created.put(key, before);
      create(key, null);
      awaitStartWhileAlive(key, Duration.ofSeconds(60));
      lat[i] = agent.start(key) - before;
    }
    awaitDrained(opt.stall());
    return lat;
  }

  private void throughput() throws InterruptedException {
    int n = opt.throughputTasks();
    int completedBefore = queue.completed();
    int failedBefore = queue.failed();
    AtomicLong peakMain = new AtomicLong();
    AtomicLong peakTree = new AtomicLong();
    Thread sampler = rssSampler(peakMain, peakTree);
    long t0 = RecordingAgent.now();
    long endNanos;
    long created;
    try {
      for (int i = 0; i < n; i++) create("bench-tput-" + i, null);
      created = RecordingAgent.now();
      awaitDrained(opt.stall());
      endNanos = RecordingAgent.now();
    } finally {
      sampler.interrupt();
      sampler.join();
    }
    int completed = queue.completed() - completedBefore;
    int failed = queue.failed() - failedBefore;
    Long lastCompletion = queue.lastCompletionNs();
    if (lastCompletion != null && lastCompletion > t0 && lastCompletion <= endNanos) endNanos = lastCompletion;
    double seconds = (endNanos - t0) / 1e9;
    ObjectNode t = result.putObject("throughput");
    t.put("n", n);
    t.put("concurrency", opt.concurrency());
    t.put("tasks_per_s", Math.round(n / seconds * 10) / 10.0);
    t.put("seconds", Math.round(seconds * 1000) / 1000.0);
    t.put("create_seconds", Math.round((created - t0) / 1e6) / 1000.0);
    t.put("completed", completed);
    t.put("failed", failed);
    ObjectNode m = result.has("rss") ? (ObjectNode) result.get("rss") : result.putObject("rss");
    m.put("peak_mb", mb(peakMain.get()));
    m.put("peak_tree_mb", mb(peakTree.get()));
    if (failed > 0) errors.add("throughput: " + failed + " tasks failed");
  }

  private void chain() throws InterruptedException {
    int n = opt.chain();
    if (!queue.dependencies()) {
      result.putObject("chain").put("status", "n/a").put("reason", "no depends_on on this source");
      return;
    }
    List<String> keys = new ArrayList<>();
    String prev = null;
    for (int i = 0; i < n; i++) {
      String key = "bench-chain-" + i;
      keys.add(key);
      ObjectNode payload = null;
      if (prev != null) {
        payload = JsonNodeFactory.instance.objectNode();
        payload.putArray("depends_on").add(prev);
      }
      prev = create(key, payload);
    }
    ObjectNode c = result.putObject("chain");
    c.put("n", n);
    // Every link must end; a stall means the executor holds dependents back for good.
    long lastChange = System.nanoTime();
    int lastEnded = -1;
    while (true) {
      agent.poll();
      int ended = agent.ended(keys);
      if (ended == n) break;
      if (ended != lastEnded) {
        lastEnded = ended;
        lastChange = System.nanoTime();
      } else if (System.nanoTime() - lastChange > opt.stall().toNanos()) {
        c.put("status", "n/a");
        c.put("reason", "chain stalled: " + ended + " of " + n + " links ran");
        return;
      }
      if (!exec.isAlive()) throw new BenchFailure("executor exited (" + exec.exitValue() + ")");
      Thread.sleep(5);
    }
    awaitDrained(opt.stall());
    long[] handoff = new long[n - 1];
    for (int i = 0; i + 1 < n; i++) {
      long d = agent.start(keys.get(i + 1)) - agent.end(keys.get(i));
      if (d < 0) {
        c.put("status", "n/a");
        c.put("reason", "service runs dependents early");
        c.put("first_early_link", i + 1);
        return;
      }
      handoff[i] = d;
    }
    c.put("status", "ok");
    c.setAll(Stats.of(handoff).json());
    c.put("n", n);
    c.put("links", n - 1);
  }

  /**
   * Memory over many tasks: {@code --soak} tasks in rounds of {@code --tasks-throughput}, each
   * created at once and drained; the service's peak RSS in each round and its RSS once the round
   * is drained and settled. Flat means the last settled figure is within 10 % of the first.
   */
  private void soak() throws InterruptedException {
    int round = opt.throughputTasks();
    int rounds = (opt.soakTasks() + round - 1) / round;
    ObjectNode s = result.putObject("soak");
    ArrayNode peaks = s.putArray("peak_mb");
    ArrayNode settled = s.putArray("settled_mb");
    int failedBefore = queue.failed();
    for (int r = 0; r < rounds; r++) {
      int n = Math.min(round, opt.soakTasks() - r * round);
      AtomicLong peak = new AtomicLong();
      Thread sampler = rssSampler(peak);
      try {
        for (int i = 0; i < n; i++) create("bench-soak-" + (r * round + i), null);
        awaitDrained(opt.stall());
      } finally {
        sampler.interrupt();
        sampler.join();
      }
      Thread.sleep(opt.idleSettle().toMillis());
      peaks.add(mb(peak.get()));
      settled.add(mb(Children.rss(exec.pid())));
    }
    s.put("n", opt.soakTasks());
    s.put("rounds", rounds);
    s.put("growth", Math.round(settled.get(rounds - 1).asDouble() / settled.get(0).asDouble() * 1000) / 1000.0);
    int failed = queue.failed() - failedBefore;
    s.put("failed", failed);
    if (failed > 0) errors.add("soak: " + failed + " tasks failed");
  }

  /**
   * Memory with {@code --pending} tasks waiting: hold tasks take every slot, then the tasks are
   * created and the service's RSS is read once it has seen them all (its /metrics queue gauge, or
   * a settle time), then the holds are let go and everything drains.
   */
  private void pending() throws InterruptedException {
    ObjectNode p = result.putObject("pending");
    List<String> holds = new ArrayList<>();
    for (int i = 0; i < opt.concurrency(); i++) {
      holds.add("bench-hold-" + i);
      create("bench-hold-" + i, null);
    }
    for (String h : holds) awaitStartWhileAlive(h, Duration.ofSeconds(60));
    Thread.sleep(opt.idleSettle().toMillis());
    p.put("holding_mb", mb(Children.rss(exec.pid())));
    AtomicLong peak = new AtomicLong();
    Thread sampler = rssSampler(peak);
    try {
      for (int i = 0; i < opt.pendingTasks(); i++) create("bench-wait-" + i, null);
      Thread.sleep(opt.idleSettle().toMillis() * 2); // the events and a reconcile page have reached it
      p.put("waiting_mb", mb(Children.rss(exec.pid())));
      agent.releaseHolds();
      awaitDrained(opt.stall());
    } finally {
      sampler.interrupt();
      sampler.join();
    }
    Thread.sleep(opt.idleSettle().toMillis());
    p.put("n", opt.pendingTasks());
    p.put("peak_mb", mb(peak.get()));
    p.put("after_mb", mb(Children.rss(exec.pid())));
    p.put("growth", Math.round(p.path("waiting_mb").asDouble() / p.path("holding_mb").asDouble() * 1000) / 1000.0);
  }

  /** A daemon thread that keeps the service's peak RSS in {@code peak} (every 100 ms) until interrupted. */
  private Thread rssSampler(AtomicLong peak) {
    return rssSampler(peak, null);
  }

  /** As above; with {@code peakTree}, also the peak of its process tree without the agents. */
  private Thread rssSampler(AtomicLong peak, AtomicLong peakTree) {
    String agentPath = agent.script().toString();
    Thread t = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        peak.accumulateAndGet(Children.rss(exec.pid()), Math::max);
        if (peakTree != null) peakTree.accumulateAndGet(Children.treeRss(exec.toHandle(), agentPath), Math::max);
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "bench-rss");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static double mb(long bytes) {
    return Math.round(bytes / 1048576.0 * 10) / 10.0;
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%s (%s)", transport, dir);
  }
}
