package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.status.MetricsText;
import dev.atsdispatch.status.StatusServer;
import dev.atsdispatch.testing.Http;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The engine's figures reach /metrics, and /readyz follows the subscription and ATS health. */
@Timeout(60)
final class StatusWiringTest {
  @TempDir Path dir;

  private static String text(String url) throws Exception {
    try (var in = java.net.URI.create(url).toURL().openStream()) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  @Test
  void metricsAndReadinessFollowTheService() throws Exception {
    DevServer server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    Http http = new Http(server.url(), "human", "tester", "Tester");
    ServiceConfig.Builder b = DispatchFixture.config(DispatchFixture.agent(dir, "a.sh",
        "cat > /dev/null; case \"$ATS_TASK_TITLE\" in bad*) exit 1;; esac; echo ok"),
        dir.resolve("state"), dir.resolve("keys"));
    b.maxAttempts = 1;
    Service svc = DispatchFixture.start(server.url(), b.build(), "ada-1", dir);
    try (StatusServer status = StatusServer.start("127.0.0.1", 0, svc.engine().metrics(), svc.readiness())) {
      Http probe = new Http(status.url(), "human", "probe", "Probe");
      DispatchFixture.await("ready", Duration.ofSeconds(10), () -> probe.get("/readyz").status() == 200);
      long ok = DispatchFixture.create(http, "good", 5, null);
      long bad = DispatchFixture.create(http, "bad", 5, null);
      long blocked = DispatchFixture.create(http, "waits", 5, "{\"depends_on\":[" + bad + "]}");
      DispatchFixture.awaitStatus(http, ok, "completed", Duration.ofSeconds(10));
      DispatchFixture.awaitStatus(http, blocked, "failed", Duration.ofSeconds(10));
      MetricsText m = MetricsText.parse(text(status.url() + "/metrics"));
      assertEquals(1.0, m.value(DispatchMetrics.TASKS_TOTAL, "outcome", "completed"));
      assertEquals(1.0, m.value(DispatchMetrics.TASKS_TOTAL, "outcome", "failed"));
      assertEquals(1.0, m.value(DispatchMetrics.TASKS_TOTAL, "outcome", "blocked"));
      assertEquals(1.0, m.value(DispatchMetrics.STRIKES_TOTAL));
      assertEquals(2.0, m.value(DispatchMetrics.AGENT_DURATION_SECONDS + "_count"));
      assertEquals(2.0, m.value(DispatchMetrics.PICKUP_LATENCY_SECONDS + "_count"));
      assertEquals(0.0, m.value(DispatchMetrics.TASKS_RUNNING));

      server.close(); // the watcher loses its subscription
      DispatchFixture.await("not ready", Duration.ofSeconds(10), () -> probe.get("/readyz").status() == 503);
      assertTrue(probe.get("/readyz").text().contains("websocket not subscribed"));
    } finally {
      svc.close();
      server.close();
    }
  }
}
