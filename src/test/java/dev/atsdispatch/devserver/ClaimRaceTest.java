package dev.atsdispatch.devserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Claims are exclusive under contention, and a re-claim by the assignee renews the lease
 * (ats-protocol.md §2.6, §3.2, §3.3, §9 Q1/Q2). Real sockets against an in-process server.
 */
class ClaimRaceTest {
  private static final int TASKS = 200;
  private static final int THREADS = 8;
  private static final String CONFLICT = "Cannot claim task in in_progress status";

  private record Attempt(long taskId, String actorId, int status, String error, JsonNode task) {}

  @Test
  @Timeout(60)
  void eightActorsRaceForEachTaskAndExactlyOneWins() throws Exception {
    try (DevServer server = DevServer.builder().port(0).inMemory().start()) {
      Http admin = new Http(server.url());
      long[] ids = new long[TASKS];
      for (int i = 0; i < TASKS; i++) ids[i] = admin.create("race " + i, "race");

      // All threads meet at the barrier before each task, then claim it at the same moment.
      CyclicBarrier start = new CyclicBarrier(THREADS);
      ConcurrentLinkedQueue<Attempt> attempts = new ConcurrentLinkedQueue<>();
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int w = 0; w < THREADS; w++) {
          String actorId = "worker-" + w;
          Http http = admin.as("agent", actorId, "Worker " + w);
          done.add(pool.submit(() -> {
            for (long id : ids) {
              start.await(30, TimeUnit.SECONDS);
              Http.Resp r = http.post("/tasks/" + id + "/claim", "{}");
              attempts.add(new Attempt(id, actorId, r.status(), r.error(), r.task()));
            }
            return null;
          }));
        }
        for (Future<?> f : done) f.get(50, TimeUnit.SECONDS);
      } finally {
        pool.shutdownNow();
      }

      assertEquals(TASKS * THREADS, attempts.size());
      for (long id : ids) {
        List<Attempt> forTask = attempts.stream().filter(a -> a.taskId == id).toList();
        assertEquals(THREADS, forTask.size(), "attempts on task " + id);
        List<Attempt> winners = forTask.stream().filter(a -> a.status == 200).toList();
        assertEquals(1, winners.size(), "winners of task " + id + ": " + forTask);
        for (Attempt a : forTask) {
          if (a.status == 200) continue;
          assertEquals(409, a.status, "loser's status on task " + id + ": " + a);
          assertEquals(CONFLICT, a.error, "loser's error on task " + id);
        }
        Attempt winner = winners.get(0);
        assertEquals(winner.actorId, winner.task.path("assignee_id").asText());
        assertEquals("in_progress", winner.task.path("status").asText());

        JsonNode t = admin.get("/tasks/" + id).task();
        assertEquals("in_progress", t.path("status").asText());
        assertEquals(winner.actorId, t.path("assignee_id").asText(), "assignee of task " + id);
        assertEquals("agent", t.path("assignee_type").asText());
        assertEquals("Worker " + winner.actorId.substring("worker-".length()),
            t.path("assignee_name").asText());
      }
      // Sanity check on the test itself: the claims really did race.
      assertTrue(attempts.stream().filter(a -> a.status == 200).map(Attempt::actorId).distinct()
          .count() > 1, "more than one actor won something");
    }
  }

  @Test
  @Timeout(30)
  void reclaimByTheAssigneeRenewsTheLeaseAndAnotherActorIsRefused() {
    MutableClock clock = MutableClock.startingNow();
    try (DevServer server = DevServer.builder().port(0).inMemory().clock(clock)
        .sweepInterval(Duration.ofHours(1)).start();
        WsClient ws = WsClient.connect(server.url())) {
      ws.subscribe(null, null, List.of("task.claimed"));
      Http ada = new Http(server.url());
      Http other = ada.as("agent", "other", "Other Agent");
      long id = ada.create("renew me", "default");

      Instant t0 = clock.instant();
      Http.Resp first = ada.post("/tasks/" + id + "/claim", "{\"lease_duration\":60000}");
      assertEquals(200, first.status(), first.text());
      Instant lease1 = WireTime.parse(first.task().path("lease_expires").asText());
      assertEquals(t0.plusSeconds(60), lease1);
      WsClient.Frame claimed = ws.nextEvent(Duration.ofSeconds(5));
      assertEquals(id, claimed.taskId());

      Instant t1 = clock.advance(Duration.ofSeconds(30));
      Http.Resp renew = ada.post("/tasks/" + id + "/claim", "{\"lease_duration\":60000}");
      assertEquals(200, renew.status(), renew.text());
      Instant lease2 = WireTime.parse(renew.task().path("lease_expires").asText());
      assertEquals(t1.plusSeconds(60), lease2, "renewal restarts the lease from now");
      assertTrue(lease2.isAfter(lease1));
      assertEquals("in_progress", renew.task().path("status").asText());
      assertEquals("ada-dispatch", renew.task().path("assignee_id").asText());

      WsClient.Frame renewed = ws.nextEvent(Duration.ofSeconds(5));
      assertEquals("task.claimed", renewed.type());
      assertEquals(id, renewed.taskId());
      assertEquals(lease2,
          WireTime.parse(renewed.json().path("data").path("task").path("lease_expires").asText()));

      Http.Resp stolen = other.post("/tasks/" + id + "/claim", "{\"lease_duration\":60000}");
      assertEquals(409, stolen.status(), stolen.text());
      assertEquals(CONFLICT, stolen.error());

      // The refused claim changed nothing and announced nothing.
      JsonNode t = ada.get("/tasks/" + id).task();
      assertEquals("ada-dispatch", t.path("assignee_id").asText());
      assertEquals(lease2, WireTime.parse(t.path("lease_expires").asText()));
      ws.expectNoEvent(Duration.ofMillis(300));

      // Same id but another actor type is another actor.
      Http.Resp sameIdOtherType = ada.as("human", "ada-dispatch", "Ada Dispatch")
          .post("/tasks/" + id + "/claim", "{}");
      assertEquals(409, sameIdOtherType.status(), sameIdOtherType.text());
      assertEquals(CONFLICT, sameIdOtherType.error());
    }
  }
}
