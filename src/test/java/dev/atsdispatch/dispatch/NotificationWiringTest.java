package dev.atsdispatch.dispatch;

import dev.atsdispatch.testing.TestSecrets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.notify.NotifyConfig;
import dev.atsdispatch.notify.TaskNotifier;
import dev.atsdispatch.testing.Http;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The service's task events reach Telegram and callback endpoints (MockWebServer on loopback). */
@Timeout(60)
final class NotificationWiringTest {
  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;
  static final String TOKEN = TestSecrets.botToken();
  MockWebServer telegram = new MockWebServer();
  MockWebServer hooks = new MockWebServer();

  @BeforeEach
  void start() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    telegram.start();
    hooks.start();
    for (int i = 0; i < 50; i++) telegram.enqueue(new MockResponse().setBody("{\"ok\":true}"));
  }

  @AfterEach
  void stop() throws Exception {
    if (service != null) service.close();
    server.close();
    telegram.shutdown();
    hooks.shutdown();
  }

  void startService() {
    NotifyConfig ncfg = NotifyConfig.builder()
        .telegram(TOKEN, "42", telegram.url("/").toString().replaceAll("/$", ""))
        .callbackAllow(List.of("127.0.0.1/32")).callbackSecret(TestSecrets.random(32)).build();
    ServiceConfig cfg = DispatchFixture.config(DispatchFixture.agent(dir, "a.sh",
        "cat > /dev/null; case \"$ATS_TASK_TITLE\" in bad*) echo 'it <broke> & died' >&2; exit 1;; esac; echo 'all <good> & done'"),
        dir.resolve("state"), dir.resolve("keys")).build();
    service = DispatchFixture.start(server.url(), cfg, dir,
        new Service.Extensions(st -> Intake.PLAIN, TaskNotifier.factory(ncfg)));
  }

  List<String> telegramTexts(int n) throws Exception {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      RecordedRequest r = telegram.takeRequest(10, TimeUnit.SECONDS);
      assertTrue(r != null, "only " + out.size() + " Telegram messages: " + out);
      assertEquals("/bot" + TOKEN + "/sendMessage", r.getPath());
      out.add(Http.JSON.readTree(r.getBody().readUtf8()).path("text").asText());
    }
    return out;
  }

  @Test
  void completionAndFailureReachTelegramAndTheCallbackWhichNeverDelaysTheTask() throws Exception {
    hooks.enqueue(new MockResponse().setBody("ok").setBodyDelay(3, TimeUnit.SECONDS)); // a slow receiver
    hooks.enqueue(new MockResponse().setBody("ok"));
    startService();
    String hook = hooks.url("/hook").toString();
    long ok = DispatchFixture.create(http, "good <one>", 5, "{\"callback_url\":\"" + hook + "\"}");
    DispatchFixture.awaitStatus(http, ok, "completed", Duration.ofSeconds(10)); // well before the slow hook answers
    RecordedRequest cb = hooks.takeRequest(10, TimeUnit.SECONDS);
    JsonNode body = Http.JSON.readTree(cb.getBody().readUtf8());
    assertEquals(ok, body.path("task_id").asLong());
    assertEquals("completed", body.path("status").asText());
    assertEquals("all <good> & done", body.path("result").asText());
    assertEquals(1, body.path("attempt").asInt());
    assertEquals(ok + "-1-completed", cb.getHeader("Idempotency-Key"), "the key of before task keys");
    assertTrue(cb.getHeader("X-ATS-Dispatch-Signature").startsWith("t="), cb.getHeaders().toString());

    long bad = DispatchFixture.create(http, "bad one", 5, "{\"callback_url\":\"" + hook + "\",\"depends_on\":[]}");
    long child = DispatchFixture.create(http, "child", 5, "{\"depends_on\":[" + bad + "],\"callback_url\":\"" + hook + "\"}");
    DispatchFixture.awaitStatus(http, child, "failed", Duration.ofSeconds(10));
    RecordedRequest failed = hooks.takeRequest(10, TimeUnit.SECONDS);
    JsonNode fb = Http.JSON.readTree(failed.getBody().readUtf8());
    assertEquals("failed", fb.path("status").asText());

    List<String> texts = telegramTexts(5);
    assertTrue(texts.contains("🎯 Ada picked up: good &lt;one&gt; (ID: " + ok + ")"), texts.toString());
    assertTrue(texts.contains("✅ Done: good &lt;one&gt; — all &lt;good&gt; &amp; done"), texts.toString());
    assertTrue(texts.stream().anyMatch(t -> t.startsWith("❌ Failed: bad one — Agent exited with code 1: it &lt;broke&gt;")), texts.toString());
    assertTrue(texts.contains("🚫 Blocked: child — dependency #" + bad + " (failed) failed"), texts.toString());
  }

  @Test
  void quietSilencesTelegramButNotTheCallback() throws Exception {
    hooks.enqueue(new MockResponse().setBody("ok"));
    startService();
    long t = DispatchFixture.create(http, "hush", 5,
        "{\"quiet\":true,\"callback_url\":\"" + hooks.url("/q") + "\"}");
    DispatchFixture.awaitStatus(http, t, "completed", Duration.ofSeconds(10));
    RecordedRequest cb = hooks.takeRequest(10, TimeUnit.SECONDS);
    assertEquals("/q", cb.getPath());
    assertNull(telegram.takeRequest(1, TimeUnit.SECONDS), "quiet sends nothing to Telegram");
  }

  @Test
  void aRefusedCallbackIsNotedOnTheTask() throws Exception {
    startService();
    long t = DispatchFixture.create(http, "meta", 5, "{\"callback_url\":\"http://169.254.169.254/latest\"}");
    DispatchFixture.awaitStatus(http, t, "completed", Duration.ofSeconds(10));
    DispatchFixture.await("a note on the task", Duration.ofSeconds(10), () -> http.get("/tasks/" + t + "/messages")
        .text().contains("Callback not delivered"));
    assertEquals(0, hooks.getRequestCount());
  }
}
