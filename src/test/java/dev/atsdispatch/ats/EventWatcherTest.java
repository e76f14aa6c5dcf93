package dev.atsdispatch.ats;

import dev.atsdispatch.time.Backoff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.time.Clock;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.java_websocket.WebSocket;
import org.java_websocket.handshake.ClientHandshake;
import org.java_websocket.server.WebSocketServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
final class EventWatcherTest {
  static final EventWatcher.Timing FAST = new EventWatcher.Timing(Duration.ofMillis(100),
      Duration.ofMillis(600), Duration.ofMillis(100), Duration.ofMillis(400));

  final ScheduledExecutorService sched = Executors.newScheduledThreadPool(1);
  final BlockingQueue<Object> seen = new LinkedBlockingQueue<>();
  final AtomicInteger subscribes = new AtomicInteger();
  EventWatcher watcher;
  DevServer server;

  EventWatcher.Listener listener() {
    return new EventWatcher.Listener() {
      @Override
      public void onSubscribed() {
        subscribes.incrementAndGet();
        seen.add("subscribed");
      }

      @Override
      public void onEvent(AtsEvent e) {
        seen.add(e);
      }
    };
  }

  AtsSettings settings(String url) {
    return new AtsSettings(url, "default", "main", false, "agent", "ada-dispatch", "Ada Dispatch");
  }

  @AfterEach
  void tearDown() {
    if (watcher != null) watcher.close();
    if (server != null) server.close();
    sched.shutdownNow();
  }

  Object next() throws InterruptedException {
    Object o = seen.poll(10, TimeUnit.SECONDS);
    if (o == null) throw new AssertionError("nothing seen within 10 s");
    return o;
  }

  @Test
  void deliversOnlyTheChannelsSubscribedEventsAndResubscribesAfterAServerRestart() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    int port = server.port();
    watcher = new EventWatcher(settings(server.url()), "ada-dispatch",
        List.of("task.created", "task.cancelled"), listener(), Clock.SYSTEM, sched, FAST);
    watcher.start();
    assertEquals("subscribed", next());
    assertTrue(watcher.subscribed());
    Http http = new Http(server.url());
    http.create("elsewhere", "other-channel");
    long id = http.create("mine", "ada-dispatch");
    AtsEvent e = (AtsEvent) next();
    assertEquals("task.created", e.type());
    assertEquals(id, e.task().id());
    assertEquals("mine", e.task().title());
    http.post("/tasks/" + id + "/claim", "{}"); // task.claimed is not subscribed
    http.post("/tasks/" + id + "/cancel", (String) null);
    AtsEvent c = (AtsEvent) next();
    assertEquals("task.cancelled", c.type());

    server.close();
    server = DevServer.builder().port(port).inMemory().start();
    assertEquals("subscribed", next(), "a new subscription after the server came back");
    assertTrue(watcher.reconnects() >= 1);
    long id2 = new Http(server.url()).create("after restart", "ada-dispatch");
    assertEquals(id2, ((AtsEvent) next()).task().id());
  }

  @Test
  void anEventCarriesALightTaskWithoutItsDescriptionOutputsOrLongReason() throws Exception {
    String frame = "{\"type\":\"task.failed\",\"data\":{\"task\":{\"id\":7,\"title\":\"short\","
        + "\"description\":\"" + "d".repeat(1 << 20) + "\",\"status\":\"failed\",\"priority\":3,"
        + "\"channel\":\"ada-dispatch\",\"payload\":{\"description\":\"kept\",\"depends_on\":[\"5\"]},"
        + "\"outputs\":[{\"response\":\"r\"}],\"reason\":\"why\",\"created_at\":\"2026-01-02T03:04:05.678Z\"}},"
        + "\"timestamp\":\"2026-01-02T03:04:06Z\"}";
    JsonNode msg = EventWatcher.readLight(frame);
    assertEquals("task.failed", msg.path("type").asText());
    assertEquals("2026-01-02T03:04:06Z", msg.path("timestamp").asText());
    Task t = Task.fromJson(msg.path("data").path("task")).toLight();
    assertEquals(7, t.id());
    assertEquals("short", t.title());
    assertEquals(null, t.description());
    assertEquals("why", t.reason(), "a short reason is kept: it tells a task parked for a question");
    assertEquals(0, t.outputs().size());
    assertEquals(3, t.priority());
    assertEquals("kept", t.payload().path("description").asText(), "the payload is kept whole");
    assertEquals("5", t.payload().path("depends_on").path(0).asText());
    // a long title is dropped, as in a light list
    JsonNode longTitle = EventWatcher.readLight("{\"type\":\"task.created\",\"task\":{\"id\":8,\"title\":\""
        + "t".repeat(Task.LIGHT_TITLE + 1) + "\",\"status\":\"pending\"}}");
    assertEquals(null, Task.fromJson(longTitle.path("task")).title());
    JsonNode longReason = EventWatcher.readLight("{\"type\":\"task.failed\",\"task\":{\"id\":8,\"reason\":\""
        + "r".repeat(Task.LIGHT_REASON + 1) + "\",\"status\":\"failed\"}}");
    assertFalse(longReason.path("task").has("reason"), "a long reason is skipped");
    assertTrue(msg.path("data").path("task").has(EventWatcher.CUT), "the cut is marked: the task is light");
  }

  @Test
  void anEventWithAShortDescriptionCarriesTheTaskWholeButNeverItsOutputs() throws Exception {
    String d = "d".repeat(EventWatcher.WHOLE_DESCRIPTION_CHARS);
    JsonNode msg = EventWatcher.readLight("{\"type\":\"task.created\",\"task\":{\"id\":9,\"title\":\"t\","
        + "\"description\":\"" + d + "\",\"status\":\"pending\",\"outputs\":[{\"response\":\"r\"}],\"reason\":\"why\"}}");
    JsonNode task = msg.path("task");
    assertFalse(task.has(EventWatcher.CUT));
    Task t = Task.fromJson(task);
    assertEquals(d, t.description());
    assertEquals("why", t.reason());
    assertEquals(0, t.outputs().size());
    JsonNode longer = EventWatcher.readLight("{\"type\":\"task.created\",\"task\":{\"id\":9,\"title\":\"t\","
        + "\"description\":\"" + d + "d\",\"status\":\"pending\"}}");
    assertTrue(longer.path("task").has(EventWatcher.CUT));
    assertFalse(longer.path("task").has("description"));
  }

  @Test
  void anUnresponsiveConnectionIsReplaced() throws Exception {
    AtomicInteger opened = new AtomicInteger();
    // Accepts WebSocket connections and then says nothing at all, pings included.
    WebSocketServer silent = new WebSocketServer(new InetSocketAddress("127.0.0.1", 0)) {
      @Override
      public void onOpen(WebSocket conn, ClientHandshake handshake) {
        opened.incrementAndGet();
      }

      @Override
      public void onClose(WebSocket conn, int code, String reason, boolean remote) {}

      @Override
      public void onMessage(WebSocket conn, String message) {}

      @Override
      public void onError(WebSocket conn, Exception ex) {}

      @Override
      public void onStart() {}
    };
    silent.setConnectionLostTimeout(0);
    silent.start();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (silent.getPort() == 0 && System.nanoTime() < deadline) Thread.sleep(10);
      watcher = new EventWatcher(settings("http://127.0.0.1:" + silent.getPort()), "c",
          List.of("task.created"), listener(), Clock.SYSTEM, sched, FAST);
      watcher.start();
      deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (opened.get() < 3 && System.nanoTime() < deadline) Thread.sleep(20);
      assertTrue(opened.get() >= 3, "connections opened: " + opened.get());
      assertEquals(0, subscribes.get());
    } finally {
      silent.stop(1000);
    }
  }

  @Test
  void backoffDoublesWithJitterUpToTheCap() {
    Backoff b = new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(60));
    long[] ceilings = {2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (long ceiling : ceilings) {
      long d = b.next().toMillis();
      assertTrue(d >= ceiling / 2 && d <= ceiling, d + " outside [" + ceiling / 2 + ", " + ceiling + "]");
    }
    b.reset();
    assertTrue(b.next().toMillis() <= 2000);
  }
}
