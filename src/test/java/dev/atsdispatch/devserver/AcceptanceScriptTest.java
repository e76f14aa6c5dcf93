package dev.atsdispatch.devserver;

import static dev.atsdispatch.testing.ApiChecks.expect;
import static dev.atsdispatch.testing.ApiChecks.expectErrorExactly;
import static dev.atsdispatch.testing.ApiChecks.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Http.Resp;
import dev.atsdispatch.testing.WsClient;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The acceptance script of ats-protocol.md §7.3, automated at the wire level: each step sends what
 * the ats CLI 1.3.0 sends for that command (§2, §4) with the dispatcher's actor, and checks what
 * the CLI and the dispatcher read back.
 */
class AcceptanceScriptTest {
  private static final String CH = "ada-dispatch";
  private static DevServer server;
  private static Http ada;

  @BeforeAll
  static void start() {
    server = DevServer.builder().port(0).inMemory().enableTestReset(true).start();
    ada = new Http(server.url());
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static String taskBody(String title, String channel, int priority) {
    return "{\"title\":" + Http.json(title) + ",\"type\":\"task\",\"channel\":" + Http.json(channel)
        + ",\"priority\":" + priority + "}";
  }

  private static long create(String title, String channel, int priority) {
    Resp r = expect(201, ada.post("/tasks", taskBody(title, channel, priority)));
    return r.task().path("id").asLong();
  }

  private static JsonNode get(long id) {
    return expect(200, ada.get("/tasks/" + id)).task();
  }

  @Test
  void acceptanceScript() throws Exception {
    expect(200, ada.post("/_test/reset", (String) null));

    // 1. health
    Resp health = expect(200, ada.get("/health"));
    assertEquals("ok", health.body().path("status").asText());
    Instant.parse(health.body().path("timestamp").asText());

    // 2. watch --channel ada-dispatch --events task.created; plus a lease-expiry watcher (step 6)
    try (WsClient watcher = WsClient.connect(server.url());
        WsClient expiryWatcher = WsClient.connect(server.url())) {
      watcher.subscribe(List.of(CH), null, List.of("task.created"));
      expiryWatcher.subscribe(null, null, List.of("task.lease_expired"));

      // 3. create "T1" --channel ada-dispatch: the watcher sees it within 1 s
      Resp created = expect(201, ada.post("/tasks", taskBody("T1", CH, 5)));
      JsonNode t1 = created.task();
      long n = t1.path("id").asLong();
      assertTrue(t1.path("id").isIntegralNumber() && n > 0, "integer id: " + t1);
      assertEquals("pending", t1.path("status").asText());
      assertEquals("Ada Dispatch", t1.path("source_name").asText());
      assertEquals("agent", t1.path("source_type").asText());
      assertEquals("ada-dispatch", t1.path("source_id").asText());
      WsClient.Frame ev = watcher.nextEvent(Duration.ofSeconds(1));
      assertEquals("task.created", ev.type());
      assertTrue(ev.json().path("data").path("task").path("id").isIntegralNumber(), ev.raw());
      assertEquals(n, ev.taskId());
      assertEquals("T1", ev.json().path("data").path("task").path("title").asText());
      assertEquals("Ada Dispatch", ev.json().path("actor_name").asText());
      // A task in another channel must not reach the watcher (checked with the sentinel at the end).
      long elsewhere = create("Other channel task", "elsewhere", 5);

      // 4. list --channel ada-dispatch --status pending
      Resp pending = ada.get("/tasks?channel=" + CH + "&status=pending");
      assertEquals(List.of(n), ids(pending));
      assertEquals(1, pending.body().path("count").asInt());

      // 5. claim <n> --lease 2000; get shows in_progress, the assignee and a lease ~2 s ahead
      long claimedAt = System.nanoTime();
      Resp claim = expect(200, ada.post("/tasks/" + n + "/claim", "{\"lease_duration\":2000}"));
      assertEquals("in_progress", claim.task().path("status").asText());
      assertEquals("Ada Dispatch", claim.task().path("assignee_name").asText());
      Instant lease = Instant.parse(claim.task().path("lease_expires").asText());
      Instant updated = Instant.parse(claim.task().path("updated_at").asText());
      assertEquals(2000, Duration.between(updated, lease).toMillis());
      long ahead = Duration.between(Instant.now(), lease).toMillis();
      assertTrue(ahead > 1000 && ahead <= 2100, "lease " + ahead + " ms ahead");
      JsonNode got = get(n);
      assertEquals("in_progress", got.path("status").asText());
      assertEquals("Ada Dispatch", got.path("assignee_name").asText());
      assertEquals("ada-dispatch", got.path("assignee_id").asText());
      assertEquals(lease, Instant.parse(got.path("lease_expires").asText()));

      // 6. wait 3 s: pending again, no assignee, and the second watcher saw task.lease_expired
      long left = Duration.ofSeconds(3).toMillis() - (System.nanoTime() - claimedAt) / 1_000_000;
      if (left > 0) Thread.sleep(left);
      got = get(n);
      assertEquals("pending", got.path("status").asText());
      assertTrue(got.path("assignee_id").isNull(), got.toString());
      assertTrue(got.path("assignee_name").isNull(), got.toString());
      assertTrue(got.path("assignee_type").isNull(), got.toString());
      assertTrue(got.path("lease_expires").isNull(), got.toString());
      WsClient.Frame expired = expiryWatcher.nextEvent(Duration.ofSeconds(1));
      assertEquals("task.lease_expired", expired.type());
      assertEquals(n, expired.taskId());
      assertEquals("pending", expired.json().path("data").path("task").path("status").asText());

      // 7. claim again (default lease 60 s); same-actor re-claim renews; another actor gets 409
      Resp again = expect(200, ada.post("/tasks/" + n + "/claim", "{}"));
      assertEquals("in_progress", again.task().path("status").asText());
      assertEquals(60_000, Duration.between(Instant.parse(again.task().path("updated_at").asText()),
          Instant.parse(again.task().path("lease_expires").asText())).toMillis());
      Resp renew = expect(200,
          ada.post("/tasks/" + n + "/claim", "{\"lease_duration\":14400000}"));
      Instant renewed = Instant.parse(renew.task().path("lease_expires").asText());
      assertEquals(14_400_000, Duration.between(
          Instant.parse(renew.task().path("updated_at").asText()), renewed).toMillis());
      Http otherActor = ada.as("agent", "other", "Ada Dispatch");
      expectErrorExactly(409, "Cannot claim task in in_progress status",
          otherActor.post("/tasks/" + n + "/claim", "{}"));
      got = get(n);
      assertEquals("in_progress", got.path("status").asText());
      assertEquals("ada-dispatch", got.path("assignee_id").asText());
      assertEquals(renewed, Instant.parse(got.path("lease_expires").asText()));

      // 8. message add <n> "Agent processing started"; message list shows one text part
      Resp msg = ada.post("/tasks/" + n + "/messages",
          "{\"parts\":[{\"type\":\"text\",\"content\":\"Agent processing started\"}]}");
      assertTrue(msg.status() == 200 || msg.status() == 201, msg.text());
      assertEquals("Ada Dispatch", msg.body().path("message").path("actor_name").asText());
      Resp msgs = expect(200, ada.get("/tasks/" + n + "/messages"));
      JsonNode list = msgs.body().path("messages");
      assertEquals(1, list.size(), msgs.text());
      assertEquals(Http.JSON.readTree("[{\"type\":\"text\",\"content\":\"Agent processing started\"}]"),
          list.get(0).path("parts"));

      // 9. complete --outputs '{"response":"ok"}' (sent as a one-element array), stored verbatim
      expect(200, ada.post("/tasks/" + n + "/complete", "{\"outputs\":[{\"response\":\"ok\"}]}"));
      got = get(n);
      assertEquals("completed", got.path("status").asText());
      assertEquals(Http.JSON.readTree("[{\"response\":\"ok\"}]"), got.path("outputs"));
      assertTrue(got.path("lease_expires").isNull(), got.toString());
      expectErrorExactly(409, "Cannot claim task in completed status",
          ada.post("/tasks/" + n + "/claim", "{}"));

      // 10. reopen -> pending; fail from pending -> failed; reject, cancel, update per §3.2
      Resp reopened = expect(200, ada.post("/tasks/" + n + "/reopen", "{\"reason\":\"r\"}"));
      assertEquals("pending", reopened.task().path("status").asText());
      assertTrue(reopened.task().path("assignee_id").isNull(), reopened.text());
      expect(200, ada.post("/tasks/" + n + "/fail", "{\"reason\":\"x\"}"));
      got = get(n);
      assertEquals("failed", got.path("status").asText());
      assertEquals("x", got.path("reason").asText());
      expectErrorExactly(409, "Cannot reject task in failed status",
          ada.post("/tasks/" + n + "/reject", "{}"));
      expectErrorExactly(409, "Cannot cancel task in failed status",
          ada.post("/tasks/" + n + "/cancel", (String) null));
      expect(200, ada.post("/tasks/" + n + "/reopen", "{}"));
      expectErrorExactly(409, "Cannot reopen task in pending status",
          ada.post("/tasks/" + n + "/reopen", "{}"));
      assertEquals("rejected", expect(200, ada.post("/tasks/" + n + "/reject",
          "{\"reason\":\"not for us\"}")).task().path("status").asText());
      expect(200, ada.post("/tasks/" + n + "/reopen", "{}"));
      expect(200, ada.post("/tasks/" + n + "/claim", "{}"));
      Resp rejectedRunning = expect(200, ada.post("/tasks/" + n + "/reject", "{}"));
      assertEquals("rejected", rejectedRunning.task().path("status").asText());
      assertTrue(rejectedRunning.task().path("lease_expires").isNull(), rejectedRunning.text());
      expect(200, ada.post("/tasks/" + n + "/reopen", "{}"));
      assertEquals("cancelled", expect(200, ada.post("/tasks/" + n + "/cancel", (String) null))
          .task().path("status").asText());
      Resp patched = expect(200, ada.patch("/tasks/" + n, "{\"priority\":9}"));
      assertEquals(9, patched.task().path("priority").asInt());
      assertEquals("cancelled", patched.task().path("status").asText());
      assertEquals(9, get(n).path("priority").asInt());

      // 11. stats has by_status; list --all (no status) and list -p 7+ --sort priority
      long p7 = create("p7", "misc", 7);
      long p8 = create("p8", "misc", 8);
      long p3 = create("p3", "misc", 3);
      long p10 = create("p10", "misc", 10);
      Resp stats = expect(200, ada.get("/tasks/stats"));
      JsonNode byStatus = stats.body().path("stats").path("by_status");
      assertTrue(byStatus.isObject(), stats.text());
      assertEquals(6, stats.body().path("stats").path("total").asInt());
      assertEquals(5, byStatus.path("pending").asInt());
      assertEquals(1, byStatus.path("cancelled").asInt());
      Resp all = ada.get("/tasks");
      assertEquals(Set.of(n, elsewhere, p7, p8, p3, p10), Set.copyOf(ids(all)));
      assertEquals(6, all.body().path("count").asInt());
      assertEquals(List.of(p10, n, p8, p7), ids(ada.get("/tasks?min_priority=7&sort_by=priority")));

      // 12. every error above was JSON with a string "error" (checked by expectError*); one more:
      expectErrorExactly(404, "Task not found", ada.get("/tasks/999999"));

      // The task.created watcher saw nothing since T1 (other channel, claims, messages, lease
      // expiry, lifecycle, misc tasks): the next event it gets is this sentinel's creation.
      long sentinel = create("Sentinel", CH, 5);
      WsClient.Frame next = watcher.nextEvent(Duration.ofSeconds(2));
      assertEquals("task.created", next.type(), next.raw());
      assertEquals(sentinel, next.taskId(), next.raw());
      assertFalse(watcher.closeCode() != null, "watcher closed");
    }
  }
}
