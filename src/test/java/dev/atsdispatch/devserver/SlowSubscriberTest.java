package dev.atsdispatch.devserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.RawWs;
import dev.atsdispatch.testing.Wait;
import dev.atsdispatch.testing.WsClient;
import dev.atsdispatch.testing.WsClient.Frame;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 8b over real sockets: a {@code /ws} subscriber that stops reading while large task
 * updates are sent is dropped with 1008 "too slow" once its queue passes the byte limit, instead of
 * the server holding every event for it until the heap runs out; the other subscribers get
 * every event. The slow subscriber is a {@link RawWs}, which reads only when the test says so.
 */
@Timeout(120)
final class SlowSubscriberTest {
  private static final int MiB = 1 << 20;

  @TempDir Path dir;

  /** Connects a subscriber to {@code channel} that then reads nothing more. */
  private static RawWs stalledSubscriber(String url, String channel) throws Exception {
    RawWs ws = RawWs.connect(url, "/ws?actor_type=agent&actor_id=slow&actor_name=Slow", 4096);
    assertEquals("connected", Http.JSON.readTree(ws.read(Duration.ofSeconds(5)).text())
        .path("type").asText());
    ws.sendText("{\"type\":\"subscribe\",\"channels\":[\"" + channel + "\"]}");
    assertEquals("subscribed", Http.JSON.readTree(ws.read(Duration.ofSeconds(5)).text())
        .path("type").asText());
    return ws;
  }

  private static String description(int i, int size) {
    return String.valueOf((char) ('a' + i % 26)).repeat(size);
  }

  @Test
  void aSubscriberThatStopsReadingIsDroppedWithTooSlowAndTheOthersGetEveryEvent() throws Exception {
    // 1 MiB bodies: the queue limit is 8 MiB, and events of about 800 KB pass it soon.
    try (DevServer server = DevServer.builder().port(0).inMemory().maxBodyBytes(MiB).start();
        WsClient normal = WsClient.connect(server.url());
        RawWs slow = stalledSubscriber(server.url(), "big")) {
      normal.subscribe(List.of("big"), null, null);
      Wait.until("both subscribers", () -> server.connections() == 2);
      Http http = new Http(server.url());
      long id = http.create("large updates", "big");
      int updates = 0;
      while (server.connections() == 2) {
        assertTrue(updates < 200, "the stalled subscriber is still connected after "
            + updates + " updates of 400 KB");
        assertEquals(200, http.patch("/tasks/" + id,
            "{\"description\":\"" + description(updates++, 400_000) + "\"}").status());
      }
      assertTrue(updates > 5, "dropped after only " + updates + " updates");

      // It is told why (after what was already on its way), then cut off.
      RawWs.Frame f;
      int events = 0;
      while (!(f = slow.read(Duration.ofSeconds(10))).close()) events++;
      assertEquals(1008, f.code());
      assertEquals("too slow", f.text());
      assertTrue(events < updates, events + " of " + updates + " events reached it");
      assertTrue(slow.closedWithin(Duration.ofSeconds(15)), "the connection stayed open");

      List<Frame> got = normal.nextEvents(1 + updates, Duration.ofSeconds(30));
      assertEquals(description(updates - 1, 400_000),
          got.get(updates).json().path("data").path("task").path("description").asText());
      assertTrue(normal.isOpen());

      // A dropped client reconnects and is served as before.
      try (WsClient again = WsClient.connect(server.url())) {
        again.subscribe(List.of("big"), null, null);
        long next = http.create("after the drop", "big");
        assertEquals(next, again.nextEvent(Duration.ofSeconds(5)).taskId());
      }
    }
  }

  @Test
  void aServerWithA256MiBHeapSurvivesASubscriberThatNeverReadsTwentyFiveUpdatesOf5MiB()
      throws Exception {
    try (ChildJvm child = ChildJvm.start(dir, "dev-server", Map.of(),
        List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError"), "dev.atsdispatch.cli.Main",
        List.of("dev-server", "--port", "0", "--in-memory"))) {
      String url = "http://127.0.0.1:" + child.awaitStdout(
          "ATS dev server ready at http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(30)).group(1);
      try (WsClient normal = WsClient.connect(url);
          RawWs slow = stalledSubscriber(url, "big")) {
        normal.subscribe(List.of("big"), null, null);
        Http http = new Http(url);
        long id = http.create("large updates", "big");
        // Each update event carries the description twice (task and changes): 10 MiB, 250 in all.
        int updates = 25;
        for (int i = 0; i < updates; i++) {
          Http.Resp r;
          try {
            r = http.patch("/tasks/" + id, "{\"description\":\"" + description(i, 5 * MiB) + "\"}");
          } catch (UncheckedIOException e) {
            child.process().waitFor(5, TimeUnit.SECONDS);
            throw new AssertionError("update " + i + " failed; the dev server is "
                + (child.process().isAlive() ? "alive" : "dead") + ":\n" + child.stdout() + child.stderr(), e);
          }
          assertEquals(200, r.status(), r.error());
        }
        List<Frame> got = normal.nextEvents(1 + updates, Duration.ofSeconds(60));
        assertEquals(description(updates - 1, 5 * MiB),
            got.get(updates).json().path("data").path("task").path("description").asText());
        assertTrue(slow.closedWithin(Duration.ofSeconds(30)), "the stalled subscriber is still connected");
        assertTrue(child.process().isAlive(), "the dev server died:\n" + child.stderr());
        assertEquals(200, http.get("/health").status());
      }
    }
  }
}
