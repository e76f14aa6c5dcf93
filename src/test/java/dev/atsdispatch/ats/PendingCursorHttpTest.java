package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.MutableClock;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PendingCursor} and light lists over real sockets against the in-memory dev server:
 * nothing that stays pending is skipped while another actor claims, and a light walk over tasks
 * far larger than the heap fits in it (defect 9).
 */
class PendingCursorHttpTest {
  private static final int TASKS = 1000;
  private static final int PAGE = 50;
  private static final int BATCH = TASKS / 2 / (TASKS / PAGE);
  private static final int TIE = 20;

  @TempDir Path dir;
  private DevServer server;
  private final List<AtsClient> clients = new ArrayList<>();

  @AfterEach
  void stop() {
    clients.forEach(AtsClient::close);
    if (server != null) server.close();
  }

  private HttpAtsClient client(String actorId) {
    HttpAtsClient c = new HttpAtsClient(new AtsSettings(server.url(), "default", "main", false,
        "agent", actorId, actorId), Duration.ofSeconds(30));
    clients.add(c);
    return c;
  }

  /**
   * {@code n} tasks in {@code channel}, {@link #TIE} per millisecond: claims then often hit tasks
   * the cursor has returned at its current timestamp, which shifts the rest of that timestamp.
   */
  private static List<Long> create(AtsClient ats, MutableClock clock, String channel, int n) {
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (i % TIE == 0) clock.advance(Duration.ofMillis(1));
      ids.add(ats.create(new NewTask("t" + i, "d" + i, null, 5, channel, null)).id());
    }
    return ids;
  }

  /**
   * The walker's client: each list() lets a claimer thread claim the next batch of {@code toClaim}
   * (over its own connection, while this page is being read) and, from the second page on, first
   * waits until the previous batch is done, so the claims spread over the whole walk.
   */
  private static final class ClaimedMeanwhile implements AtsClient {
    private final AtsClient walker;
    private final Semaphore pageStarted = new Semaphore(0);
    private final Semaphore batchDone = new Semaphore(0);
    private final Thread claimer;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private int pages;

    ClaimedMeanwhile(AtsClient walker, AtsClient other, List<Long> toClaim) {
      this.walker = walker;
      this.claimer = new Thread(() -> {
        try {
          for (int from = 0; from < toClaim.size(); from += BATCH) {
            pageStarted.acquire();
            for (long id : toClaim.subList(from, Math.min(toClaim.size(), from + BATCH))) {
              other.claim(id, Duration.ofMinutes(10));
            }
            batchDone.release();
          }
        } catch (Throwable e) {
          failure.set(e);
        } finally {
          batchDone.release(Integer.MAX_VALUE / 2);
        }
      }, "claimer");
      claimer.start();
    }

    @Override
    public TaskPage list(TaskQuery q) {
      try {
        if (pages++ > 0 && !batchDone.tryAcquire(30, TimeUnit.SECONDS)) throw new AssertionError("claimer stuck");
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      pageStarted.release();
      return walker.list(q);
    }

    void finish() throws Exception {
      pageStarted.release(Integer.MAX_VALUE / 2);
      claimer.join(30_000);
      if (failure.get() != null) throw new AssertionError("claimer failed", failure.get());
    }

    @Override public String transport() { return walker.transport(); }
    @Override public Task get(long id) { return walker.get(id); }
    @Override public Task create(NewTask task) { return walker.create(task); }
    @Override public Task claim(long id, Duration lease) { return walker.claim(id, lease); }
    @Override public void complete(long id, List<JsonNode> outputs) { walker.complete(id, outputs); }
    @Override public void fail(long id, String reason) { walker.fail(id, reason); }
    @Override public void release(long id) { walker.release(id); }
    @Override public void addMessage(long id, List<JsonNode> parts) { walker.addMessage(id, parts); }
    @Override public java.util.List<com.fasterxml.jackson.databind.JsonNode> messages(long id) { return java.util.List.of(); }
    @Override public void health() { walker.health(); }
    @Override public void close() {}
  }

  @Test
  void cursorReturnsEveryTaskThatStaysPendingWhileAnotherActorClaimsHalf() throws Exception {
    MutableClock clock = MutableClock.startingNow();
    server = DevServer.builder().port(0).inMemory().clock(clock).start();
    HttpAtsClient walker = client("walker");
    HttpAtsClient other = client("other");

    // The same schedule for a plain offset walk (the old reconcile) and for the cursor.
    Map<String, Set<Long>> stayed = new java.util.HashMap<>();
    Map<String, List<Long>> returned = new java.util.HashMap<>();
    for (String walk : List.of("offset", "cursor")) {
      List<Long> ids = create(walker, clock, walk, TASKS);
      List<Long> shuffled = new ArrayList<>(ids);
      Collections.shuffle(shuffled, new Random(9));
      List<Long> toClaim = shuffled.subList(0, TASKS / 2);
      Set<Long> rest = new HashSet<>(shuffled.subList(TASKS / 2, TASKS));
      ClaimedMeanwhile ats = new ClaimedMeanwhile(walker, other, toClaim);
      List<Long> out = new ArrayList<>();
      if (walk.equals("offset")) {
        for (int offset = 0; ; offset += PAGE) {
          List<Task> page = ats.list(TaskQuery.pending(walk).oldestFirst().withLight(true)
              .page(PAGE, offset)).tasks();
          page.forEach(t -> out.add(t.id()));
          if (page.size() < PAGE) break;
        }
      } else {
        PendingCursor c = new PendingCursor(ats, TaskQuery.pending(walk).withLight(true), PAGE);
        c.forEachRemaining(t -> out.add(t.id()));
        assertTrue(c.pages() < 3 * TASKS / PAGE, c.pages() + " pages");
      }
      ats.finish();
      stayed.put(walk, rest);
      returned.put(walk, out);
    }

    Set<Long> skippedByOffset = new HashSet<>(stayed.get("offset"));
    returned.get("offset").forEach(skippedByOffset::remove);
    assertNotEquals(Set.of(), skippedByOffset, "the offset walk was expected to skip tasks");

    List<Long> out = returned.get("cursor");
    Set<Long> missed = new HashSet<>(stayed.get("cursor"));
    out.forEach(missed::remove);
    assertEquals(Set.of(), missed, "the cursor skipped tasks that stayed pending");
    assertEquals(out.size(), new HashSet<>(out).size(), "duplicates");
    // What it returned is oldest first, ties by id.
    List<Long> sorted = new ArrayList<>(out);
    Collections.sort(sorted);
    assertEquals(sorted, out);
  }

  @Test
  void aLightWalkOverTasksOfSevenMegabytesFitsIn64Megabytes() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    // One request body, sent n times; the 7 MiB echo of each create is not parsed.
    byte[] body = ("{\"title\":\"big\",\"channel\":\"big\",\"description\":\""
        + "x".repeat(7 << 20) + "\"}").getBytes(StandardCharsets.UTF_8);
    HttpClient http = HttpClient.newHttpClient();
    int n = 24;
    for (int i = 0; i < n; i++) {
      HttpRequest create = HttpRequest.newBuilder(URI.create(server.url() + "/tasks"))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
      assertEquals(201, http.send(create, HttpResponse.BodyHandlers.discarding()).statusCode());
    }
    body = null;

    // Pages of 10: each answer is about 70 MiB, more than the child's whole heap; 168 MiB in all.
    try (ChildJvm light = ChildJvm.start(dir, "light", Map.of(), "64m",
        LightListProbe.class.getName(), List.of(server.url(), "big", "10", "light"))) {
      assertEquals(0, light.waitFor(Duration.ofSeconds(60)), light.stderr());
      assertTrue(light.stdout().contains("listed " + n + ", without description " + n),
          light.stdout());
    }
    // The contrast: the same walk with full tasks does not fit.
    try (ChildJvm full = ChildJvm.start(dir, "full", Map.of(), "64m",
        LightListProbe.class.getName(), List.of(server.url(), "big", "10", "full"))) {
      assertNotEquals(0, full.waitFor(Duration.ofSeconds(60)), full.stdout());
      assertTrue(full.stderr().contains("OutOfMemoryError"), full.stderr());
    }
  }
}
