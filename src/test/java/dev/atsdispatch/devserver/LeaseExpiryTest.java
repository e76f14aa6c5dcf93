package dev.atsdispatch.devserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.MutableClock;
import dev.atsdispatch.testing.WsClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Leases (ats-protocol.md §3.2 "lease expiry", §7.1 #13, §9 Q13): an expired in_progress task
 * returns to pending with its assignee and lease cleared, subscribers get task.lease_expired, and
 * no read ever shows an expired task as in_progress, whether or not the sweeper has run.
 */
@Timeout(30)
class LeaseExpiryTest {
  private static final List<String> ASSIGNEE_FIELDS =
      List.of("assignee_type", "assignee_id", "assignee_name", "lease_expires");

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  private <T extends AutoCloseable> T track(T c) {
    open.add(c);
    return c;
  }

  /** A server on {@code clock} whose sweeper runs every {@code sweep}. */
  private DevServer server(MutableClock clock, Duration sweep) {
    return track(DevServer.builder().port(0).inMemory().clock(clock).sweepInterval(sweep).start());
  }

  private WsClient leaseWatcher(DevServer server) {
    WsClient ws = track(WsClient.connect(server.url()));
    ws.subscribe(null, null, List.of("task.lease_expired"));
    return ws;
  }

  private static void assertReleased(JsonNode task, long id) {
    assertEquals(id, task.path("id").asLong());
    assertEquals("pending", task.path("status").asText(), task.toString());
    for (String f : ASSIGNEE_FIELDS) {
      assertTrue(task.has(f) && task.get(f).isNull(), f + " must be null: " + task);
    }
  }

  private static Http.Resp claim(Http http, long id, long leaseMs) {
    Http.Resp r = http.post("/tasks/" + id + "/claim", "{\"lease_duration\":" + leaseMs + "}");
    assertEquals(200, r.status(), r.text());
    return r;
  }

  // ---- (a) real time, real sweeper ------------------------------------------------------

  @Test
  void shortRealLeaseExpiresWithinASecondOrSoAndSubscribersAreTold() {
    DevServer server = track(DevServer.builder().port(0).inMemory().start());
    WsClient ws = leaseWatcher(server);
    Http http = new Http(server.url());
    long id = http.create("short lease", "leases");
    long longLeased = http.create("long lease", "leases");
    claim(http, longLeased, 60_000);

    Http.Resp claimed = claim(http, id, 1000);
    Instant leaseExpires = WireTime.parse(claimed.task().path("lease_expires").asText());
    assertEquals("in_progress", http.get("/tasks/" + id).task().path("status").asText());

    WsClient.Frame ev = ws.nextEvent(Duration.ofMillis(2500));
    Instant receivedAt = Instant.now();
    assertEquals("task.lease_expired", ev.type());
    assertEquals(id, ev.taskId());
    assertReleased(ev.json().path("data").path("task"), id);
    // Not early: the lease had really run out (same machine, same wall clock; 50 ms slack).
    assertFalse(receivedAt.isBefore(leaseExpires.minusMillis(50)),
        "expired at " + receivedAt + " but the lease ran to " + leaseExpires);

    assertReleased(http.get("/tasks/" + id).task(), id);
    // Only the short lease expired.
    assertEquals("in_progress", http.get("/tasks/" + longLeased).task().path("status").asText());
    ws.expectNoEvent(Duration.ofMillis(300));
  }

  // ---- (b) lazy expiry: the sweeper never runs, reads still never show in_progress --------

  @ParameterizedTest(name = "first look: {0}")
  @ValueSource(strings = {"get", "scoped-get", "list", "stats", "project-counts", "claim"})
  void expiredLeaseIsNeverShownAsInProgressEvenBeforeTheSweeperRuns(String firstLook) {
    MutableClock clock = MutableClock.startingNow();
    DevServer server = server(clock, Duration.ofHours(1));
    WsClient ws = leaseWatcher(server);
    Http http = new Http(server.url());
    long id = http.create("lazily expired", "leases");
    claim(http, id, 60_000);

    clock.advance(Duration.ofSeconds(59));
    assertEquals("in_progress", http.get("/tasks/" + id).task().path("status").asText(),
        "still leased after 59 s");
    ws.expectNoEvent(Duration.ofMillis(100));

    clock.advance(Duration.ofSeconds(2));
    switch (firstLook) {
      case "get" -> assertReleased(http.get("/tasks/" + id).task(), id);
      case "scoped-get" ->
          assertReleased(http.get("/orgs/default/projects/main/tasks/" + id).task(), id);
      case "list" -> {
        Http.Resp running = http.get("/tasks?status=in_progress");
        assertEquals(0, running.body().path("count").asInt(), running.text());
        assertEquals(0, running.body().path("tasks").size(), running.text());
      }
      case "stats" -> {
        JsonNode byStatus = http.get("/tasks/stats").body().path("stats").path("by_status");
        assertEquals(0, byStatus.path("in_progress").asInt(), byStatus.toString());
        assertEquals(1, byStatus.path("pending").asInt(), byStatus.toString());
      }
      case "project-counts" -> {
        JsonNode p = http.get("/orgs/default/projects/main?counts=true").body().path("project");
        assertEquals(0, p.path("in_progress_count").asInt(), p.toString());
        assertEquals(1, p.path("pending_count").asInt(), p.toString());
      }
      case "claim" -> {
        Http.Resp r = http.as("agent", "next-worker", "Next Worker")
            .post("/tasks/" + id + "/claim", "{}");
        assertEquals(200, r.status(), "an expired lease frees the task for others: " + r.text());
        assertEquals("next-worker", r.task().path("assignee_id").asText());
      }
      default -> throw new IllegalArgumentException(firstLook);
    }

    WsClient.Frame ev = ws.nextEvent(Duration.ofSeconds(2));
    assertEquals("task.lease_expired", ev.type());
    assertReleased(ev.json().path("data").path("task"), id);

    if (!firstLook.equals("claim")) {
      // Every other view agrees.
      assertReleased(http.get("/tasks/" + id).task(), id);
      Http.Resp pending = http.get("/tasks?status=pending");
      assertEquals(1, pending.body().path("count").asInt());
      assertReleased(pending.body().path("tasks").get(0), id);
      assertEquals(0, http.get("/tasks?status=in_progress").body().path("count").asInt());
      assertEquals(0, http.get("/tasks/stats").body().path("stats").path("by_status")
          .path("in_progress").asInt());
    }
    // Exactly one event, however many reads followed.
    ws.expectNoEvent(Duration.ofMillis(300));
  }

  // ---- (c) renewal -------------------------------------------------------------------------

  @ParameterizedTest(name = "sweep every {0} ms")
  @ValueSource(longs = {3_600_000, 20})
  void renewalBeforeExpiryKeepsTheTaskInProgressPastTheOriginalLease(long sweepMs) {
    MutableClock clock = MutableClock.startingNow();
    DevServer server = server(clock, Duration.ofMillis(sweepMs));
    WsClient ws = leaseWatcher(server);
    Http http = new Http(server.url());
    long id = http.create("renewed", "leases");

    Instant t0 = clock.instant();
    claim(http, id, 60_000);
    clock.advance(Duration.ofSeconds(50));
    Http.Resp renewed = claim(http, id, 60_000);
    assertEquals(t0.plusSeconds(110), WireTime.parse(renewed.task().path("lease_expires").asText()));

    clock.advance(Duration.ofSeconds(20)); // t0 + 70 s: past the first lease, inside the second
    ws.expectNoEvent(Duration.ofMillis(300)); // the sweeper (if fast) has run many times by now
    JsonNode t = http.get("/tasks/" + id).task();
    assertEquals("in_progress", t.path("status").asText(), t.toString());
    assertEquals("ada-dispatch", t.path("assignee_id").asText());
    assertEquals(t0.plusSeconds(110), WireTime.parse(t.path("lease_expires").asText()));
    assertEquals(1, http.get("/tasks?status=in_progress").body().path("count").asInt());
    ws.expectNoEvent(Duration.ofMillis(100));

    clock.advance(Duration.ofSeconds(41)); // t0 + 111 s: the renewed lease is over too
    if (sweepMs < 1000) {
      // No request needed: the sweeper finds it.
      WsClient.Frame ev = ws.nextEvent(Duration.ofSeconds(2));
      assertEquals(id, ev.taskId());
      assertReleased(http.get("/tasks/" + id).task(), id);
    } else {
      assertReleased(http.get("/tasks/" + id).task(), id);
      assertEquals(id, ws.nextEvent(Duration.ofSeconds(2)).taskId());
    }
    ws.expectNoEvent(Duration.ofMillis(200));
  }

  // ---- (d) finishing a task whose lease ran out ----------------------------------------------

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"complete", "fail"})
  void aLateCompleteOrFailOnAnExpiredLeaseIsAccepted(String action) {
    MutableClock clock = MutableClock.startingNow();
    DevServer server = server(clock, Duration.ofHours(1));
    WsClient ws = track(WsClient.connect(server.url()));
    ws.subscribe(null, null, List.of("task.lease_expired", "task.completed", "task.failed"));
    Http worker = new Http(server.url());
    long id = worker.create("slow job", "leases");
    claim(worker, id, 60_000);
    clock.advance(Duration.ofSeconds(61));

    // The worker does not know its lease ran out; its next call is the finishing one.
    String body = action.equals("complete")
        ? "{\"outputs\":[{\"response\":\"late but done\"}]}"
        : "{\"reason\":\"gave up late\"}";
    Http.Resp r = worker.post("/tasks/" + id + "/" + action, body);
    assertEquals(200, r.status(), "§3.2: " + action + " from pending is accepted: " + r.text());

    String status = action.equals("complete") ? "completed" : "failed";
    JsonNode t = worker.get("/tasks/" + id).task();
    assertEquals(status, t.path("status").asText());
    assertTrue(t.path("lease_expires").isNull(), t.toString());
    if (action.equals("complete")) {
      assertEquals(Http.JSON.createArrayNode().add(
          Http.JSON.createObjectNode().put("response", "late but done")), t.path("outputs"));
    } else {
      assertEquals("gave up late", t.path("reason").asText());
    }

    List<WsClient.Frame> events = ws.nextEvents(2, Duration.ofSeconds(2));
    assertEquals("task.lease_expired", events.get(0).type(), "the expiry is committed first");
    assertEquals("task." + status, events.get(1).type());
    assertEquals(status, events.get(1).json().path("data").path("task").path("status").asText());
  }
}
