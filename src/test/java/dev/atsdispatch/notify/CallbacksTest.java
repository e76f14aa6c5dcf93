package dev.atsdispatch.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.dispatch.Outbox;
import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.testing.FakeClock;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Callback webhooks against a MockWebServer on 127.0.0.1 (reached only through an allowlist
 * entry). Names resolve through a fake resolver, and every socket connect goes through a
 * recording observer that refuses anything outside loopback, so no test ever sends a packet to
 * another address: refusals are proven by what was (not) resolved and connected.
 */
final class CallbacksTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Instant DONE = Instant.parse("2026-03-04T05:06:07.089Z");

  @TempDir Path dir;
  MockWebServer server;
  Outbox outbox;
  final FakeClock clock = new FakeClock();
  final List<String> asked = new CopyOnWriteArrayList<>();
  final Map<String, List<InetAddress>> dns = new ConcurrentHashMap<>();
  final List<InetSocketAddress> connects = new CopyOnWriteArrayList<>();
  final BlockingQueue<String> events = new LinkedBlockingQueue<>();
  final List<Callbacks> opened = new ArrayList<>();

  final HostResolver resolver = host -> {
    asked.add(host);
    List<InetAddress> a = dns.get(host);
    if (a == null) throw new UnknownHostException(host + " (not in the test resolver)");
    return a;
  };

  final SsrfGuard.ConnectObserver observer = to -> {
    connects.add(to);
    if (!to.getAddress().isLoopbackAddress()) throw new ConnectException("test: no connection outside loopback: " + to);
  };

  final Callbacks.Listener listener = new Callbacks.Listener() {
    @Override
    public void refused(TaskKey key, String message) {
      events.add("refused " + key + ": " + message);
    }

    @Override
    public void delivered(TaskKey key, int attempt) {
      events.add("delivered " + key + " attempt " + attempt);
    }
  };

  @BeforeEach
  void start() throws Exception {
    server = new MockWebServer();
    server.start(InetAddress.getByName("127.0.0.1"), 0);
    outbox = new StateDir(dir.resolve("state")).outbox("callbacks");
  }

  @AfterEach
  void stop() throws Exception {
    opened.forEach(Callbacks::close);
    server.shutdown();
  }

  NotifyConfig.Builder cfg() {
    return NotifyConfig.builder()
        .callbackAllow(List.of("127.0.0.1/32"))
        .callbackRetries(3, Duration.ofMillis(20))
        .timeouts(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4));
  }

  Callbacks callbacks(NotifyConfig c) {
    Callbacks cb = Callbacks.builder(c, outbox).listener(listener).resolver(resolver).clock(clock)
        .connectObserver(observer).build();
    opened.add(cb);
    return cb;
  }

  String hook() {
    return "http://127.0.0.1:" + server.getPort() + "/hook?token=abc";
  }

  String event() throws InterruptedException {
    String e = events.poll(10, TimeUnit.SECONDS);
    assertNotNull(e, "no callback outcome within 10 s");
    return e;
  }

  RecordedRequest request() throws InterruptedException {
    RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
    assertNotNull(r, "the receiver got no request");
    return r;
  }

  /** Answers in this order and notes when each request arrived (System.nanoTime). */
  List<Long> arrivals(MockResponse... answers) {
    List<Long> at = new CopyOnWriteArrayList<>();
    server.setDispatcher(new okhttp3.mockwebserver.Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        at.add(System.nanoTime());
        return answers[Math.min(at.size() - 1, answers.length - 1)];
      }
    });
    return at;
  }

  static TaskKey ats(long id) {
    return TaskKey.of("ats", id);
  }

  static InetAddress addr(String host, String literal) throws Exception {
    return InetAddress.getByAddress(host, InetAddress.getByName(literal).getAddress());
  }

  // ---- delivery ------------------------------------------------------------------------------

  @Test
  void postsTheJavaScriptBodyPlusAttemptWithAnIdempotencyKey() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(204));
    Callbacks cb = callbacks(cfg().build());
    cb.enqueue(ats(42), hook(), "completed", "done <&> \"ünï\" 😀", DONE, 1);
    RecordedRequest r = request();
    assertEquals("POST", r.getMethod());
    assertEquals("/hook?token=abc", r.getPath());
    assertEquals("application/json", r.getHeader("Content-Type"));
    assertEquals("42-1-completed", r.getHeader("Idempotency-Key"));
    assertNull(r.getHeader(Callbacks.SIGNATURE_HEADER), "no secret, no signature");
    assertEquals("{\"task_id\":42,\"status\":\"completed\",\"result\":\"done <&> \\\"ünï\\\" 😀\","
        + "\"completed_at\":\"2026-03-04T05:06:07.089Z\",\"attempt\":1}",
        M.writeValueAsString(M.readTree(r.getBody().readUtf8())));
    assertEquals("delivered ats:42 attempt 1", event());
    assertEquals(0, cb.pending());
    assertEquals(List.of(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), server.getPort())), connects);
  }

  @Test
  void withASecretTheSignatureVerifiesOverTimestampAndRawBody() throws Exception {
    server.enqueue(new MockResponse());
    Callbacks cb = callbacks(cfg().callbackSecret("whsec_t3st").build());
    cb.enqueue(ats(7), hook(), "failed", "Agent exited with code 1", DONE, 2);
    RecordedRequest r = request();
    byte[] raw = r.getBody().readByteArray();
    long t = clock.now().getEpochSecond();
    assertEquals(Long.toString(t), r.getHeader(Callbacks.TIMESTAMP_HEADER));
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec("whsec_t3st".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    mac.update((t + ".").getBytes(StandardCharsets.UTF_8));
    String expected = HexFormat.of().formatHex(mac.doFinal(raw));
    assertEquals("t=" + t + ",v1=" + expected, r.getHeader(Callbacks.SIGNATURE_HEADER));
    assertEquals("delivered ats:7 attempt 2", event());
  }

  @Test
  void a500IsRetriedAndTheRetryCarriesTheSameBodyAndKey() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(500));
    server.enqueue(new MockResponse().setResponseCode(200));
    callbacks(cfg().build()).enqueue(ats(42), hook(), "completed", "ok", DONE, 1);
    RecordedRequest first = request();
    RecordedRequest second = request();
    assertEquals(first.getBody().readUtf8(), second.getBody().readUtf8());
    assertEquals(first.getHeader("Idempotency-Key"), second.getHeader("Idempotency-Key"));
    assertEquals("delivered ats:42 attempt 1", event());
    assertEquals(0, outbox.size());
  }

  @Test
  void a429WaitsItsRetryAfter() throws Exception {
    List<Long> arrivals = arrivals(new MockResponse().setResponseCode(429).setHeader("Retry-After", "1"),
        new MockResponse());
    callbacks(cfg().build()).enqueue(ats(42), hook(), "completed", "ok", DONE, 1);
    request();
    request();
    while (arrivals.size() < 2) Thread.onSpinWait(); // MockWebServer queues the request before dispatching it
    long ms = (arrivals.get(1) - arrivals.get(0)) / 1_000_000;
    assertTrue(ms >= 900, "retried after " + ms + " ms despite Retry-After: 1");
    assertEquals("delivered ats:42 attempt 1", event());
  }

  @Test
  void afterMaxTriesTheCallbackIsGivenUpAndNotedForTheTask() throws Exception {
    for (int i = 0; i < 3; i++) server.enqueue(new MockResponse().setResponseCode(503));
    callbacks(cfg().build()).enqueue(ats(42), hook(), "failed", "x", DONE, 1);
    String e = event();
    assertTrue(e.startsWith("refused ats:42: callback to http://127.0.0.1:" + server.getPort()
        + " given up after 3 tries (last: HTTP 503)"), e);
    assertFalse(e.contains("token=abc"), "the URL's query never goes into a message: " + e);
    assertEquals(3, server.getRequestCount());
    assertEquals(0, outbox.size());
  }

  @Test
  void anyOther4xxIsFinal() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(404));
    callbacks(cfg().build()).enqueue(ats(42), hook(), "completed", "x", DONE, 1);
    assertEquals("refused ats:42: callback to http://127.0.0.1:" + server.getPort() + " refused by the receiver: HTTP 404",
        event());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aSlowReceiverNeverDelaysTheCallerAndTheReadTimeoutAborts() throws Exception {
    java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
    server.setDispatcher(new okhttp3.mockwebserver.Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        // the first request is answered after the read timeout, every other one at once
        return seen.getAndIncrement() == 0 ? new MockResponse().setHeadersDelay(2, TimeUnit.SECONDS) : new MockResponse();
      }
    });
    Callbacks cb = callbacks(cfg().timeouts(Duration.ofSeconds(1), Duration.ofMillis(500), Duration.ofSeconds(2)).build());
    long t0 = System.nanoTime();
    for (int i = 1; i <= 20; i++) cb.enqueue(ats(i), hook(), "completed", "r", DONE, 1);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms < 1000, "20 enqueues took " + ms + " ms");
    for (int i = 0; i < 20; i++) {
      String e = event();
      assertTrue(e.startsWith("delivered "), e);
    }
    assertTrue(server.getRequestCount() >= 21, "the slow call was aborted and retried: " + server.getRequestCount());
  }

  @Test
  void theOutboxSurvivesARestart() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(503));
    Callbacks first = callbacks(cfg().callbackRetries(5, Duration.ofHours(1)).build());
    first.enqueue(ats(42), hook(), "completed", "kept", DONE, 3);
    RecordedRequest before = request();
    awaitTries(1);
    first.close();
    assertEquals(1, outbox.size(), "the entry waits in the outbox");

    server.enqueue(new MockResponse());
    callbacks(cfg().build()); // a new service on the same state directory
    RecordedRequest after = request();
    assertEquals(before.getBody().readUtf8(), after.getBody().readUtf8());
    assertEquals("42-3-completed", after.getHeader("Idempotency-Key"));
    assertEquals("delivered ats:42 attempt 3", event());
    assertEquals(0, outbox.size());
  }

  /** Enqueues a callback that gets a 503, and stops it while it waits in the outbox for its second try. */
  Outbox.Entry heldAfterOneTry(TaskKey task, String status, int attempt) throws Exception {
    server.enqueue(new MockResponse().setResponseCode(503));
    Callbacks cb = callbacks(cfg().callbackRetries(5, Duration.ofHours(1)).build());
    cb.enqueue(task, hook(), status, "no", DONE, attempt);
    awaitTries(1);
    cb.close();
    List<Outbox.Entry> p = outbox.pending();
    assertEquals(1, p.size(), p.toString());
    return p.get(0);
  }

  @Test
  void anAtsTaskIsFiledUnderItsKeyAndKeepsTheWireOfBeforeTaskKeys() throws Exception {
    Outbox.Entry e = heldAfterOneTry(ats(42), "completed", 1);
    assertEquals("callback-ats-42-1-completed.json", e.file().getFileName().toString());
    assertEquals("ats:42", e.body().path("task").asText());
    RecordedRequest r = request();
    assertEquals("42-1-completed", r.getHeader("Idempotency-Key"));
    JsonNode body = M.readTree(r.getBody().readUtf8());
    assertTrue(body.path("task_id").isIntegralNumber(), body.toString());
    assertEquals(42, body.path("task_id").asLong());
    server.enqueue(new MockResponse());
    callbacks(cfg().build());
    assertEquals("42-1-completed", request().getHeader("Idempotency-Key"));
    assertEquals("delivered ats:42 attempt 1", event());
  }

  @Test
  void aTaskOfAnotherSourceIsNamedByItsIdTextAndItsKey() throws Exception {
    TaskKey card = new TaskKey("board", "card 7/x");
    Outbox.Entry e = heldAfterOneTry(card, "failed", 2);
    RecordedRequest r = request();
    assertEquals("callback-board-" + card.fileName() + "-2-failed.json", e.file().getFileName().toString());
    assertTrue(card.fileName().startsWith("h-"), "an id that is not a file name is hashed");
    assertEquals("board:card 7/x", e.body().path("task").asText());
    assertEquals("board:card 7/x-2-failed", r.getHeader("Idempotency-Key"));
    assertEquals("{\"task_id\":\"card 7/x\",\"status\":\"failed\",\"result\":\"no\","
        + "\"completed_at\":\"2026-03-04T05:06:07.089Z\",\"attempt\":2}", r.getBody().readUtf8());
    server.enqueue(new MockResponse());
    callbacks(cfg().build());
    assertEquals("board:card 7/x-2-failed", request().getHeader("Idempotency-Key"));
    assertEquals("delivered board:card 7/x attempt 2", event());
    assertEquals(0, outbox.size());
  }

  @Test
  void anEntryOfTheReleaseBeforeTaskKeysIsDeliveredAsAnAtsTask() throws Exception {
    // exactly what the release before task keys wrote for task 42, attempt 3, after one try
    String body = "{\"task_id\":42,\"status\":\"completed\",\"result\":\"kept\","
        + "\"completed_at\":\"2026-03-04T05:06:07.089Z\",\"attempt\":3}";
    Path dirOf = dir.resolve("state/outbox/callbacks");
    Files.createDirectories(dirOf);
    Files.writeString(dirOf.resolve("callback-42-3-completed.json"), M.writeValueAsString(M.createObjectNode()
        .put("task_id", 42).put("attempt", 3).put("url", hook()).put("body", body)
        .put("idempotency_key", "42-3-completed").put("tries", 1).put("queued_at", "2026-03-04T05:06:08.000Z")));
    // and something that names no task at all: left alone
    Files.writeString(dirOf.resolve("callback-x.json"), "{\"url\":\"" + hook() + "\",\"body\":\"{}\"}");
    server.enqueue(new MockResponse());
    callbacks(cfg().build());
    RecordedRequest r = request();
    assertEquals(body, r.getBody().readUtf8());
    assertEquals("42-3-completed", r.getHeader("Idempotency-Key"));
    assertEquals("delivered ats:42 attempt 3", event());
    assertEquals(List.of("callback-x"), outbox.pending().stream().map(Outbox.Entry::key).toList());
    assertNull(server.takeRequest(300, TimeUnit.MILLISECONDS), "only the entry that names its task is sent");
  }

  @Test
  void triesAreCountedAcrossARestart() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(500));
    Callbacks first = callbacks(cfg().callbackRetries(2, Duration.ofHours(1)).build());
    first.enqueue(ats(42), hook(), "completed", "x", DONE, 1);
    request();
    awaitTries(1);
    first.close();
    server.enqueue(new MockResponse().setResponseCode(500));
    callbacks(cfg().callbackRetries(2, Duration.ofMillis(10)).build());
    assertTrue(event().contains("given up after 2 tries"));
    assertEquals(2, server.getRequestCount());
  }

  @Test
  void theRetryScheduleSpansAboutTenMinutesInFiveTries() {
    Duration base = Duration.ofSeconds(40);
    Duration longest = Duration.ZERO;
    Duration shortest = Duration.ZERO;
    for (int tries = 1; tries < 5; tries++) {
      longest = longest.plus(Callbacks.delayAfter(base, tries, 0));
      shortest = shortest.plus(Callbacks.delayAfter(base, tries, 1));
    }
    assertEquals(Duration.ofMinutes(10), longest);
    assertEquals(Duration.ofMinutes(8), shortest);
    assertEquals(Duration.ofHours(1), Callbacks.delayAfter(base, 30, 0), "capped");
  }

  // ---- refusals --------------------------------------------------------------------------------

  void assertRefusedUnsent(long id, String url, String... expectedParts) throws Exception {
    Callbacks cb = callbacks(cfg().callbackAllow(List.of()).build());
    cb.enqueue(ats(id), url, "completed", "secret result", DONE, 1);
    String e = event();
    assertTrue(e.startsWith("refused ats:" + id + ": "), e);
    for (String p : expectedParts) assertTrue(e.contains(p), "'" + p + "' not in: " + e);
    assertEquals(List.of(), connects, "nothing may be connected to");
    assertEquals(0, server.getRequestCount());
    assertEquals(0, outbox.size());
  }

  @Test
  void loopbackIsRefusedWithoutTheAllowlistEvenThoughAReceiverListens() throws Exception {
    assertRefusedUnsent(1, hook(), "127.0.0.1 is a loopback address");
    assertRefusedUnsent(2, "http://[::1]:" + server.getPort() + "/", "loopback");
    assertRefusedUnsent(3, "http://2130706433:" + server.getPort() + "/", "resolves to loopback address 127.0.0.1");
    dns.put("localhost.test", List.of(addr("localhost.test", "127.0.0.1")));
    assertRefusedUnsent(4, "http://localhost.test:" + server.getPort() + "/", "localhost.test resolves to loopback");
  }

  @Test
  void namesResolvingToInternalAddressesAreRefused() throws Exception {
    Map<String, String> cases = Map.of(
        "private.test", "10.0.0.1",
        "home.test", "192.168.1.1",
        "corp.test", "172.16.5.4",
        "link.test", "169.254.10.10",
        "aws-metadata.test", "169.254.169.254",
        "alibaba-metadata.test", "100.100.100.200",
        "v6-metadata.test", "fd00:ec2::254",
        "ula.test", "fd12:3456::1",
        "ll6.test", "fe80::1");
    long id = 10;
    for (var c : cases.entrySet()) {
      dns.put(c.getKey(), List.of(addr(c.getKey(), c.getValue())));
      assertRefusedUnsent(id++, "https://" + c.getKey() + "/hook", c.getKey() + " resolves to");
      assertTrue(asked.contains(c.getKey()));
    }
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    mapped[12] = 10;
    mapped[15] = 1;
    dns.put("mapped.test", List.of(Inet6Address.getByAddress("mapped.test", mapped, -1)));
    assertRefusedUnsent(id++, "http://mapped.test/", "private (IPv4 inside IPv6)");
    // one internal address among public ones refuses the name: no picking the public one for the check
    dns.put("mixed.test", List.of(addr("mixed.test", "203.0.113.7"), addr("mixed.test", "10.0.0.1")));
    assertRefusedUnsent(id, "http://mixed.test/", "resolves to private address 10.0.0.1");
  }

  @Test
  void internalAddressLiteralsAreRefusedWithoutAnyLookup() throws Exception {
    assertRefusedUnsent(1, "http://10.0.0.1/hook", "10.0.0.1 is a private address");
    assertRefusedUnsent(2, "http://169.254.169.254/latest/meta-data/", "cloud metadata");
    assertRefusedUnsent(3, "http://[::ffff:169.254.169.254]/", "cloud metadata");
    assertRefusedUnsent(4, "http://[fd00:ec2::254]/", "cloud metadata");
    assertEquals(List.of(), asked);
  }

  @Test
  void onlyHttpAndHttpsAreAllowed() throws Exception {
    assertRefusedUnsent(1, "file:///etc/passwd", "a file: URL", "only http and https");
    assertRefusedUnsent(2, "gopher://127.0.0.1:" + server.getPort() + "/_SET%20x", "a gopher: URL");
    assertRefusedUnsent(3, "ftp://example.test/x", "a ftp: URL");
    assertRefusedUnsent(4, "not a url", "an unparsable URL");
    assertRefusedUnsent(5, null, "only http and https");
    assertEquals(List.of(), asked);
  }

  @Test
  void aRedirectIsNotFollowed() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(302).setHeader("Location", "http://internal.test/admin"));
    dns.put("internal.test", List.of(addr("internal.test", "10.0.0.1")));
    callbacks(cfg().build()).enqueue(ats(42), hook(), "completed", "x", DONE, 1);
    String e = event();
    assertTrue(e.contains("redirected (HTTP 302); redirects are not followed"), e);
    assertEquals(1, server.getRequestCount());
    assertEquals(List.of(), asked, "the redirect target was never even resolved");
    assertTrue(connects.stream().allMatch(a -> a.getAddress().isLoopbackAddress()), connects.toString());
    assertEquals(0, outbox.size());
  }

  @Test
  void aPublicAddressPassesAndIsExactlyTheOneConnectedTo() throws Exception {
    dns.put("hooks.example", List.of(addr("hooks.example", "203.0.113.7")));
    callbacks(cfg().callbackRetries(1, Duration.ofMillis(10)).build())
        .enqueue(ats(42), "http://hooks.example:8080/x", "completed", "x", DONE, 1);
    assertTrue(event().contains("given up after 1 tries"));
    // the test observer refused the connect: nothing left the machine
    assertEquals(List.of(new InetSocketAddress(InetAddress.getByName("203.0.113.7"), 8080)), connects);
  }

  @Test
  void theAllowlistLetsNamedHostsAndRangesThrough() throws Exception {
    dns.put("hooks.internal", List.of(addr("hooks.internal", "10.1.2.3")));
    dns.put("other.internal", List.of(addr("other.internal", "10.9.9.9")));
    NotifyConfig c = cfg().callbackAllow(List.of("hooks.internal", "10.9.0.0/16")).callbackRetries(1, Duration.ofMillis(10))
        .build();
    Callbacks cb = callbacks(c);
    cb.enqueue(ats(1), "http://hooks.internal/x", "completed", "x", DONE, 1);
    assertTrue(event().contains("given up"));
    cb.enqueue(ats(2), "http://other.internal/x", "completed", "x", DONE, 1);
    assertTrue(event().contains("given up"));
    assertEquals(List.of(new InetSocketAddress(InetAddress.getByName("10.1.2.3"), 80),
        new InetSocketAddress(InetAddress.getByName("10.9.9.9"), 80)), connects);
    cb.enqueue(ats(3), "http://10.1.2.3/x", "completed", "x", DONE, 1);
    assertTrue(event().contains("10.1.2.3 is a private address"), "the name is allowed, not its address");
    assertEquals(2, connects.size());
  }

  private void awaitTries(int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (System.nanoTime() < deadline) {
      List<Outbox.Entry> p = outbox.pending();
      if (!p.isEmpty() && p.get(0).body().path("tries").asInt() >= n) return;
      Thread.sleep(10);
    }
    throw new AssertionError("the outbox entry never recorded " + n + " tries: "
        + (Files.isDirectory(dir) ? outbox.pending() : "no outbox"));
  }
}
