package dev.atsdispatch.bench;

import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.WsClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Loopback throughput and latency of the dev server (not a unit test). Starts the server
 * in-process on a temporary SQLite file and measures, with 4 concurrent HTTP clients:
 * creates per second, claim+complete pairs per second, and event delivery latency
 * (create answered → task.created received over the WebSocket) p50/p99 over tasks created one at
 * a time. Run: {@code mvn -B -q test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=dev.atsdispatch.bench.DevServerBench [-Dexec.args="--fsync"]}
 */
public final class DevServerBench {
  static final int CLIENTS = 4;
  static final int WARMUP = 2_000;
  static final int OPS = 20_000;
  static final int LATENCY_SAMPLES = 2_000;

  public static void main(String[] args) throws Exception {
    boolean fsync = Arrays.asList(args).contains("--fsync");
    Path dir = Files.createTempDirectory("ats-bench");
    try (DevServer server = DevServer.builder().port(0).database(dir.resolve("bench.sqlite"))
        .fsync(fsync).start()) {
      Http http = new Http(server.url());
      runCreates(http, WARMUP); // warm-up: JIT, connection pool
      double createRps = runCreates(http, OPS);
      double pairRps = runClaimComplete(http, OPS);
      long[] lat = eventLatency(server.url(), http);
      System.out.printf(Locale.ROOT, "%ndev server benchmark (loopback, %d clients, SQLite %s, "
          + "%d cores)%n", CLIENTS, fsync ? "synchronous=FULL" : "WAL synchronous=NORMAL",
          Runtime.getRuntime().availableProcessors());
      System.out.printf(Locale.ROOT, "  create:            %8.0f req/s  (%d requests)%n", createRps, OPS);
      System.out.printf(Locale.ROOT, "  claim+complete:    %8.0f pairs/s (%d pairs, %.0f req/s)%n",
          pairRps, OPS, pairRps * 2);
      System.out.printf(Locale.ROOT, "  event latency (create answered -> event received, n=%d): "
          + "p50 %.3f ms, p99 %.3f ms, max %.3f ms; %d of %d events arrived before the HTTP answer%n",
          LATENCY_SAMPLES, lat[0] / 1e6, lat[1] / 1e6, lat[2] / 1e6, lat[3], LATENCY_SAMPLES);
      System.out.printf(Locale.ROOT, "  event latency (create sent -> event received): p50 %.3f ms, p99 %.3f ms%n",
          lat[4] / 1e6, lat[5] / 1e6);
    } finally {
      try (var s = Files.walk(dir)) {
        s.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
      }
    }
    System.exit(0);
  }

  static double runCreates(Http http, int n) throws Exception {
    AtomicLong next = new AtomicLong();
    return parallel(() -> {
      while (next.getAndIncrement() < n) http.create("bench", "bench-create");
    }, n);
  }

  static double runClaimComplete(Http http, int n) throws Exception {
    List<List<Long>> ids = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) ids.add(new ArrayList<>());
    for (int i = 0; i < n; i++) ids.get(i % CLIENTS).add(http.create("pair", "bench-pair"));
    AtomicLong client = new AtomicLong();
    return parallel(() -> {
      int c = (int) client.getAndIncrement();
      Http me = http.as("agent", "bench-" + c, "Bench " + c);
      for (long id : ids.get(c)) {
        check(me.post("/tasks/" + id + "/claim", "{\"lease_duration\":60000}"), 200);
        check(me.post("/tasks/" + id + "/complete", "{\"outputs\":[{\"response\":\"ok\"}]}"), 200);
      }
    }, n);
  }

  static double parallel(Runnable body, int ops) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    long t0 = System.nanoTime();
    List<Future<?>> fs = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) fs.add(pool.submit(body));
    for (Future<?> f : fs) f.get();
    long t1 = System.nanoTime();
    pool.shutdown();
    return ops / ((t1 - t0) / 1e9);
  }

  /** Returns {p50, p99, max, earlyCount, sentP50, sentP99} in nanoseconds (answered → event). */
  static long[] eventLatency(String url, Http http) {
    try (WsClient ws = WsClient.connect(url)) {
      ws.subscribe(List.of("bench-latency"), null, List.of("task.created"));
      ConcurrentHashMap<Long, Long> answered = new ConcurrentHashMap<>();
      long[] fromAnswer = new long[LATENCY_SAMPLES];
      long[] fromSend = new long[LATENCY_SAMPLES];
      long early = 0;
      for (int i = 0; i < LATENCY_SAMPLES; i++) {
        long sent = System.nanoTime();
        long id = http.create("latency " + i, "bench-latency");
        long done = System.nanoTime();
        answered.put(id, done);
        WsClient.Frame f = ws.nextEvent(Duration.ofSeconds(10));
        if (f.taskId() != id) throw new AssertionError("event for " + f.taskId() + ", expected " + id);
        long d = f.receivedNanos() - done;
        if (d < 0) early++;
        fromAnswer[i] = Math.max(0, d);
        fromSend[i] = f.receivedNanos() - sent;
      }
      Arrays.sort(fromAnswer);
      Arrays.sort(fromSend);
      return new long[] {pct(fromAnswer, 50), pct(fromAnswer, 99), fromAnswer[fromAnswer.length - 1],
          early, pct(fromSend, 50), pct(fromSend, 99)};
    }
  }

  static long pct(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  static void check(Http.Resp r, int status) {
    if (r.status() != status) throw new AssertionError("expected " + status + ": " + r.text());
  }
}
