package dev.atsdispatch.notify;

import dev.atsdispatch.testing.TestSecrets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The Telegram sender against a MockWebServer standing in for the Bot API. */
final class TelegramTest {
  static final String TOKEN = TestSecrets.botToken();
  static final ObjectMapper M = new ObjectMapper();
  static final MockResponse OK = new MockResponse().setBody("{\"ok\":true,\"result\":{}}");
  static final TaskRef TASK = new TaskRef(42, "Deploy <prod> & \"check\"", false, false);

  MockWebServer server;

  @BeforeEach
  void start() throws Exception {
    server = new MockWebServer();
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdown();
  }

  NotifyConfig.Builder cfg() {
    return NotifyConfig.builder()
        .telegram(TOKEN, "-100200300", "http://127.0.0.1:" + server.getPort())
        .telegramRetries(3, Duration.ofMillis(20))
        .timeouts(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(3));
  }

  RecordedRequest next() throws InterruptedException {
    RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
    assertNotNull(r, "Telegram got no request");
    return r;
  }

  static <T> List<T> iterable(java.util.Iterator<T> it) {
    List<T> out = new java.util.ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  static String text(RecordedRequest r) throws Exception {
    return M.readTree(r.getBody().readUtf8()).path("text").asText();
  }

  @Test
  void sendMessageRequestHasTheBotApiShape() throws Exception {
    server.enqueue(OK);
    try (Notifications n = Notifications.create(cfg().build())) {
      n.pickedUp(TASK);
      RecordedRequest r = next();
      assertEquals("POST", r.getMethod());
      assertEquals("/bot" + TOKEN + "/sendMessage", r.getPath());
      assertEquals("application/json", r.getHeader("Content-Type"));
      JsonNode body = M.readTree(r.getBody().readUtf8());
      assertEquals(List.of("chat_id", "text", "parse_mode"), iterable(body.fieldNames()));
      assertEquals(-100200300L, body.path("chat_id").asLong());
      assertTrue(body.path("chat_id").isNumber());
      assertEquals("🎯 Ada picked up: Deploy &lt;prod&gt; &amp; &quot;check&quot; (ID: 42)", body.path("text").asText());
      assertEquals("HTML", body.path("parse_mode").asText());
    }
  }

  @Test
  void aChannelNameChatIdIsSentAsTextAndABasePathIsKept() throws Exception {
    server.enqueue(OK);
    NotifyConfig c = cfg().telegram(TOKEN, "@ops_channel", "http://127.0.0.1:" + server.getPort() + "/tg/").build();
    try (Telegram t = new Telegram(c)) {
      t.send("hi");
      RecordedRequest r = next();
      assertEquals("/tg/bot" + TOKEN + "/sendMessage", r.getPath());
      JsonNode body = M.readTree(r.getBody().readUtf8());
      assertTrue(body.path("chat_id").isTextual());
      assertEquals("@ops_channel", body.path("chat_id").asText());
    }
  }

  @Test
  void a429WaitsTheRetryAfterTelegramAsksFor() throws Exception {
    List<Long> at = new java.util.concurrent.CopyOnWriteArrayList<>();
    MockResponse tooMany = new MockResponse().setResponseCode(429).setBody(
        "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 1\",\"parameters\":{\"retry_after\":1}}");
    server.setDispatcher(new okhttp3.mockwebserver.Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        at.add(System.nanoTime());
        return at.size() == 1 ? tooMany : OK;
      }
    });
    try (Telegram t = new Telegram(cfg().build())) {
      t.send("one");
      next();
      RecordedRequest again = next();
      while (at.size() < 2) Thread.onSpinWait(); // MockWebServer queues the request before dispatching it
      long waitedMs = (at.get(1) - at.get(0)) / 1_000_000;
      assertEquals("one", text(again));
      assertTrue(waitedMs >= 900, "retried after " + waitedMs + " ms, before retry_after (1 s)");
    }
  }

  @Test
  void a500IsRetriedWithBackoffUntilItSucceeds() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(500).setBody("{\"ok\":false,\"description\":\"oops\"}"));
    server.enqueue(new MockResponse().setResponseCode(502));
    server.enqueue(OK);
    try (Telegram t = new Telegram(cfg().build())) {
      t.send("hello");
      for (int i = 0; i < 3; i++) assertEquals("hello", text(next()));
      t.send("next");
      server.enqueue(OK);
      assertEquals("next", text(next()));
    }
  }

  @Test
  void aMessageIsDroppedAfterMaxTriesAndA4xxIsNotRetried() throws Exception {
    for (int i = 0; i < 3; i++) server.enqueue(new MockResponse().setResponseCode(503));
    server.enqueue(new MockResponse().setResponseCode(400)
        .setBody("{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}"));
    server.enqueue(OK);
    try (Telegram t = new Telegram(cfg().build())) {
      t.send("doomed");
      t.send("refused");
      t.send("fine");
      for (int i = 0; i < 3; i++) assertEquals("doomed", text(next()));
      assertEquals("refused", text(next()));
      assertEquals("fine", text(next()), "a 400 is final: the next message follows at once");
      assertNull(server.takeRequest(200, TimeUnit.MILLISECONDS));
    }
  }

  @Test
  void aSlowTelegramNeverBlocksTheCallerAndTimeoutsAbort() throws Exception {
    // the first answer comes after the read timeout: the call is aborted and retried
    server.enqueue(new MockResponse().setHeadersDelay(3, TimeUnit.SECONDS).setBody("{\"ok\":true}"));
    server.enqueue(OK);
    NotifyConfig c = cfg().timeouts(Duration.ofSeconds(1), Duration.ofMillis(300), Duration.ofSeconds(2)).build();
    try (Notifications n = new Notifications(new Telegram(c))) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 150; i++) n.completed(new TaskRef(i, "t" + i, false, false), "r");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms < 500, "150 notifications took " + ms + " ms");
      RecordedRequest first = next();
      long t1 = System.nanoTime();
      RecordedRequest second = next();
      long retryMs = (System.nanoTime() - t1) / 1_000_000;
      assertEquals(text(first), text(second));
      assertTrue(retryMs < 2000, "the slow call was not aborted by the read timeout: " + retryMs + " ms");
    }
  }

  @Test
  void closeSendsWhatIsQueued() throws Exception {
    for (int i = 0; i < 3; i++) server.enqueue(OK);
    Telegram t = new Telegram(cfg().build());
    t.send("a");
    t.send("b");
    t.send("c");
    t.close();
    assertEquals(3, server.getRequestCount());
    for (String expected : List.of("a", "b", "c")) assertEquals(expected, text(next()));
    t.send("after close");
    assertNull(server.takeRequest(200, TimeUnit.MILLISECONDS));
  }

  @Test
  void withoutTokenOrChatIdTelegramIsOffAndSendsNothing() throws Exception {
    String base = "http://127.0.0.1:" + server.getPort();
    for (NotifyConfig c : List.of(cfg().telegram("", "-1", base).build(), cfg().telegram(TOKEN, "", base).build())) {
      assertFalse(c.telegramEnabled());
      try (Notifications n = Notifications.create(c)) {
        n.pickedUp(TASK);
        n.registrationApproved("a", "b", "c");
      }
    }
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void theTokenNeverAppearsInALogLine() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(Telegram.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Level old = logger.getLevel();
    logger.setLevel(Level.DEBUG);
    logger.addAppender(logs);
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closedPort = s.getLocalPort();
    }
    try {
      server.enqueue(new MockResponse().setResponseCode(500).setBody("{\"description\":\"bad " + TOKEN + "\"}"));
      server.enqueue(new MockResponse().setResponseCode(404));
      try (Telegram t = new Telegram(cfg().telegramRetries(2, Duration.ofMillis(10)).build())) {
        t.send("x");
      }
      try (Telegram dead = new Telegram(cfg().telegram(TOKEN, "1", "http://127.0.0.1:" + closedPort)
          .telegramRetries(2, Duration.ofMillis(10)).build())) {
        dead.send("y");
      }
    } finally {
      logger.detachAppender(logs);
      logger.setLevel(old);
    }
    assertEquals(2, server.getRequestCount());
    assertTrue(logs.list.size() >= 4, "expected retry and drop lines, got " + logs.list);
    for (ILoggingEvent e : logs.list) {
      assertFalse(e.getFormattedMessage().contains("SECRET-token"), e.getFormattedMessage());
    }
  }
}
