package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dev server (a separate JVM with a file database) is killed with -9 while the service is
 * working through a batch, and restarted on the same port and database: results finished meanwhile
 * wait in the outbox, the watcher reconnects, reconcile finds what it missed, and every task runs
 * exactly once.
 */
@Timeout(120)
final class ServerRestartTest {
  static final int BATCH = 100;

  @TempDir Path dir;
  ChildJvm devServer;
  Service service;

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    if (devServer != null) devServer.close();
  }

  int startDevServer(int port, int incarnation) throws InterruptedException {
    devServer = ChildJvm.start(dir, "dev-server-" + incarnation, Map.of("HOME", dir.toString()),
        List.of("dev-server", "--port", Integer.toString(port), "--db", dir.resolve("ats.sqlite").toString()));
    return Integer.parseInt(devServer.awaitStdout("ATS dev server ready at http://127\\.0\\.0\\.1:(\\d+)",
        Duration.ofSeconds(30)).group(1));
  }

  List<Long> createBatch(Http http, String prefix) {
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < BATCH; i++) ids.add(DispatchFixture.create(http, prefix + " " + i, 5, null));
    return ids;
  }

  @Test
  void killedAndRestartedServerLosesNoTaskAndRunsNoneTwice() throws Exception {
    int port = startDevServer(0, 1);
    String url = "http://127.0.0.1:" + port;
    Http http = new Http(url, "human", "tester", "Tester");
    Path ran = dir.resolve("ran");
    Path agent = DispatchFixture.agent(dir, "quick.sh",
        "cat >/dev/null; echo \"$ATS_TASK_ID\" >> " + ran + "; sleep 0.05; echo ok");
    ServiceConfig.Builder b = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
    b.lease = Duration.ofSeconds(3);
    b.concurrency = 8;
    service = DispatchFixture.start(url, b.build(), "survivor", dir);

    List<Long> ids = new ArrayList<>(createBatch(http, "before"));
    DispatchFixture.await("the first batch to be under way", Duration.ofSeconds(30),
        () -> DispatchFixture.count(http, "completed") >= BATCH / 4);
    int runningAtKill = service.engine().runningNow();
    devServer.kill();
    assertTrue(runningAtKill > 0, "no agent was running when the server died");
    int doneBeforeKill = DispatchFixture.lines(ran).size();
    assertTrue(doneBeforeKill < BATCH, "the kill came after the whole batch ran: " + doneBeforeKill);

    // While ATS is down, the agents that were running finish and their results wait in the outbox.
    DispatchFixture.await("results queued while ATS is down", Duration.ofSeconds(20),
        () -> service.engine().runningNow() == 0 && service.engine().outboxDepth() > 0);

    assertEquals(port, startDevServer(port, 2));
    ids.addAll(createBatch(http, "after"));

    // ATS is back and answering: nothing may wait for a long backoff or the periodic reconcile.
    DispatchFixture.await("all " + 2 * BATCH + " tasks completed", Duration.ofSeconds(20),
        () -> DispatchFixture.count(http, "completed") == 2 * BATCH);
    assertEquals(0, DispatchFixture.count(http, "failed"));

    List<String> lines = DispatchFixture.lines(ran);
    Map<String, Long> twice = new HashMap<>(lines.stream().collect(Collectors.groupingBy(s -> s, Collectors.counting())));
    twice.values().removeIf(n -> n == 1);
    assertEquals(Map.of(), twice, "tasks whose agent ran more than once");
    assertEquals(new TreeSet<>(ids), lines.stream().map(Long::parseLong).collect(Collectors.toCollection(TreeSet::new)));
    assertEquals(2 * BATCH, service.engine().stats().attempts.get());
    assertEquals(0, service.engine().outboxDepth());
  }
}
