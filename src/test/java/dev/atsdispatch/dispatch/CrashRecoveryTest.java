package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.CH;
import dev.atsdispatch.source.TaskKey;
import static dev.atsdispatch.dispatch.DispatchFixture.await;
import static dev.atsdispatch.dispatch.DispatchFixture.ledger;
import static dev.atsdispatch.dispatch.DispatchFixture.lines;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of the service (a separate JVM running {@code ats-dispatch run}) while its agent runs:
 * the agent survives in its own process group until the next incarnation kills it; the crashed
 * attempt is a strike in the ledger; the task runs again only once its lease has expired; the
 * third strike poisons it.
 */
@Timeout(120)
final class CrashRecoveryTest {
  @TempDir Path dir;
  DevServer server;
  Http http;
  ChildJvm service;
  final List<Long> agentPids = new ArrayList<>();

  @BeforeEach
  void startServer() {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    for (long pid : agentPids) {
      ChildJvm.killGroup(pid);
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    if (server != null) server.close();
  }

  ChildJvm startService(Path agent, int incarnation) {
    return ChildJvm.start(dir, "service-" + incarnation,
        Map.of("HOME", dir.toString(), "ATS_DISPATCH_AGENT_GRACE", "500ms",
            "ATS_DISPATCH_AGENT_SANDBOX", "none"), // the test watches the agents by their outer pids
        List.of("run", "--transport", "http", "--url", server.url(), "--channel", CH,
            "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
            "--keys-dir", dir.resolve("keys").toString(), "--lease", "3s",
            "--actor-id", "crash-svc", "--actor-name", "Crash Service"));
  }

  @Test
  void crashedAttemptsAreStrikesAndTheThirdPoisonsTheTask() throws Exception {
    Path starts = dir.resolve("starts");
    // "<attempt> <shell pid = process group> <child pid> <start epoch ms>", then wait for ever
    Path agent = DispatchFixture.agent(dir, "hang.sh",
        "sleep 600 &\necho \"$ATS_ATTEMPT $$ $! $(date +%s%3N)\" >> " + starts + "\nwait");
    Path state = dir.resolve("state");
    service = startService(agent, 1);
    long id = DispatchFixture.create(http, "Crashes its service", 5, null);

    Instant previousLeaseEnd = null;
    for (int n = 1; n <= 3; n++) {
      int attempt = n;
      await("attempt " + n + " to start", Duration.ofSeconds(30), () -> lines(starts).size() >= attempt);
      String[] f = lines(starts).get(n - 1).split(" ");
      long shell = Long.parseLong(f[1]);
      long child = Long.parseLong(f[2]);
      agentPids.add(shell);
      assertEquals(n, Integer.parseInt(f[0]), "ATS_ATTEMPT of run " + n);
      if (previousLeaseEnd != null) {
        assertTrue(Long.parseLong(f[3]) >= previousLeaseEnd.toEpochMilli(),
            "attempt " + n + " started at " + Instant.ofEpochMilli(Long.parseLong(f[3]))
                + ", before the crashed attempt's lease ended at " + previousLeaseEnd);
      }
      await("the ledger to record agent " + shell, Duration.ofSeconds(10),
          () -> ledger(state, id, "agent_started").stream().anyMatch(e -> e.path("pgid").asLong() == shell));

      service.kill();
      // the service's orphan guard kills its agents within about a second, before the 3 s lease
      // could let anyone else take the task, and before any restart
      await("the orphan guard to kill the agent group " + shell, Duration.ofSeconds(3),
          () -> !ChildJvm.alive(shell) && !ChildJvm.alive(child) && ChildJvm.groupMembers(shell).isEmpty());
      JsonNode t = DispatchFixture.task(http, id);
      assertEquals("in_progress", t.path("status").asText());
      assertTrue(t.path("assignee_id").asText().startsWith("crash-svc-"), "claimed as this instance: " + t);
      Instant leaseEnd = Instant.parse(t.path("lease_expires").asText());

      service = startService(agent, n + 1);
      await("the crashed attempt to be recorded", Duration.ofSeconds(5),
          () -> ledger(state, id, "attempt_finished").stream().anyMatch(e -> e.path("pgid").asLong() == shell));
      JsonNode crashed = ledger(state, id, "attempt_finished").stream()
          .filter(e -> e.path("pgid").asLong() == shell).findFirst().orElseThrow();
      assertEquals("crashed", crashed.path("outcome").asText(), crashed.toString());
      assertTrue(crashed.path("strike").asBoolean(), crashed.toString());
      // leftover_killed says whether the restart found the group still there: the guard got there
      // first, but an unreaped zombie leader (PID 1 here reaps no orphans) still looks present
      assertEquals(n, ledger(state, id, "attempt_finished").stream()
          .filter(e -> e.path("outcome").asText().equals("crashed")).count());

      // Until the old lease ends the task stays in_progress under it, and nothing runs it.
      while (Instant.now().isBefore(leaseEnd.minusMillis(150))) {
        JsonNode now = DispatchFixture.task(http, id);
        assertEquals("in_progress", now.path("status").asText());
        assertEquals(leaseEnd, Instant.parse(now.path("lease_expires").asText()));
        assertEquals(n, lines(starts).size(), "a new attempt started before the lease expired");
        Thread.sleep(100);
      }
      previousLeaseEnd = leaseEnd;
    }

    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(20));
    assertEquals("poison: 3 attempts", DispatchFixture.task(http, id).path("reason").asText());
    assertEquals(3, lines(starts).size(), "the agent must not start a fourth time");
    assertTrue(ledger(state, id, "attempt_started").stream().noneMatch(e -> e.path("attempt").asInt() > 3));
    assertEquals(3, new StateDir(state).ledger(TaskKey.of("ats", id)).summary().strikes());
  }
}
