package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.CH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Two services (distinct actors and state dirs) share one channel: every task runs exactly once. */
@Timeout(120)
final class TwoServicesTest {
  static final int TASKS = 500;

  @TempDir Path dir;
  DevServer server;
  Http http;
  final List<Service> services = new ArrayList<>();

  @BeforeEach
  void startServer() {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stopAll() {
    services.forEach(Service::close);
    if (server != null) server.close();
  }

  @Test
  void everyTaskRunsExactlyOnceAcrossTwoServices() throws Exception {
    Path ran = dir.resolve("ran");
    Path agent = DispatchFixture.agent(dir, "fast.sh", "cat >/dev/null; echo \"$ATS_TASK_ID\" >> " + ran + "; echo ok");
    for (String name : List.of("a", "b")) {
      ServiceConfig.Builder b = DispatchFixture.config(agent, dir.resolve("state-" + name), dir.resolve("keys"));
      b.concurrency = 8;
      services.add(DispatchFixture.start(server.url(), b.build(), "executor-" + name, dir));
    }

    Set<Long> ids = ConcurrentHashMap.newKeySet();
    ExecutorService creators = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int c = 0; c < 4; c++) {
        int from = c;
        fs.add(creators.submit(() -> {
          for (int i = from; i < TASKS; i += 4) ids.add(DispatchFixture.create(http, "task " + i, 1 + i % 10, null));
        }));
      }
      for (Future<?> f : fs) f.get();
    } finally {
      creators.shutdown();
    }
    assertEquals(TASKS, ids.size());

    DispatchFixture.await(TASKS + " tasks completed", Duration.ofSeconds(90),
        () -> DispatchFixture.count(http, "completed") == TASKS);
    assertEquals(0, DispatchFixture.count(http, "pending"));
    assertEquals(0, DispatchFixture.count(http, "in_progress"));
    assertEquals(0, DispatchFixture.count(http, "failed"));

    List<String> lines = DispatchFixture.lines(ran);
    Map<String, Long> runs = lines.stream().collect(Collectors.groupingBy(s -> s, Collectors.counting()));
    Map<String, Long> twice = new HashMap<>(runs);
    twice.values().removeIf(n -> n == 1);
    assertEquals(Map.of(), twice, "tasks whose agent ran more than once");
    assertEquals(new TreeSet<>(ids), runs.keySet().stream().map(Long::parseLong).collect(Collectors.toCollection(TreeSet::new)));
    assertEquals(TASKS, lines.size());

    int a = services.get(0).engine().stats().attempts.get();
    int b = services.get(1).engine().stats().attempts.get();
    assertEquals(TASKS, a + b, "attempts: " + a + " + " + b);
    assertTrue(a > 0 && b > 0, "both services took work: " + a + " / " + b);
    Http.Resp all = http.get("/tasks?channel=" + CH + "&status=completed&limit=1000");
    assertEquals(TASKS, all.body().path("tasks").size());
    for (var t : all.body().path("tasks")) {
      var out = t.path("outputs").get(0);
      assertEquals("ok", out.path("response").asText(), t.toString());
      assertEquals(1, out.path("attempt").asInt(), "one attempt per task: " + t);
    }
    assertEquals(0, services.get(0).engine().stats().failed.get() + services.get(1).engine().stats().failed.get());
  }
}
