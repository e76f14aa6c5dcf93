package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.lines;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Start-up against the real dev server with a state directory that has history: start-up reads
 * no ledger of it (defect 11), and a state directory of the release before task keys is taken
 * over (strikes, leftover agents, pending results).
 */
@Timeout(120)
final class StartUpStateTest {
  static final ObjectMapper M = new ObjectMapper();

  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;
  Path state;
  Path runs;
  final List<Process> leftovers = new ArrayList<>();

  @BeforeEach
  void startServer() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    // an earlier release's state directory: 0700, as that release left it
    state = Files.createDirectory(dir.resolve("state"),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(dev.atsdispatch.files.OwnerOnly.DIR));
    runs = dir.resolve("runs");
  }

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    if (server != null) server.close();
    leftovers.forEach(Process::destroyForcibly);
  }

  Service startService() {
    Path agent = DispatchFixture.agent(dir, "agent.sh",
        "cat > /dev/null\necho \"$ATS_TASK_ID $ATS_ATTEMPT\" >> " + runs + "\necho done");
    ServiceConfig.Builder b = DispatchFixture.config(agent, state, dir.resolve("keys"));
    service = DispatchFixture.start(server.url(), b.build(), "ada-1", dir);
    return service;
  }

  static void write(Path f, String... jsonLines) throws Exception {
    Files.createDirectories(f.getParent());
    Files.writeString(f, String.join("\n", jsonLines) + "\n");
  }

  /**
   * 5,000 finished tasks whose ledgers are named pipes: opening any of them for reading would
   * block start-up for good (a tripwire that holds for root too, which chmod 000 does not). One
   * more task has a running marker and a real ledger: that one start-up must read.
   */
  @Test
  void startUpReadsNoLedgerOfFinishedTasks() throws Exception {
    List<Path> pipes = new ArrayList<>();
    for (int i = 1; i <= 5000; i++) {
      Path d = Files.createDirectories(state.resolve("tasks/ats/" + (100_000 + i)));
      Files.writeString(d.resolve("attempt-1.stdout.log"), "old output");
      pipes.add(d.resolve("events.jsonl"));
    }
    for (int i = 0; i < pipes.size(); i += 500) {
      List<String> cmd = new ArrayList<>(List.of("mkfifo"));
      pipes.subList(i, Math.min(pipes.size(), i + 500)).forEach(p -> cmd.add(p.toString()));
      assertEquals(0, new ProcessBuilder(cmd).inheritIO().start().waitFor());
    }
    long deadPid = new ProcessBuilder("true").start().pid(); // gone by now, never to be killed
    write(state.resolve("tasks/ats/99999/events.jsonl"),
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"attempt_started\",\"attempt\":1}",
        "{\"ts\":\"2026-01-01T00:00:01Z\",\"event\":\"agent_started\",\"attempt\":1,\"pgid\":" + deadPid + ",\"start_ms\":1}");
    write(state.resolve("running/ats-99999.run"), "ats:99999", Long.toString(deadPid), "1");

    long t0 = System.nanoTime();
    startService();
    long startMs = (System.nanoTime() - t0) / 1_000_000;
    long id = DispatchFixture.create(http, "After the history", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));

    for (Path p : pipes) assertTrue(Files.exists(p) && !Files.isRegularFile(p), "untouched: " + p);
    assertFalse(Files.exists(state.resolve("running/ats-99999.run")), "the marker was taken up");
    JsonNode crashed = DispatchFixture.ledger(state, 99999, "attempt_finished").get(0);
    assertEquals("crashed", crashed.path("outcome").asText());
    assertFalse(crashed.path("leftover_killed").asBoolean(), "a pid no longer there is not killed");
    System.out.println("start-up with 5,000 finished tasks: " + startMs + " ms");
  }

  /**
   * The state directory of the release before task keys ({@code tasks/<id>/}, outbox entries
   * {@code task-<id>-attempt-<n>.json} without "task"), then an upgrade: strikes carry over, a
   * leftover agent is killed and counted, a pending result is delivered, and none of those
   * tasks runs its agent again but the one with strikes left. A second start changes nothing.
   */
  @Test
  void theStateOfThePreviousReleaseIsTakenOver() throws Exception {
    long poisoned = DispatchFixture.create(http, "Three strikes already", 5, null);
    long crashed = DispatchFixture.create(http, "Its agent outlived the old service", 5, null);
    long reported = DispatchFixture.create(http, "Its result waits in the old outbox", 5, null);
    AtsSettings old = new AtsSettings(server.url(), "default", "main", false, "agent", "ada-1", "Ada");
    try (HttpAtsClient c = new HttpAtsClient(old, Duration.ofSeconds(10))) {
      c.claim(reported, Duration.ofMinutes(30));
    }

    // what today's release leaves: three failed attempts
    List<String> three = new ArrayList<>();
    for (int n = 1; n <= 3; n++) {
      three.add("{\"ts\":\"2026-01-01T00:0" + n + ":00Z\",\"event\":\"attempt_started\",\"attempt\":" + n + "}");
      three.add("{\"ts\":\"2026-01-01T00:0" + n + ":01Z\",\"event\":\"agent_started\",\"attempt\":" + n
          + ",\"pgid\":" + (4_000_000 + n) + ",\"start_ms\":1}");
      three.add("{\"ts\":\"2026-01-01T00:0" + n + ":02Z\",\"event\":\"attempt_finished\",\"attempt\":" + n
          + ",\"outcome\":\"exited\",\"strike\":true,\"pgid\":" + (4_000_000 + n) + ",\"exit_code\":1}");
    }
    write(state.resolve("tasks/" + poisoned + "/events.jsonl"), three.toArray(String[]::new));
    // an agent still running in its own process group when the old service died
    Process leftover = new ProcessBuilder("setsid", "sleep", "600").start();
    leftovers.add(leftover);
    long pgid = leftover.pid();
    long startMs = ProcessAgentRunner.startMillis(pgid);
    assertTrue(startMs > 0);
    write(state.resolve("tasks/" + crashed + "/events.jsonl"),
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"attempt_started\",\"attempt\":1}",
        "{\"ts\":\"2026-01-01T00:00:01Z\",\"event\":\"agent_started\",\"attempt\":1,\"pgid\":" + pgid
            + ",\"start_ms\":" + startMs + "}");
    // a completed attempt whose result ATS never acknowledged
    write(state.resolve("tasks/" + reported + "/events.jsonl"),
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"attempt_started\",\"attempt\":1}",
        "{\"ts\":\"2026-01-01T00:00:01Z\",\"event\":\"agent_started\",\"attempt\":1,\"pgid\":4000009,\"start_ms\":1}",
        "{\"ts\":\"2026-01-01T00:00:02Z\",\"event\":\"attempt_finished\",\"attempt\":1,\"outcome\":\"completed\","
            + "\"strike\":false,\"pgid\":4000009,\"exit_code\":0,\"duration_ms\":5}",
        "{\"ts\":\"2026-01-01T00:00:03Z\",\"event\":\"result_queued\",\"attempt\":1,\"action\":\"complete\"}");
    Files.writeString(state.resolve("tasks/" + reported + "/attempt-1.stdout.log"), "from the old release\n");
    Files.createDirectories(state.resolve("tasks/" + reported + "/work"));
    write(state.resolve("outbox/results/task-" + reported + "-attempt-1.json"),
        "{\"task_id\":" + reported + ",\"attempt\":1,\"action\":\"complete\",\"outputs\":"
            + "{\"response\":\"from the old release\",\"exit_code\":0,\"attempt\":1}}");

    startService();
    assertTrue(leftover.waitFor(15, TimeUnit.SECONDS), "the leftover agent is killed");
    DispatchFixture.awaitStatus(http, reported, "completed", Duration.ofSeconds(30));
    DispatchFixture.awaitStatus(http, poisoned, "failed", Duration.ofSeconds(30));
    DispatchFixture.awaitStatus(http, crashed, "completed", Duration.ofSeconds(30));

    assertEquals("from the old release",
        DispatchFixture.task(http, reported).path("outputs").get(0).path("response").asText());
    assertEquals("poison: 3 attempts", DispatchFixture.task(http, poisoned).path("reason").asText());
    assertEquals(List.of(crashed + " 2"), lines(runs), "only the task with strikes left ran, as attempt 2");
    JsonNode fin = DispatchFixture.ledger(state, crashed, "attempt_finished").get(0);
    assertEquals(pgid, fin.path("pgid").asLong());
    assertEquals("crashed", fin.path("outcome").asText());
    assertTrue(fin.path("strike").asBoolean() && fin.path("leftover_killed").asBoolean(), fin.toString());
    assertFalse(ChildJvm.alive(pgid));
    DispatchFixture.await("the report in the ledger", Duration.ofSeconds(10),
        () -> DispatchFixture.ledger(state, reported, "reported").size() == 1); // noted after ATS took it

    // moved under tasks/ats/, with their logs and work directories
    for (long id : List.of(poisoned, crashed, reported)) {
      assertFalse(Files.exists(state.resolve("tasks/" + id)), "moved: " + id);
      assertTrue(Files.isRegularFile(state.resolve("tasks/ats/" + id + "/events.jsonl")));
    }
    assertEquals("from the old release\n", Files.readString(state.resolve("tasks/ats/" + reported + "/attempt-1.stdout.log")));
    assertTrue(Files.isDirectory(state.resolve("tasks/ats/" + reported + "/work")));
    DispatchFixture.await("an empty outbox", Duration.ofSeconds(10), () -> {
      try (Stream<Path> s = Files.list(state.resolve("outbox/results"))) {
        return service.engine().outboxDepth() == 0 && s.noneMatch(p -> p.toString().endsWith(".json"));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    try (Stream<Path> s = Files.list(state.resolve("running"))) {
      assertEquals(List.of(), s.toList());
    }

    // a second start: nothing to take over again, nothing run again
    service.close();
    List<JsonNode> before = DispatchFixture.ledger(state, crashed);
    startService();
    long fresh = DispatchFixture.create(http, "After the second start", 5, null);
    DispatchFixture.awaitStatus(http, fresh, "completed", Duration.ofSeconds(30));
    assertEquals(List.of(crashed + " 2", fresh + " 1"), lines(runs));
    assertEquals(before, DispatchFixture.ledger(state, crashed));
    assertEquals("failed", DispatchFixture.task(http, poisoned).path("status").asText());
    assertEquals(3, new StateDir(state).ledger(dev.atsdispatch.source.TaskKey.of("ats", poisoned)).summary().strikes());
  }

  /**
   * The previous release appended without cutting a torn last line, and its reader skipped any
   * line it could not parse: a line torn by a crash, then joined by the next append, is part of
   * such a ledger. The upgrade must read it as that release did, not refuse to start.
   */
  @Test
  void aLedgerLineTornByThePreviousReleaseDoesNotStopTheUpgrade() throws Exception {
    long torn = DispatchFixture.create(http, "A torn line in its ledger", 5, null);
    long crashed = DispatchFixture.create(http, "Its agent outlived the old service", 5, null);
    List<String> lines = new ArrayList<>();
    for (int n = 1; n <= 3; n++) {
      lines.add("{\"ts\":\"2026-01-01T00:0" + n + ":00Z\",\"event\":\"attempt_started\",\"attempt\":" + n + "}");
      String agent = "{\"ts\":\"2026-01-01T00:0" + n + ":01Z\",\"event\":\"agent_started\",\"attempt\":" + n
          + ",\"pgid\":" + (4_000_000 + n) + ",\"start_ms\":1}";
      String fin = "{\"ts\":\"2026-01-01T00:0" + n + ":02Z\",\"event\":\"attempt_finished\",\"attempt\":" + n
          + ",\"outcome\":\"exited\",\"strike\":true,\"pgid\":" + (4_000_000 + n) + ",\"exit_code\":1}";
      // attempt 3: agent_started torn by a crash, attempt_finished appended right after it
      if (n < 3) {
        lines.add(agent);
        lines.add(fin);
      } else {
        lines.add(agent.substring(0, 40) + fin);
      }
    }
    write(state.resolve("tasks/" + torn + "/events.jsonl"), lines.toArray(String[]::new));
    Process leftover = new ProcessBuilder("setsid", "sleep", "600").start();
    leftovers.add(leftover);
    long pgid = leftover.pid();
    write(state.resolve("tasks/" + crashed + "/events.jsonl"),
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"attempt_started\",\"attempt\":1}",
        "{\"ts\":\"2026-01-01T00:00:01Z\",\"event\":\"agent_started\",\"attempt\":1,\"pgid\":" + pgid
            + ",\"start_ms\":" + ProcessAgentRunner.startMillis(pgid) + "}");

    startService();
    assertTrue(leftover.waitFor(15, TimeUnit.SECONDS), "the leftover agent is killed");
    DispatchFixture.awaitStatus(http, torn, "failed", Duration.ofSeconds(30));
    assertEquals("poison: 3 attempts", DispatchFixture.task(http, torn).path("reason").asText(),
        "the strikes its old reader counted");
    DispatchFixture.awaitStatus(http, crashed, "completed", Duration.ofSeconds(30));
    assertEquals(List.of(crashed + " 2"), lines(runs));
    String aside = Files.readString(state.resolve("tasks/ats/" + torn + "/events.jsonl.unparsable"));
    assertEquals(lines.get(lines.size() - 1) + "\n", aside, "the skipped line is kept for a human");
  }
}
