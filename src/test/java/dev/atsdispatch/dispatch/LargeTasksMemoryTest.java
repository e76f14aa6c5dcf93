package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.CH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.tools.attach.VirtualMachine;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Defect 9 end to end: the real service ({@code ats-dispatch run}, http transport, concurrency 4)
 * in a child JVM with a 256 MiB heap and {@code -XX:+ExitOnOutOfMemoryError}, as the shipped systemd
 * unit runs it, against the dev server, with tasks whose descriptions are 7 MiB each:
 * {@value #BEFORE} of them (266 MiB, more than the heap) pending before the service starts, so its
 * start-up reconcile meets them all, and {@value #WHILE} more created while it runs (their
 * WebSocket events carry the whole task): 336 MiB in all. Every task must run once with its whole
 * description in the prompt and complete, the service must not run out of memory, and its live
 * heap (the heap after a full collection, which the test asks for every second once the service holds a task) must stay under half
 * the limit. The old service, which listed pages of 500 full tasks, died of OutOfMemoryError in
 * its start-up reconcile with these tasks.
 */
@Timeout(180)
final class LargeTasksMemoryTest {
  private static final ObjectMapper M = new ObjectMapper();
  private static final int SIZE = 7 << 20;
  /** Pending before the start; {@code -Dbig.before=1000} for the full-size run (see README). */
  static final int BEFORE = Integer.getInteger("big.before", 38);
  static final int WHILE = Integer.getInteger("big.while", 10);
  /** Minutes the service gets to complete them all (the full-size run needs more). */
  private static final int MINUTES = Integer.getInteger("big.minutes", 2);
  private static final int HEAP_MB = 256;
  /**
   * The live heap must stay under half the heap. Measured here: at most 86-105 MiB; the service
   * before the fixes of commit 7a12b77 (each answer read as bytes, text and tree; the answer to a
   * complete parsed; events parsed whole; the prompt copied whole for stdin) reached 157 MiB.
   */
  private static final int LIVE_LIMIT_MB = HEAP_MB / 2;
  private static final Pattern GC_LINE = Pattern.compile("(\\d+)M->(\\d+)M\\((\\d+)M\\)");

  @TempDir Path dir;
  private DevServer server;
  private ChildJvm service;
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void tasksOfSevenMegabytesWellOverTheHeapAllCompleteInAServiceWithA256MegabyteHeap() throws Exception {
    // the full-size run keeps its 7 GB of tasks in a database file, not in this JVM's heap
    server = BEFORE + WHILE > 100
        ? DevServer.builder().port(0).database(dir.resolve("ats.db")).start()
        : DevServer.builder().port(0).inMemory().start();
    Http api = new Http(server.url(), "human", "tester", "Tester");
    byte[] body = ("{\"title\":\"big\",\"channel\":\"" + CH + "\",\"priority\":5,\"description\":\""
        + "x".repeat(SIZE) + "\"}").getBytes(StandardCharsets.UTF_8);
    List<Long> ids = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < BEFORE; i++) ids.add(create(body));
    System.out.println("created " + BEFORE + " in " + ms(t0) + " ms");

    // Reads the whole prompt from stdin, notes its size, and answers with it.
    // the agents run in the default sandbox (bwrap where installed): sizes is written through a bind
    Path out = Files.createDirectories(dir.resolve("out"));
    Path sizes = out.resolve("sizes");
    Path agent = DispatchFixture.agent(dir, "ok.sh",
        "n=$(wc -c)\necho \"$ATS_TASK_ID $n\" >> " + sizes + "\necho \"ok $n\"");
    Path gcLog = dir.resolve("service-gc.log");
    service = ChildJvm.start(dir, "service",
        Map.of("HOME", dir.toString(), "ATS_DISPATCH_CONCURRENCY", "4", "ATS_DISPATCH_STATUS_PORT", "off",
            "ATS_DISPATCH_RECONCILE_EVERY", "10s", "ATS_DISPATCH_AGENT_RW_BINDS", out.toString()),
        List.of("-Xmx" + HEAP_MB + "m", "-XX:+ExitOnOutOfMemoryError", "-Xlog:gc:file=" + gcLog),
        "dev.atsdispatch.cli.Main",
        List.of("run", "--transport", "http", "--url", server.url(), "--channel", CH,
            "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
            "--keys-dir", dir.resolve("keys").toString()));

    // Once the service holds a task it is up (its start-up reconcile has listed them all); the
    // rest arrive as events.
    awaitStarted(api, Duration.ofSeconds(60L * MINUTES / 2));
    System.out.println("service holds a task at " + ms(t0) + " ms");
    int forced;
    try (FullCollections full = new FullCollections(service.pid(), Duration.ofSeconds(1))) {
      for (int i = 0; i < WHILE; i++) ids.add(create(body));
      System.out.println("created " + WHILE + " more at " + ms(t0) + " ms");
      awaitCompleted(api, BEFORE + WHILE, Duration.ofMinutes(MINUTES));
      System.out.println("all completed at " + ms(t0) + " ms");
      forced = full.done();
    }

    assertTrue(service.process().isAlive(), "the service exited:\n" + tail(service.stderr()));
    assertFalse(service.stderr().contains("OutOfMemoryError"), tail(service.stderr()));
    assertFalse(service.stdout().contains("OutOfMemoryError"), tail(service.stdout()));
    assertEquals(BEFORE + WHILE, count(api, "completed"));
    // Each task ran once, with its whole description in the prompt ...
    Map<Long, Long> promptBytes = new java.util.TreeMap<>();
    for (String line : Files.readAllLines(sizes)) {
      String[] f = line.trim().split("\\s+");
      assertEquals(null, promptBytes.put(Long.parseLong(f[0]), Long.parseLong(f[1])), "ran twice: " + line);
    }
    assertEquals(new java.util.TreeSet<>(ids), promptBytes.keySet());
    promptBytes.forEach((id, n) -> assertTrue(n > SIZE, "task " + id + ": a prompt of " + n + " bytes"));
    // ... and its answer reported (read back for the first and the last task).
    for (long id : List.of(ids.get(0), ids.get(ids.size() - 1))) {
      JsonNode t = withoutDescription(id);
      assertEquals("completed", t.path("status").asText(), t.toString());
      assertEquals("ok " + promptBytes.get(id), t.path("outputs").path(0).path("response").asText(), t.toString());
    }

    // The live heap (after each full collection: the forced ones, and any the service needed on
    // its own, start-up included) stays well under the limit.
    GcLog gc = GcLog.read(gcLog);
    System.out.println("service: " + forced + " full collections asked for; GC log: " + gc);
    assertTrue(gc.afterFull.size() >= 5, "too few full collections to tell the live heap: " + gc);
    long maxLive = gc.afterFull.stream().mapToLong(Long::longValue).max().orElseThrow();
    assertTrue(maxLive < LIVE_LIMIT_MB, "live heap reached " + maxLive + " MiB (limit "
        + LIVE_LIMIT_MB + " of " + HEAP_MB + " MiB): " + gc);
  }

  /**
   * Makes the service's live heap visible in its GC log: attaches to it (its local JMX agent) and
   * asks for a full collection ({@code System.gc()}) every {@code every} until closed; the heap
   * after a full collection is what is live then.
   */
  static final class FullCollections implements AutoCloseable {
    private final JMXConnector jmx;
    private final Thread thread;
    private final AtomicInteger done = new AtomicInteger();
    private volatile boolean stop;

    FullCollections(long pid, Duration every) throws Exception {
      VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
      String address;
      try {
        address = vm.startLocalManagementAgent();
      } finally {
        vm.detach();
      }
      jmx = JMXConnectorFactory.connect(new JMXServiceURL(address));
      MemoryMXBean memory = ManagementFactory.newPlatformMXBeanProxy(jmx.getMBeanServerConnection(),
          ManagementFactory.MEMORY_MXBEAN_NAME, MemoryMXBean.class);
      thread = new Thread(() -> {
        while (!stop) {
          try {
            memory.gc();
            done.incrementAndGet();
            Thread.sleep(every.toMillis());
          } catch (InterruptedException | RuntimeException e) {
            return; // closed, or the service is gone
          }
        }
      }, "full-collections");
      thread.setDaemon(true);
      thread.start();
    }

    int done() {
      return done.get();
    }

    @Override
    public void close() throws Exception {
      stop = true;
      thread.interrupt();
      thread.join(10_000);
      jmx.close();
    }
  }

  /**
   * What the service's GC log says: collections, the largest heap before and after any of them,
   * and the heap after each full collection (the live heap then), in MiB.
   */
  record GcLog(int collections, long maxBeforeMb, long maxAfterMb, List<Long> afterFull) {
    static GcLog read(Path file) throws IOException {
      int n = 0;
      long before = 0;
      long after = 0;
      List<Long> full = new ArrayList<>();
      for (String line : Files.readAllLines(file)) {
        Matcher m = GC_LINE.matcher(line);
        if (!m.find()) continue;
        n++;
        before = Math.max(before, Long.parseLong(m.group(1)));
        after = Math.max(after, Long.parseLong(m.group(2)));
        if (line.contains("Pause Full")) full.add(Long.parseLong(m.group(2)));
      }
      return new GcLog(n, before, after, full);
    }
  }

  /** Waits until the service has claimed (or finished) a task. */
  private void awaitStarted(Http api, Duration d) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (count(api, "in_progress") + count(api, "completed") == 0) {
      if (!service.process().isAlive()) {
        throw new AssertionError("the service exited (" + service.process().exitValue() + ") before it "
            + "claimed a task:\n" + tail(service.stdout() + service.stderr()));
      }
      if (System.nanoTime() > end) throw new AssertionError("no task claimed within " + d + "\n" + tail(service.stderr()));
      Thread.sleep(100);
    }
  }

  private void awaitCompleted(Http api, int n, Duration d) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (count(api, "completed") < n) {
      if (!service.process().isAlive()) {
        throw new AssertionError("the service exited (" + service.process().exitValue() + ") with "
            + count(api, "completed") + " of " + n + " tasks completed:\n" + tail(service.stderr()));
      }
      if (System.nanoTime() > end) {
        throw new AssertionError(count(api, "completed") + " of " + n + " tasks completed within " + d
            + "\n" + tail(service.stderr()));
      }
      Thread.sleep(100);
    }
  }

  private static long ms(long since) {
    return (System.nanoTime() - since) / 1_000_000;
  }

  private static String tail(String s) {
    return s.length() <= 8000 ? s : "..." + s.substring(s.length() - 8000);
  }

  /** Tasks of this status on the server (its stats: no task bodies). */
  private static int count(Http api, String status) {
    Http.Resp r = api.get("/tasks/stats");
    assertEquals(200, r.status(), r.text());
    return r.body().path("stats").path("by_status").path(status).asInt();
  }

  /** Creates a task from a ready request body; the id is read from the start of the 7 MiB echo. */
  private long create(byte[] body) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + "/tasks"))
        .header("Content-Type", "application/json").header("X-Actor-Type", "human")
        .header("X-Actor-ID", "tester").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = r.body()) {
      assertEquals(201, r.statusCode());
      long id = -1;
      JsonParser p = M.getFactory().createParser(in);
      while (id < 0 && p.nextToken() != null) {
        if (p.currentToken() == JsonToken.FIELD_NAME && p.getCurrentName().equals("id")
            && p.getParsingContext().getParent().getCurrentName() != null) {
          p.nextToken();
          id = p.getLongValue();
        }
      }
      in.transferTo(OutputStream.nullOutputStream());
      assertTrue(id > 0, "no task id in the answer");
      return id;
    }
  }

  /** A task's fields without its description, read as the answer streams in. */
  private JsonNode withoutDescription(long id) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + "/tasks/" + id))
        .header("X-Actor-Type", "human").header("X-Actor-ID", "tester").GET().build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = r.body(); JsonParser p = M.getFactory().createParser(in)) {
      assertEquals(200, r.statusCode());
      ObjectNode out = M.createObjectNode();
      if (p.nextToken() != JsonToken.START_OBJECT) throw new AssertionError("not an object");
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String top = p.getCurrentName();
        p.nextToken();
        if (!top.equals("task") || p.currentToken() != JsonToken.START_OBJECT) {
          p.skipChildren();
          continue;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String f = p.getCurrentName();
          p.nextToken();
          if (f.equals("description")) p.skipChildren();
          else out.set(f, M.readTree(p));
        }
      }
      return out;
    }
  }
}
