package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.lines;
import dev.atsdispatch.source.TaskKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.WsClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Retries inside one claim (each a strike) and resource slots, against the dev server. */
@Timeout(60)
final class RetriesAndSlotsTest {
  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;

  @BeforeEach
  void startServer() {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  ServiceConfig.Builder config(Path agent) {
    return DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
  }

  void start(ServiceConfig cfg) {
    service = DispatchFixture.start(server.url(), cfg, "ada-1", dir);
  }

  List<JsonNode> ledger(long id, String event) {
    return DispatchFixture.ledger(dir.resolve("state"), id, event);
  }

  @Test
  void aFailingAgentIsRetriedOnceInTheSameClaimThenFailed() throws Exception {
    Path runs = dir.resolve("runs");
    ServiceConfig.Builder b = config(DispatchFixture.agent(dir, "fail.sh",
        "echo \"$ATS_ATTEMPT $(date +%s%3N)\" >> " + runs + "; echo 'no luck' >&2; exit 4"));
    b.retries = 1;
    b.retryBackoff = Duration.ofMillis(300);
    start(b.build());
    List<String> events = new ArrayList<>();
    long id;
    try (WsClient ws = WsClient.connect(server.url(), "human", "observer", "Observer")) {
      ws.subscribe(List.of(DispatchFixture.CH), null, null);
      id = DispatchFixture.create(http, "Always fails", 5, null);
      long tid = id;
      while (!events.contains("task.failed")) {
        WsClient.Frame f = ws.await(x -> x.taskId() == tid, Duration.ofSeconds(20));
        events.add(f.type());
      }
    }
    assertEquals(1, events.stream().filter(e -> e.equals("task.claimed")).count(),
        "both attempts inside one claim: " + events);
    assertFalse(events.contains("task.lease_expired") || events.contains("task.updated"), events.toString());

    assertEquals("Agent exited with code 4: no luck", DispatchFixture.task(http, id).path("reason").asText());
    List<String> r = lines(runs);
    assertEquals(2, r.size(), "runs: " + r);
    assertEquals("1", r.get(0).split(" ")[0]);
    assertEquals("2", r.get(1).split(" ")[0]);
    long gap = Long.parseLong(r.get(1).split(" ")[1]) - Long.parseLong(r.get(0).split(" ")[1]);
    assertTrue(gap >= 300, "the retry waited for retry_backoff: " + gap + " ms");
    List<JsonNode> finished = ledger(id, "attempt_finished");
    assertEquals(2, finished.size());
    for (JsonNode f : finished) {
      assertEquals("exited", f.path("outcome").asText(), f.toString());
      assertTrue(f.path("strike").asBoolean(), f.toString());
      assertEquals(4, f.path("exit_code").asInt());
    }
    assertEquals(2, new StateDir(dir.resolve("state")).ledger(TaskKey.of("ats", id)).summary().strikes());
    assertEquals(1, service.engine().stats().failed.get());
    assertEquals(2, service.engine().stats().attempts.get());
  }

  @Test
  void anAgentThatFailsOnceCompletesOnTheRetry() throws Exception {
    Path marker = dir.resolve("failed-once");
    ServiceConfig.Builder b = config(DispatchFixture.agent(dir, "flaky.sh",
        "cat >/dev/null\nif [ -e " + marker + " ]; then echo \"second time lucky $ATS_ATTEMPT\"; "
            + "else touch " + marker + "; echo 'transient' >&2; exit 1; fi"));
    b.retries = 1;
    b.retryBackoff = Duration.ofMillis(100);
    start(b.build());
    long id = DispatchFixture.create(http, "Flaky", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(20));

    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("second time lucky 2", out.path("response").asText());
    assertEquals(2, out.path("attempt").asInt());
    List<JsonNode> finished = ledger(id, "attempt_finished");
    assertEquals(List.of("exited", "completed"),
        finished.stream().map(f -> f.path("outcome").asText()).toList());
    assertEquals(List.of(true, false), finished.stream().map(f -> f.path("strike").asBoolean()).toList());
    assertEquals(1, new StateDir(dir.resolve("state")).ledger(TaskKey.of("ats", id)).summary().strikes());
  }

  @Test
  void gpuTasksNeverOverlapWhileOthersRunAlongside() throws Exception {
    Path log = dir.resolve("log");
    ServiceConfig.Builder b = config(DispatchFixture.agent(dir, "work.sh",
        "cat >/dev/null\necho \"start $ATS_TASK_ID $(date +%s%3N)\" >> " + log
            + "\nsleep 0.6\necho \"end $ATS_TASK_ID $(date +%s%3N)\" >> " + log + "\necho ok"));
    b.concurrency = 4;
    b.slots = Map.of("gpu", 1);
    List<Long> gpu = new ArrayList<>();
    List<Long> plain = new ArrayList<>();
    for (int i = 0; i < 3; i++) gpu.add(DispatchFixture.create(http, "gpu " + i, 5, "{\"gpu\":true}"));
    for (int i = 0; i < 3; i++) plain.add(DispatchFixture.create(http, "plain " + i, 5, i == 0 ? "{\"gpu\":false}" : null));
    start(b.build());
    for (long id : gpu) DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));
    for (long id : plain) DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));

    Map<Long, long[]> span = new HashMap<>();
    for (String l : lines(log)) {
      String[] f = l.split(" ");
      long[] s = span.computeIfAbsent(Long.parseLong(f[1]), k -> new long[2]);
      s[f[0].equals("start") ? 0 : 1] = Long.parseLong(f[2]);
    }
    assertEquals(6, span.size(), "every task ran once: " + lines(log));
    for (int i = 0; i < gpu.size(); i++) {
      for (int j = i + 1; j < gpu.size(); j++) {
        long[] a = span.get(gpu.get(i));
        long[] c = span.get(gpu.get(j));
        assertFalse(a[0] < c[1] && c[0] < a[1], "gpu tasks " + gpu.get(i) + " and " + gpu.get(j) + " overlapped");
      }
    }
    // The three plain tasks did not wait behind the gpu queue: each overlapped some gpu task.
    for (long p : plain) {
      long[] s = span.get(p);
      assertTrue(gpu.stream().map(span::get).anyMatch(g -> s[0] < g[1] && g[0] < s[1]),
          "plain task " + p + " ran alongside a gpu task");
    }
    assertEquals(12, Set.copyOf(lines(log)).size());
  }
}
