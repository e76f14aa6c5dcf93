package dev.atsdispatch.devserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.testing.Http;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Durability of the real {@code ats-dispatch dev-server} command, run as a separate JVM on a
 * SQLite file: whatever the server acknowledged with a 2xx survives SIGTERM and kill -9, ids are
 * never reused after a restart, and a second server cannot open a file that one is using.
 */
@Timeout(90)
class DurabilityTest {
  private static final Pattern READY = Pattern.compile("ATS dev server ready at (http://\\S+)");
  private static final long FOUR_HOURS = 14_400_000;

  @TempDir Path dir;
  private final List<ServerProcess> processes = new ArrayList<>();

  @AfterEach
  void killChildren() {
    for (ServerProcess p : processes) p.process.destroyForcibly();
    for (ServerProcess p : processes) {
      try {
        p.process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // ---- SIGTERM ---------------------------------------------------------------------------------

  @Test
  void everyAcknowledgedChangeSurvivesSigtermAndRestart() throws Exception {
    Path db = dir.resolve("ats.sqlite");
    ServerProcess first = start(db);
    Http ada = new Http(first.url);
    Http bob = ada.as("agent", "bob", "Bob");

    assertEquals(201, ada.post("/orgs", "{\"slug\":\"acme\",\"name\":\"Acme Inc\"}").status());
    assertEquals(201, ada.post("/orgs/acme/projects",
        "{\"slug\":\"rockets\",\"name\":\"Rockets\",\"description\":\"to the moon\"}").status());
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      Http.Resp r = ada.post("/tasks", "{\"title\":\"task " + i + "\",\"channel\":\"durable\","
          + "\"priority\":" + (i % 10 + 1) + ",\"description\":\"d" + i + "\",\"payload\":{\"n\":"
          + i + ",\"nested\":{\"list\":[1,\"two\",null]}}}");
      assertEquals(201, r.status(), r.text());
      ids.add(r.task().path("id").asLong());
    }
    for (int i = 0; i < 2; i++) {
      Http.Resp r = ada.post("/orgs/acme/projects/rockets/tasks",
          "{\"title\":\"scoped " + i + "\",\"type\":\"launch\"}");
      assertEquals(201, r.status(), r.text());
      ids.add(r.task().path("id").asLong());
    }
    long t0 = ids.get(0);
    ok(ada.post("/tasks/" + t0 + "/claim", "{\"lease_duration\":" + FOUR_HOURS + "}"));
    ok(bob.post("/tasks/" + ids.get(1) + "/claim", "{\"lease_duration\":" + FOUR_HOURS + "}"));
    ok(bob.post("/tasks/" + ids.get(1) + "/complete",
        "{\"outputs\":[{\"response\":\"ok\"},42,\"text\",[true]]}"));
    ok(ada.post("/tasks/" + ids.get(2) + "/claim", "{}"));
    ok(ada.post("/tasks/" + ids.get(2) + "/fail", "{\"reason\":\"boom\"}"));
    ok(ada.call("POST", "/tasks/" + ids.get(3) + "/cancel", null));
    ok(ada.post("/tasks/" + ids.get(4) + "/reject", "{\"reason\":\"not ours\"}"));
    ok(ada.patch("/tasks/" + ids.get(5),
        "{\"title\":\"renamed\",\"priority\":9,\"payload\":{\"v\":2},\"channel\":\"moved\"}"));
    ok(ada.post("/tasks/" + ids.get(6) + "/complete", "{}"));
    ok(ada.post("/tasks/" + ids.get(6) + "/reopen", "{\"reason\":\"again\"}"));
    ok(bob.post("/orgs/acme/projects/rockets/tasks/" + ids.get(10) + "/claim",
        "{\"lease_duration\":" + FOUR_HOURS + "}"));
    for (int i = 0; i < 3; i++) {
      ok(ada.post("/tasks/" + t0 + "/messages",
          "{\"parts\":[{\"type\":\"text\",\"content\":\"progress " + i + "\"}]}"));
    }
    ok(bob.post("/tasks/" + ids.get(7) + "/messages",
        "{\"parts\":[{\"type\":\"data\",\"content\":\"{\\\"k\\\":1}\"},{\"type\":\"file\","
            + "\"url\":\"http://x/y\"}]}"));

    Map<String, JsonNode> before = snapshot(ada, ids);
    assertEquals("in_progress", before.get("task " + t0).path("status").asText());
    assertEquals(3, before.get("task " + t0).path("messages").size());

    first.terminate();
    ServerProcess second = start(db);
    Map<String, JsonNode> after = snapshot(new Http(second.url), ids);
    for (String key : before.keySet()) {
      assertEquals(before.get(key), after.get(key), key + " after SIGTERM and restart");
    }

    // Ids continue above the old ones, for tasks and for messages.
    Http again = new Http(second.url);
    long maxTask = ids.stream().mapToLong(Long::longValue).max().orElseThrow();
    assertTrue(again.create("after restart", "durable") > maxTask);
    Http.Resp m = again.post("/tasks/" + t0 + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"after\"}]}");
    assertEquals(201, m.status(), m.text());
    long maxMessage = 0;
    for (JsonNode t : before.values()) {
      for (JsonNode msg : t.path("messages")) maxMessage = Math.max(maxMessage, msg.path("id").asLong());
    }
    assertTrue(maxMessage > 0);
    assertTrue(m.body().path("message").path("id").asLong() > maxMessage, m.text());
  }

  /** Every task (with messages), the task list, orgs, projects with counts, and stats. */
  private static Map<String, JsonNode> snapshot(Http http, List<Long> ids) {
    Map<String, JsonNode> s = new LinkedHashMap<>();
    for (long id : ids) {
      Http.Resp r = http.get("/tasks/" + id);
      assertEquals(200, r.status(), r.text());
      s.put("task " + id, r.task());
    }
    s.put("list", http.get("/tasks?sort_by=created_at&sort_dir=asc").body());
    s.put("orgs", http.get("/orgs").body());
    s.put("projects acme", http.get("/orgs/acme/projects?counts=true").body());
    s.put("projects default", http.get("/orgs/default/projects?counts=true").body());
    ObjectNode stats = (ObjectNode) http.get("/tasks/stats").body().path("stats");
    stats.remove("recent"); // relative to the current time
    s.put("stats", stats);
    return s;
  }

  // ---- kill -9 -----------------------------------------------------------------------------------

  private record Expected(String status, String assignee, int messages) {}

  @Test
  void killMinus9RightAfterABurstLosesNoAcknowledgedWrite() throws Exception {
    Path db = dir.resolve("burst.sqlite");
    ServerProcess first = start(db);
    Http base = new Http(first.url);
    Map<Long, Expected> acked = new ConcurrentHashMap<>();
    int threads = 4;
    int perThread = 75;

    // A fifth client keeps writing until the kill, so writes are in flight when it lands.
    AtomicBoolean tailRunning = new AtomicBoolean(true);
    Set<Long> tailAcked = ConcurrentHashMap.newKeySet();
    CountDownLatch tailStarted = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
    try {
      Future<?> tail = pool.submit(() -> {
        Http h = base.as("agent", "tail", "Tail");
        tailStarted.countDown();
        while (tailRunning.get()) {
          try {
            Http.Resp r = h.post("/tasks", "{\"title\":\"tail\",\"channel\":\"tail\"}");
            if (r.status() == 201) tailAcked.add(r.task().path("id").asLong());
          } catch (UncheckedIOException | AssertionError e) {
            return; // the server is gone
          }
        }
      });
      tailStarted.await();
      List<Future<?>> burst = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        String actor = "burst-" + t;
        Http h = base.as("agent", actor, "Burst " + t);
        burst.add(pool.submit(() -> {
          for (int i = 0; i < perThread; i++) {
            Http.Resp r = h.post("/tasks", "{\"title\":\"" + actor + " #" + i
                + "\",\"channel\":\"burst\"}");
            assertEquals(201, r.status(), r.text());
            long id = r.task().path("id").asLong();
            Expected e = new Expected("pending", null, 0);
            acked.put(id, e);
            if (i % 3 == 0) {
              ok(h.post("/tasks/" + id + "/claim", "{\"lease_duration\":" + FOUR_HOURS + "}"));
              acked.put(id, e = new Expected("in_progress", actor, 0));
            }
            if (i % 4 == 0) {
              ok(h.post("/tasks/" + id + "/messages",
                  "{\"parts\":[{\"type\":\"text\",\"content\":\"m\"}]}"));
              acked.put(id, e = new Expected(e.status, e.assignee, 1));
            }
            if (i % 5 == 0) {
              ok(h.post("/tasks/" + id + "/complete", "{\"outputs\":[" + id + "]}"));
              acked.put(id, new Expected("completed", e.assignee, e.messages));
            }
          }
          return null;
        }));
      }
      for (Future<?> f : burst) f.get(60, TimeUnit.SECONDS);
      first.kill();
      tailRunning.set(false);
      tail.get(30, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    assertEquals(threads * perThread, acked.size());
    assertFalse(tailAcked.isEmpty(), "the tail writer got some writes in");

    ServerProcess second = start(db);
    Http http = new Http(second.url);
    Http.Resp list = http.get("/tasks");
    Map<Long, JsonNode> stored = new TreeMap<>();
    for (JsonNode t : list.body().path("tasks")) stored.put(t.path("id").asLong(), t);
    assertEquals(stored.size(), list.body().path("count").asInt());

    for (Map.Entry<Long, Expected> e : acked.entrySet()) {
      JsonNode t = stored.get(e.getKey());
      assertTrue(t != null, "acknowledged task " + e.getKey() + " is missing after kill -9");
      Expected x = e.getValue();
      assertEquals(x.status, t.path("status").asText(), "status of " + e.getKey());
      if (x.assignee != null) assertEquals(x.assignee, t.path("assignee_id").asText());
      if (x.status.equals("completed")) {
        assertEquals("[" + e.getKey() + "]", t.path("outputs").toString());
      }
      if (x.messages > 0) {
        assertEquals(x.messages, http.get("/tasks/" + e.getKey() + "/messages").body()
            .path("messages").size(), "messages of " + e.getKey());
      }
    }
    for (long id : tailAcked) assertTrue(stored.containsKey(id), "tail task " + id + " lost");
    // Nothing appeared that nobody asked for: besides the acknowledged ones, at most the tail's
    // one in-flight create can have been committed without its answer arriving.
    Set<Long> unacked = stored.keySet().stream()
        .filter(id -> !acked.containsKey(id) && !tailAcked.contains(id)).collect(Collectors.toSet());
    assertTrue(unacked.size() <= 1, "unacknowledged tasks present: " + unacked);

    long maxSeen = stored.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
    long next = http.create("after kill -9", "burst");
    assertTrue(next > maxSeen, "new id " + next + " must be above " + maxSeen);
    for (long id : tailAcked) assertNotEquals(id, next);
  }

  // ---- one server per file -------------------------------------------------------------------

  @Test
  void aSecondServerOnTheSameDatabaseFailsWithAClearMessage() throws Exception {
    Path db = dir.resolve("shared.sqlite");
    ServerProcess first = start(db);
    Http http = new Http(first.url);
    long id = http.create("owned by the first server", "lock");

    ServerProcess second = launch(db);
    assertTrue(second.process.waitFor(30, TimeUnit.SECONDS), "the second server did not exit");
    assertNotEquals(0, second.process.exitValue(), "exit code of the second server");
    second.drained.await(5, TimeUnit.SECONDS);
    assertTrue(second.stderr().contains("in use"), "stderr: " + second.stderr());
    assertTrue(second.readyUrl == null, "the second server must not report ready");

    // The first one is unaffected.
    assertEquals(200, http.get("/health").status());
    assertEquals(200, http.get("/tasks/" + id).status());
    assertTrue(http.create("still writable", "lock") > id);
  }

  // ---- child processes ---------------------------------------------------------------------------

  private static void ok(Http.Resp r) {
    assertTrue(r.status() / 100 == 2, r.text());
  }

  /** Starts {@code ats-dispatch dev-server --port 0 --db FILE} and waits until it is ready. */
  private ServerProcess start(Path db) throws InterruptedException {
    ServerProcess p = launch(db);
    if (!p.ready.await(30, TimeUnit.SECONDS) || p.readyUrl == null) {
      p.process.destroyForcibly();
      p.drained.await(5, TimeUnit.SECONDS);
      fail("dev server did not become ready; stderr:\n" + p.stderr());
    }
    p.url = p.readyUrl;
    return p;
  }

  private ServerProcess launch(Path db) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = List.of(java, "-cp", childClasspath(), "dev.atsdispatch.cli.Main",
        "dev-server", "--port", "0", "--db", db.toString());
    try {
      ServerProcess p = new ServerProcess(new ProcessBuilder(cmd).start());
      processes.add(p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + cmd, e);
    }
  }

  /**
   * The test JVM's class path (main classes and every dependency). Surefire normally restores
   * {@code java.class.path} in the fork; if it is a manifest-only booter jar, expand it.
   */
  private static String childClasspath() {
    String cp = System.getProperty("java.class.path");
    String[] entries = cp.split(File.pathSeparator);
    if (entries.length == 1 && entries[0].endsWith(".jar")) {
      try (JarFile jar = new JarFile(entries[0])) {
        Manifest mf = jar.getManifest();
        String classPath = mf == null ? null : mf.getMainAttributes().getValue("Class-Path");
        if (classPath != null) {
          List<String> files = new ArrayList<>();
          for (String u : classPath.trim().split("\\s+")) files.add(Path.of(URI.create(u)).toString());
          cp = String.join(File.pathSeparator, files);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    String classes = Path.of("target", "classes").toAbsolutePath().toString();
    assertTrue(List.of(cp.split(File.pathSeparator)).stream()
        .anyMatch(e -> Path.of(e).toAbsolutePath().toString().equals(classes)),
        "target/classes is not on the class path: " + cp);
    assertTrue(cp.contains("jetty-server") && cp.contains("sqlite-jdbc"),
        "dependencies missing from the class path: " + cp);
    return cp;
  }

  /** One child JVM; stdout is scanned for the ready line, stderr is kept for messages. */
  private static final class ServerProcess {
    final Process process;
    final CountDownLatch ready = new CountDownLatch(1);
    final CountDownLatch drained = new CountDownLatch(2);
    private final StringBuffer err = new StringBuffer();
    volatile String readyUrl;
    String url;

    ServerProcess(Process process) {
      this.process = process;
      Thread out = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            Matcher m = READY.matcher(line);
            if (readyUrl == null && m.find()) {
              readyUrl = m.group(1);
              ready.countDown();
            }
          }
        } catch (IOException e) {
          // the process is gone
        } finally {
          ready.countDown();
          drained.countDown();
        }
      }, "dev-server-stdout");
      Thread errs = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(
            new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) err.append(line).append('\n');
        } catch (IOException e) {
          // the process is gone
        } finally {
          drained.countDown();
        }
      }, "dev-server-stderr");
      out.setDaemon(true);
      errs.setDaemon(true);
      out.start();
      errs.start();
    }

    String stderr() {
      return err.toString();
    }

    /** SIGTERM, as a service manager stops it; waits for the process to end. */
    void terminate() throws InterruptedException {
      process.destroy();
      assertTrue(process.waitFor(20, TimeUnit.SECONDS), "no exit after SIGTERM");
    }

    /** SIGKILL: no shutdown hooks, no chance to flush anything. */
    void kill() throws InterruptedException {
      process.destroyForcibly();
      assertTrue(process.waitFor(20, TimeUnit.SECONDS), "no exit after SIGKILL");
    }
  }
}
