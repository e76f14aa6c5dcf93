package dev.atsdispatch.devserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.WsClient;
import dev.atsdispatch.testing.WsClient.Frame;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@code /ws} event stream (ats-protocol.md §4, §7.1 #12, §9 Q10/Q11) over real sockets:
 * handshake, control messages, server-side filtering, ordering, commit-before-send, idle
 * tolerance and bad input. Tests share one server and use their own channels; the idle test has
 * a server of its own.
 */
@Timeout(30)
class WebSocketTest {
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final Pattern WIRE_TIME =
      Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
  /** Every task field of §2.3 that a server SHOULD always send. */
  private static final List<String> TASK_FIELDS = List.of("id", "title", "description", "status",
      "priority", "type", "channel", "payload", "outputs", "source_type", "source_id",
      "source_name", "assignee_type", "assignee_id", "assignee_name", "lease_expires",
      "created_at", "updated_at", "project_id", "completed_at", "reason");
  private static final AtomicInteger SEQ = new AtomicInteger();

  private static DevServer server;
  private static Http http;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeAll
  static void start() {
    server = DevServer.builder().port(0).inMemory().start();
    http = new Http(server.url());
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @AfterEach
  void closeClients() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  private WsClient ws() {
    return track(WsClient.connect(server.url()));
  }

  private <T extends AutoCloseable> T track(T c) {
    open.add(c);
    return c;
  }

  private static String channel(String name) {
    return name + "-" + SEQ.incrementAndGet();
  }

  private static long create(Http h, String title, String channel, String type) {
    Http.Resp r = h.post("/tasks", "{\"title\":" + Http.json(title) + ",\"channel\":"
        + Http.json(channel) + ",\"type\":" + Http.json(type) + "}");
    assertEquals(201, r.status(), r.text());
    return r.task().path("id").asLong();
  }

  private static void ok(Http.Resp r) {
    assertTrue(r.status() / 100 == 2, r.text());
  }

  private static void message(Http h, long id, String text) {
    ok(h.post("/tasks/" + id + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":" + Http.json(text) + "}]}"));
  }

  /** "task.created#12"-style labels, for readable comparisons of event sequences. */
  private static List<String> labels(List<Frame> events) {
    return events.stream().map(f -> f.type() + "#" + f.taskId()).toList();
  }

  // ---- handshake and control messages ----------------------------------------------------------

  @Test
  void connectedIsSentOnOpenWithTheActorFromTheQueryString() {
    WsClient a = track(WsClient.connectTo(server.url(),
        "/ws?actor_type=agent&actor_id=ada-dispatch&actor_name=Ada+Dispatch", true));
    Frame hello = a.poll(WAIT);
    assertEquals("connected", hello.type(), "the first frame is connected: " + hello);
    JsonNode actor = hello.json().path("actor");
    assertEquals("agent", actor.path("type").asText());
    assertEquals("ada-dispatch", actor.path("id").asText());
    assertEquals("Ada Dispatch", actor.path("name").asText(), "+ decodes to a space");
    assertFalse(hello.json().path("client_id").asText("").isEmpty(), hello.raw());

    WsClient b = track(WsClient.connectTo(server.url(),
        "/ws?actor_type=human&actor_id=z%26o&actor_name=Zo%C3%AB+%2B+Co", true));
    Frame hello2 = b.poll(WAIT);
    assertEquals("connected", hello2.type());
    assertEquals("human", hello2.json().path("actor").path("type").asText());
    assertEquals("z&o", hello2.json().path("actor").path("id").asText());
    assertEquals("Zoë + Co", hello2.json().path("actor").path("name").asText());
    assertNotEquals(hello.json().path("client_id"), hello2.json().path("client_id"));
  }

  @Test
  void noTaskEventsAreSentBeforeTheFirstSubscribe() {
    String ch = channel("quiet");
    WsClient quiet = ws();
    WsClient control = ws();
    control.subscribe(null, null, null);

    long before = create(http, "before subscribe", ch, "task");
    assertEquals(before, control.nextEvent(WAIT).taskId());
    // The hub handed the event to every connection at once; the control client has it, so the
    // quiet one would have it by now (plus some slack for the network).
    quiet.expectNoEvent(Duration.ofMillis(300));

    quiet.subscribe(List.of(ch), null, null);
    long after = create(http, "after subscribe", ch, "task");
    Frame ev = quiet.nextEvent(WAIT);
    assertEquals(after, ev.taskId(), "nothing from before the subscribe is replayed");
  }

  @Test
  void subscribedEchoesTheRequestIdAndFilters() {
    WsClient c = ws();
    c.send("{\"type\":\"subscribe\",\"id\":\"watch-7\",\"channels\":[\"x\"],"
        + "\"event_types\":[\"task.created\"]}");
    Frame r = c.await(f -> f.type().equals("subscribed"), WAIT);
    assertEquals("watch-7", r.json().path("id").asText());
    assertEquals(List.of("x"), Http.JSON.convertValue(r.json().path("channels"), List.class));
    assertEquals(List.of("task.created"),
        Http.JSON.convertValue(r.json().path("event_types"), List.class));

    c.send("{\"type\":\"subscribe\",\"id\":\"cli-sub-2\"}");
    assertEquals("cli-sub-2",
        c.await(f -> f.type().equals("subscribed"), WAIT).json().path("id").asText());
  }

  @Test
  void pingIsAnsweredWithPongBeforeAndAfterSubscribing() {
    WsClient c = ws();
    assertEquals("connected", c.poll(WAIT).type());
    ObjectNode pong = Http.JSON.createObjectNode().put("type", "pong");
    for (int i = 0; i < 3; i++) {
      c.send("{\"type\":\"ping\"}");
      assertEquals(pong, c.poll(WAIT).json());
    }
    c.subscribe(List.of(channel("pings")), null, null);
    c.send("{\"type\":\"ping\"}");
    assertEquals(pong, c.poll(WAIT).json());
  }

  // ---- filtering -----------------------------------------------------------------------------

  private record Sub(String name, List<String> channels, List<String> types, List<String> events) {
    boolean matches(String event, String channel, String type) {
      return (channels == null || channels.contains(channel))
          && (types == null || types.contains(type))
          && (events == null || events.contains(event));
    }
  }

  @Test
  void eventsAreFilteredByChannelTaskTypeAndEventTypeInAnyCombination() {
    String c1 = channel("f1");
    String c2 = channel("f2");
    String c3 = channel("f3");
    List<Sub> subs = List.of(
        new Sub("everything", null, null, null),
        new Sub("one channel", List.of(c1), null, null),
        new Sub("one task type", null, List.of("bug"), null),
        new Sub("one event type", null, null, List.of("task.claimed")),
        new Sub("two channels x type", List.of(c1, c2), List.of("bug"), null),
        new Sub("channel x type x events", List.of(c2), List.of("task"),
            List.of("task.created", "task.message")),
        new Sub("two event types", null, null, List.of("task.created", "task.completed")),
        new Sub("no such channel", List.of(channel("nowhere")), null, null));
    Map<Sub, WsClient> clients = new LinkedHashMap<>();
    for (Sub s : subs) {
      WsClient c = ws();
      c.subscribe(s.channels, s.types, s.events);
      clients.put(s, c);
    }

    // event name, channel, task type, task id; in commit order (one producer thread)
    record Ev(String event, String channel, String type, long id) {}
    List<Ev> produced = new ArrayList<>();
    for (String ch : List.of(c1, c2, c3)) {
      for (String type : List.of("task", "bug")) {
        long id = create(http, type + " in " + ch, ch, type);
        produced.add(new Ev("task.created", ch, type, id));
        ok(http.post("/tasks/" + id + "/claim", "{}"));
        produced.add(new Ev("task.claimed", ch, type, id));
        message(http, id, "hello");
        produced.add(new Ev("task.message", ch, type, id));
        ok(http.post("/tasks/" + id + "/complete", "{}"));
        produced.add(new Ev("task.completed", ch, type, id));
      }
    }

    for (Map.Entry<Sub, WsClient> e : clients.entrySet()) {
      Sub s = e.getKey();
      List<String> expected = produced.stream().filter(p -> s.matches(p.event, p.channel, p.type))
          .map(p -> p.event + "#" + p.id).toList();
      assertEquals(expected, labels(e.getValue().nextEvents(expected.size(), WAIT)), s.name);
    }
    assertEquals(24, produced.size());
    // Nothing beyond the expected events: one shared wait, then check every queue.
    boolean first = true;
    for (Map.Entry<Sub, WsClient> e : clients.entrySet()) {
      e.getValue().expectNoEvent(Duration.ofMillis(first ? 300 : 1));
      first = false;
    }
  }

  @Test
  void anEventCommittedAfterTheSubscribedReplyIsAlwaysDelivered() {
    WsClient c = ws();
    for (int i = 0; i < 200; i++) {
      String ch = channel("sub-then-create");
      c.subscribe(List.of(ch), null, null);
      long id = create(http, "right after subscribed", ch, "task");
      assertEquals(id, c.nextEvent(WAIT).taskId(), "round " + i);
    }
  }

  @Test
  void aNewSubscribeReplacesTheOldOne() {
    String a = channel("old");
    String b = channel("new");
    WsClient c = ws();
    c.subscribe(List.of(a), null, null);
    long a1 = create(http, "a1", a, "task");
    assertEquals(a1, c.nextEvent(WAIT).taskId());

    c.subscribe(List.of(b), null, List.of("task.created"));
    create(http, "a2", a, "task");
    long b1 = create(http, "b1", b, "task");
    ok(http.post("/tasks/" + b1 + "/claim", "{}"));
    long b2 = create(http, "b2", b, "task");
    assertEquals(List.of("task.created#" + b1, "task.created#" + b2), labels(c.nextEvents(2, WAIT)));
    c.expectNoEvent(Duration.ofMillis(300));
  }

  @Test
  void unsubscribeStopsEventsUntilTheNextSubscribe() {
    String ch = channel("unsub");
    WsClient c = ws();
    WsClient control = ws();
    control.subscribe(List.of(ch), null, null);
    c.subscribe(List.of(ch), null, null);
    long first = create(http, "first", ch, "task");
    assertEquals(first, c.nextEvent(WAIT).taskId());
    assertEquals(first, control.nextEvent(WAIT).taskId());

    c.send("{\"type\":\"unsubscribe\"}");
    // Messages on one connection are handled in order: once the pong is back, so is unsubscribe.
    c.send("{\"type\":\"ping\"}");
    c.await(f -> f.type().equals("pong"), WAIT);
    long second = create(http, "second", ch, "task");
    assertEquals(second, control.nextEvent(WAIT).taskId());
    c.expectNoEvent(Duration.ofMillis(300));

    c.subscribe(List.of(ch), null, null);
    long third = create(http, "third", ch, "task");
    assertEquals(third, c.nextEvent(WAIT).taskId());
  }

  // ---- frames and the event envelope ---------------------------------------------------------

  @Test
  void everyFrameIsAJsonTextFrameAndEveryEventHasTheFullEnvelope() {
    String ch = channel("envelope");
    WsClient c = track(WsClient.connect(server.url(), "agent", "watcher", "Watcher"));
    List<Frame> all = new ArrayList<>();
    all.add(c.poll(WAIT));
    c.send("{\"type\":\"ping\"}");
    all.add(c.poll(WAIT));
    c.send("nonsense");
    all.add(c.poll(WAIT));
    c.send("{\"type\":\"subscribe\",\"id\":\"s\",\"channels\":[\"" + ch + "\"]}");
    all.add(c.poll(WAIT));
    for (Frame f : all) assertTrue(f != null && f.json().isObject(), "control frames: " + all);
    Http w = http.as("agent", "worker-1", "Worker One");

    Instant start = Instant.now().minusSeconds(1);
    long id = create(w, "envelope", ch, "task");
    ok(w.post("/tasks/" + id + "/claim", "{\"lease_duration\":60000}"));
    ok(w.patch("/tasks/" + id, "{\"priority\":9}"));
    message(w, id, "working");
    ok(w.post("/tasks/" + id + "/complete", "{\"outputs\":[{\"response\":\"ok\"}]}"));
    ok(w.post("/tasks/" + id + "/reopen", "{\"reason\":\"again\"}"));
    ok(w.post("/tasks/" + id + "/fail", "{\"reason\":\"no\"}"));
    ok(w.post("/tasks/" + id + "/reopen", "{}"));
    ok(w.post("/tasks/" + id + "/reject", "{\"reason\":\"not mine\"}"));
    ok(w.post("/tasks/" + id + "/reopen", "{}"));
    ok(w.call("POST", "/tasks/" + id + "/cancel", null));
    ok(w.post("/tasks/" + id + "/reopen", "{}"));
    ok(w.post("/tasks/" + id + "/claim", "{\"lease_duration\":1000}"));
    List<String> expected = List.of("task.created", "task.claimed", "task.updated",
        "task.message", "task.completed", "task.reopened", "task.failed", "task.reopened",
        "task.rejected", "task.reopened", "task.cancelled", "task.reopened", "task.claimed",
        "task.lease_expired");

    // Every frame, control or event, is a JSON object with a string type (WsClient fails the
    // test on a binary or non-JSON frame).
    List<Frame> events = new ArrayList<>();
    while (events.size() < expected.size()) {
      Frame f = c.poll(WAIT);
      assertTrue(f != null, "events so far: " + labels(events));
      assertTrue(f.json().isObject() && f.json().path("type").isTextual(), f.raw());
      all.add(f);
      if (f.type().startsWith("task.")) events.add(f);
    }
    assertEquals(List.of("connected", "pong", "error", "subscribed"),
        all.subList(0, 4).stream().map(Frame::type).toList());
    assertEquals(expected.size() + 4, all.size(), "nothing but events after subscribed");
    assertEquals(expected, events.stream().map(Frame::type).toList());

    for (Frame f : events) {
      JsonNode j = f.json();
      JsonNode task = j.path("data").path("task");
      assertTrue(task.path("id").isIntegralNumber(), "numeric data.task.id: " + f.raw());
      assertEquals(id, task.path("id").asLong());
      for (String field : TASK_FIELDS) assertTrue(task.has(field), field + " in " + f.raw());
      assertEquals(ch, task.path("channel").asText());
      for (String field : List.of("actor_type", "actor_id", "actor_name")) {
        assertTrue(j.path(field).isTextual(), "top-level " + field + ": " + f.raw());
      }
      String ts = j.path("timestamp").asText("");
      assertTrue(WIRE_TIME.matcher(ts).matches(), "timestamp " + ts);
      Instant at = WireTime.parse(ts);
      assertTrue(!at.isBefore(start) && !at.isAfter(Instant.now().plusSeconds(1)), ts);
      if (!f.type().equals("task.lease_expired")) {
        // The actor is whoever made the change over HTTP, not the watching connection.
        assertEquals("agent", j.path("actor_type").asText());
        assertEquals("worker-1", j.path("actor_id").asText());
        assertEquals("Worker One", j.path("actor_name").asText());
      }
    }
    // Each event carries the task as that change left it.
    assertEquals("pending", events.get(0).json().path("data").path("task").path("status").asText());
    assertEquals("Worker One",
        events.get(1).json().path("data").path("task").path("assignee_name").asText());
    assertEquals(9, events.get(2).json().path("data").path("task").path("priority").asInt());
    assertEquals("working", events.get(3).json().path("data").path("message").path("parts")
        .path(0).path("content").asText(), "task.message carries data.message");
    assertEquals("[{\"response\":\"ok\"}]",
        events.get(4).json().path("data").path("task").path("outputs").toString());
    assertEquals("pending", events.get(13).json().path("data").path("task").path("status").asText());
    JsonNode last = events.get(13).json().path("data").path("task");
    ObjectNode now = (ObjectNode) http.get("/tasks/" + id).task();
    now.remove("messages");
    assertEquals(now, last, "the last event's task is the stored task");
  }

  // ---- ordering and commit-before-send -------------------------------------------------------

  private static final int MESSAGES = 50;

  /** create, claim, 50 messages, complete on one new task; returns its id. */
  private static long lifecycle(Http h, String ch) {
    long id = create(h, "lifecycle", ch, "task");
    ok(h.post("/tasks/" + id + "/claim", "{}"));
    for (int i = 0; i < MESSAGES; i++) message(h, id, "m" + i);
    ok(h.post("/tasks/" + id + "/complete", "{}"));
    return id;
  }

  private static void assertLifecycle(long id, List<Frame> events) {
    List<String> expected = new ArrayList<>();
    expected.add("task.created");
    expected.add("task.claimed");
    for (int i = 0; i < MESSAGES; i++) expected.add("task.message:m" + i);
    expected.add("task.completed");
    List<String> got = new ArrayList<>();
    for (Frame f : events) {
      assertEquals(id, f.taskId());
      got.add(f.type().equals("task.message")
          ? f.type() + ":" + f.json().path("data").path("message").path("parts").path(0)
              .path("content").asText()
          : f.type());
    }
    assertEquals(expected, got, "events of task " + id);
  }

  @Test
  void eventsOfOneTaskArriveInCommitOrder() {
    String ch = channel("order");
    WsClient c = ws();
    c.subscribe(List.of(ch), null, null);
    long id = lifecycle(http, ch);
    assertLifecycle(id, c.nextEvents(MESSAGES + 3, WAIT));
    c.expectNoEvent(Duration.ofMillis(200));
  }

  @Test
  void eachTaskKeepsItsOrderWhenFourTasksAreMutatedConcurrently() throws Exception {
    String ch = channel("concurrent");
    WsClient c = ws();
    c.subscribe(List.of(ch), null, null);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Long> ids = new ArrayList<>();
    try {
      List<Future<Long>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Http h = http.as("agent", "thread-" + t, "Thread " + t);
        futures.add(pool.submit(() -> lifecycle(h, ch)));
      }
      for (Future<Long> f : futures) ids.add(f.get(20, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
    List<Frame> events = c.nextEvents(4 * (MESSAGES + 3), Duration.ofSeconds(10));
    for (long id : ids) {
      assertLifecycle(id, events.stream().filter(f -> f.taskId() == id).toList());
    }
    c.expectNoEvent(Duration.ofMillis(200));
  }

  @Test
  void anEventIsSentOnlyAfterItsChangeIsCommitted() throws Exception {
    String ch = channel("commit");
    WsClient c = ws();
    c.subscribe(List.of(ch), null, List.of("task.created", "task.claimed"));
    int n = 60;
    ExecutorService producer = Executors.newSingleThreadExecutor();
    try {
      Http w = http.as("agent", "producer", "Producer");
      Future<?> done = producer.submit(() -> {
        for (int i = 0; i < n; i++) {
          long id = create(w, "commit " + i, ch, "task");
          ok(w.post("/tasks/" + id + "/claim", "{\"lease_duration\":60000}"));
        }
        return null;
      });
      // As soon as an event is seen, the change it announces must be readable.
      for (int i = 0; i < 2 * n; i++) {
        Frame f = c.nextEvent(WAIT);
        Http.Resp r = http.get("/tasks/" + f.taskId());
        assertEquals(200, r.status(), "GET right after " + f.raw() + ": " + r.text());
        if (f.type().equals("task.claimed")) {
          assertEquals("in_progress", r.task().path("status").asText());
          assertEquals("producer", r.task().path("assignee_id").asText());
        }
      }
      done.get(20, TimeUnit.SECONDS);
    } finally {
      producer.shutdownNow();
    }
  }

  @Test
  void twoSubscribersBothReceiveEveryEventInTheSameOrder() {
    String ch = channel("both");
    WsClient a = ws();
    WsClient b = track(WsClient.connect(server.url(), "human", "someone-else", "Someone Else"));
    a.subscribe(List.of(ch), null, null);
    b.subscribe(List.of(ch), null, null);
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      long id = create(http, "both " + i, ch, "task");
      expected.add("task.created#" + id);
      message(http, id, "x");
      expected.add("task.message#" + id);
    }
    assertEquals(expected, labels(a.nextEvents(expected.size(), WAIT)));
    assertEquals(expected, labels(b.nextEvents(expected.size(), WAIT)));
  }

  // ---- robustness ------------------------------------------------------------------------------

  @Test
  void aMalformedClientMessageGetsAJsonErrorAndTheConnectionStaysUsable() {
    String ch = channel("malformed");
    WsClient c = ws();
    assertEquals("connected", c.poll(WAIT).type());
    List<String> bad = List.of("not json", "{\"type\":", "[1,2,3]", "42", "{}",
        "{\"type\":\"bogus\"}", "{\"type\":\"subscribe\",\"channels\":\"" + ch + "\"}",
        "{\"type\":\"subscribe\",\"event_types\":[1,2]}");
    for (String msg : bad) {
      c.send(msg);
      Frame f = c.poll(WAIT);
      assertTrue(f != null, "no reply to " + msg);
      assertEquals("error", f.type(), "reply to " + msg + ": " + f.raw());
      assertTrue(f.json().path("error").isTextual(), f.raw());
      assertTrue(c.isOpen(), "still open after " + msg);
    }
    c.send("{\"type\":\"ping\"}");
    assertEquals("pong", c.poll(WAIT).type());
    c.subscribe(List.of(ch), null, null);
    long id = create(http, "after errors", ch, "task");
    assertEquals(id, c.nextEvent(WAIT).taskId());
    assertNull(c.closeCode());
  }

  /**
   * §4.3: the CLI pings only every 30 s, so a connection idle for less than about 90 s must stay
   * open. Slow by nature: it waits 95 s with no traffic at all (no application pings, no
   * WebSocket ping frames from the client, no matching events).
   */
  @Test
  @Timeout(130)
  void anIdleConnectionStaysOpenForNinetyFiveSeconds() throws Exception {
    try (DevServer own = DevServer.builder().port(0).inMemory().start();
        WsClient c = WsClient.connectTo(own.url(),
            "/ws?actor_type=agent&actor_id=idle&actor_name=Idle", false)) {
      String ch = channel("idle");
      c.subscribe(List.of(ch), null, null);
      Thread.sleep(95_000);
      assertTrue(c.isOpen(), "closed by the server with code " + c.closeCode());
      assertEquals(1, own.connections());
      c.send("{\"type\":\"ping\"}");
      assertEquals("pong", c.poll(WAIT).type());
      long id = create(new Http(own.url()), "wake up", ch, "task");
      assertEquals(id, c.nextEvent(WAIT).taskId());
    }
  }
}
