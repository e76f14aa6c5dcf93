package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.TaskKey;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.ats.AtsEvent;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.time.Clock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The service end to end: dev server, WebSocket, http transport, real agent processes. */
@Timeout(90)
final class ServiceTest {
  static final String CH = DispatchFixture.CH;

  @TempDir Path dir;
  DevServer server;
  Http http;
  final List<Service> services = new ArrayList<>();

  @BeforeEach
  void startServer() {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stopAll() {
    services.forEach(Service::close);
    if (server != null) server.close();
  }

  Path agent(String name, String body) {
    return DispatchFixture.agent(dir, name, body);
  }

  ServiceConfig.Builder config(Path agent) {
    return DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
  }

  Service start(ServiceConfig cfg, String actorId) {
    Service svc = DispatchFixture.start(server.url(), cfg, actorId,
        Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString(), "SECRET_TOKEN", "must-not-leak"));
    services.add(svc);
    return svc;
  }

  long create(String title, int priority, String payload) {
    return DispatchFixture.create(http, title, priority, payload);
  }

  JsonNode task(long id) {
    return DispatchFixture.task(http, id);
  }

  static void await(String what, Duration d, BooleanSupplier cond) throws InterruptedException {
    DispatchFixture.await(what, d, cond);
  }

  void awaitStatus(long id, String status) throws InterruptedException {
    DispatchFixture.awaitStatus(http, id, status, Duration.ofSeconds(30));
  }

  @Test
  void runsATaskAndReportsItsOutputs() throws Exception {
    Path a = agent("echo.sh", "cat; echo; echo \"id=$ATS_TASK_ID ch=$ATS_CHANNEL secret=${SECRET_TOKEN:-none}\"; pwd >&2");
    Service svc = start(config(a).build(), "ada-1");
    long id = create("Say hello", 5, "{\"x\":1,\"callback_url\":\"http://example.invalid\"}");
    awaitStatus(id, "completed");
    JsonNode out = task(id).path("outputs").get(0);
    String response = out.path("response").asText();
    assertTrue(response.startsWith(ServiceConfig.DEFAULT_PROMPT_INTRO), response);
    assertTrue(response.contains("<task-title>\nSay hello\n</task-title>"), response);
    assertTrue(response.contains("<task-context>\n{\n  \"x\": 1\n}\n</task-context>"), response);
    assertFalse(response.contains("callback_url"), "internal fields are stripped");
    assertTrue(response.endsWith("id=" + id + " ch=" + CH + " secret=none"), response);
    assertEquals(0, out.path("exit_code").asInt());
    assertEquals(1, out.path("attempt").asInt());
    assertTrue(out.has("duration_ms"));
    Path work = dir.resolve("state/tasks/ats/" + id + "/work").toRealPath();
    assertEquals(work.toString(), out.path("stderr_tail").asText().strip(), "agent ran in its own directory");
    JsonNode msgs = task(id).path("messages");
    assertTrue(msgs.get(0).path("parts").get(0).path("content").asText().startsWith("Agent processing started"));
    assertTrue(Files.exists(dir.resolve("state/tasks/ats/" + id + "/attempt-1.stdout.log")));
    assertEquals(1, svc.engine().stats().attempts.get());
  }

  @Test
  void nonZeroExitFailsWithExitCodeAndStderrTail() throws Exception {
    start(config(agent("fail.sh", "echo 'boom: missing file' >&2; exit 3")).build(), "ada-1");
    long id = create("Fails", 5, null);
    awaitStatus(id, "failed");
    assertEquals("Agent exited with code 3: boom: missing file", task(id).path("reason").asText());
  }

  private static SourceEvent offered(Task t, SourceEvent.Why why) {
    return new SourceEvent.Offered(new SourceTask(TaskKey.of("ats", t.id()), t.status(), t.priority(), t.createdAt(),
        t.title(), t.description(), (com.fasterxml.jackson.databind.node.ObjectNode) t.payload(), false, null), why);
  }

  @Test
  void duplicateEventsRunATaskOnce() throws Exception {
    Path runs = dir.resolve("runs");
    Path a = agent("slow.sh", "echo run >> " + runs + "; sleep 1; echo ok");
    Service svc = start(config(a).build(), "ada-1");
    long id = create("Once", 5, null);
    Task t = new HttpAtsClient(new AtsSettings(server.url(), "default", "main", false, "agent", "x", "x"),
        Duration.ofSeconds(5)).get(id);
    for (int i = 0; i < 20; i++) {
      svc.engine().onEvent(offered(t, SourceEvent.Why.CREATED));
      svc.engine().onEvent(offered(t, SourceEvent.Why.LEASE_EXPIRED));
      svc.engine().reconcileSoon();
    }
    awaitStatus(id, "completed");
    Thread.sleep(500);
    for (int i = 0; i < 5; i++) svc.engine().onEvent(offered(t, SourceEvent.Why.CREATED)); // stale
    Thread.sleep(500);
    assertEquals(1, Files.readAllLines(runs).size());
  }

  @Test
  void cancelKillsTheAgentAndReportsNothing() throws Exception {
    Path started = dir.resolve("started");
    start(config(agent("hang.sh", "touch " + started + "; trap '' TERM; sleep 60")).build(), "ada-1");
    long id = create("Hang", 5, null);
    await("agent start", Duration.ofSeconds(20), () -> Files.exists(started));
    long t0 = System.nanoTime();
    assertEquals(200, http.post("/tasks/" + id + "/cancel", (String) null).status());
    await("agent gone", Duration.ofSeconds(5), () -> {
      try (var s = Files.list(dir.resolve("state/tasks/ats/" + id))) {
        return Files.readString(dir.resolve("state/tasks/ats/" + id + "/events.jsonl")).contains("\"outcome\":\"cancelled\"");
      } catch (Exception e) {
        return false;
      }
    });
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(3).toNanos());
    Thread.sleep(300);
    assertEquals("cancelled", task(id).path("status").asText());
    assertTrue(task(id).path("outputs").isEmpty());
  }

  @Test
  void poisonedTaskIsFailedWithoutRunning() throws Exception {
    Path runs = dir.resolve("runs");
    long id = create("Crashes the service", 5, null);
    StateDir pre = new StateDir(dir.resolve("state"));
    for (int n = 1; n <= 3; n++) {
      pre.ledger(TaskKey.of("ats", id)).append("attempt_started", new com.fasterxml.jackson.databind.ObjectMapper()
          .createObjectNode().put("attempt", n), Instant.now());
    }
    start(config(agent("never.sh", "echo run >> " + runs)).build(), "ada-1");
    awaitStatus(id, "failed");
    assertEquals("poison: 3 attempts", task(id).path("reason").asText());
    assertFalse(Files.exists(runs));
  }

  @Test
  void priorityOrderAndConcurrencyLimit() throws Exception {
    Path order = dir.resolve("order");
    long low = create("low", 1, null);
    long high = create("high", 9, null);
    long mid = create("mid", 5, null);
    ServiceConfig.Builder b = config(agent("order.sh", "echo $ATS_TASK_ID >> " + order + "; sleep 0.2"));
    b.concurrency = 1;
    start(b.build(), "ada-1");
    awaitStatus(low, "completed");
    awaitStatus(mid, "completed");
    assertEquals(List.of(Long.toString(high), Long.toString(mid), Long.toString(low)), Files.readAllLines(order));
  }

  @Test
  void leaseIsRenewedWhileTheAgentRuns() throws Exception {
    ServiceConfig.Builder b = config(agent("long.sh", "sleep 5; echo done"));
    b.lease = Duration.ofSeconds(3);
    Service svc = start(b.build(), "ada-1");
    long id = create("Longer than the lease", 5, null);
    awaitStatus(id, "completed");
    assertTrue(svc.engine().stats().leaseRenewals.get() >= 3, "renewals: " + svc.engine().stats().leaseRenewals.get());
    String ledger = Files.readString(dir.resolve("state/tasks/ats/" + id + "/events.jsonl"));
    assertFalse(ledger.contains("lease_lost"));
    assertEquals(1, svc.engine().stats().attempts.get());
  }

  @Test
  void lostLeaseStopsTheAgentAndReportsNothing() throws Exception {
    Path started = dir.resolve("started");
    ServiceConfig.Builder b = config(agent("hang.sh", "touch " + started + "; sleep 60"));
    b.lease = Duration.ofSeconds(3);
    Service svc = start(b.build(), "ada-1");
    long id = create("Stolen", 5, null);
    await("agent start", Duration.ofSeconds(20), () -> Files.exists(started));
    // An operator hands the task to someone else.
    assertEquals(200, http.patch("/tasks/" + id, "{\"status\":\"pending\"}").status());
    Http thief = http.as("agent", "other-executor", "Other");
    assertEquals(200, thief.post("/tasks/" + id + "/claim", "{\"lease_duration\":600000}").status());
    await("fencing", Duration.ofSeconds(10), () -> svc.engine().stats().leaseLost.get() == 1);
    JsonNode t = task(id);
    assertEquals("in_progress", t.path("status").asText());
    assertEquals("other-executor", t.path("assignee_id").asText());
    assertTrue(t.path("outputs").isEmpty());
  }

  @Test
  void resultWaitsInTheOutboxWhileAtsIsDown() throws Exception {
    Path started = dir.resolve("started");
    start(config(agent("slow.sh", "touch " + started + "; sleep 2; echo finished")).build(), "ada-1");
    long id = create("Outlives ATS", 5, null);
    await("agent start", Duration.ofSeconds(20), () -> Files.exists(started));
    int port = server.port();
    server.close();
    Path outbox = dir.resolve("state/outbox/results");
    await("result queued", Duration.ofSeconds(15), () -> {
      try (var s = Files.list(outbox)) {
        return s.count() == 1;
      } catch (Exception e) {
        return false;
      }
    });
    server = DevServer.builder().port(port).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    awaitStatus(id, "completed");
    assertEquals("finished", task(id).path("outputs").get(0).path("response").asText());
  }

  @Test
  void gracefulShutdownDrainsOrInterruptsWithoutAStrike() throws Exception {
    Path started = dir.resolve("started");
    ServiceConfig.Builder b = config(agent("hang.sh", "touch " + started + "; sleep 60"));
    b.drain = Duration.ofMillis(500);
    Service svc = start(b.build(), "ada-1");
    long id = create("Interrupted", 5, null);
    await("agent start", Duration.ofSeconds(20), () -> Files.exists(started));
    long t0 = System.nanoTime();
    svc.close();
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(8).toNanos());
    JsonNode t = task(id);
    assertEquals("pending", t.path("status").asText(), "not failed: given back to the queue");
    TaskLedger.Summary s = new StateDir(dir.resolve("state")).ledger(TaskKey.of("ats", id)).summary();
    assertEquals(0, s.strikes());
    assertEquals(1, s.attempts());
  }
}
