package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import dev.atsdispatch.source.TaskKey;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class StateDirTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;

  ObjectNode attempt(int n) {
    return M.createObjectNode().put("attempt", n);
  }

  @Test
  void strikesSurviveANewProcessReadingTheSameDirectory() {
    StateDir s = new StateDir(dir);
    TaskLedger l = s.ledger(TaskKey.of("ats", 7));
    l.append("attempt_started", attempt(1), Instant.now());
    l.append("agent_started", attempt(1).put("pgid", 4242), Instant.now());
    // crash here: no attempt_finished
    TaskLedger fresh = new StateDir(dir).ledger(TaskKey.of("ats", 7));
    TaskLedger.Summary sum = fresh.summary();
    assertEquals(1, sum.attempts());
    assertEquals(1, sum.strikes());
    assertEquals(1, sum.agentGroups().size(), "the agent group left running is known");
    assertEquals(4242L, sum.agentGroups().get(0)[0]);
    assertTrue(Files.exists(dir.resolve("tasks/ats/7/events.jsonl")));
  }

  @Test
  void interruptedAttemptsAreNotStrikesAndResetClears() {
    TaskLedger l = new StateDir(dir).ledger(TaskKey.of("ats", 1));
    l.append("attempt_started", attempt(1), Instant.now());
    l.append("attempt_finished", attempt(1).put("outcome", "failed").put("strike", true), Instant.now());
    l.append("attempt_started", attempt(2), Instant.now());
    l.append("attempt_finished", attempt(2).put("outcome", "interrupted").put("strike", false), Instant.now());
    l.append("attempt_started", attempt(3), Instant.now());
    TaskLedger.Summary s = l.summary();
    assertEquals(3, s.attempts());
    assertEquals(2, s.strikes());
    l.append("reported", null, Instant.now());
    assertTrue(l.summary().reported());
    l.append("reset", null, Instant.now());
    assertEquals(0, l.summary().strikes());
    assertFalse(l.summary().reported());
    assertEquals(3, l.summary().attempts(), "attempt numbers keep growing after a reset");
  }

  @Test
  void aTornLastLineIsIgnored() throws Exception {
    TaskLedger l = new StateDir(dir).ledger(TaskKey.of("ats", 3));
    l.append("attempt_started", attempt(1), Instant.now());
    Files.writeString(l.file(), "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"attempt_sta",
        StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    assertEquals(1, l.summary().strikes());
  }

  @Test
  void outboxEntriesSurviveAndAreOwnerOnly() throws Exception {
    Outbox o = new StateDir(dir).outbox("results");
    o.put("task-5-attempt-1", M.createObjectNode().put("task_id", 5).put("action", "complete"));
    o.put("task-6-attempt-2", M.createObjectNode().put("task_id", 6).put("action", "fail"));
    Outbox again = new StateDir(dir).outbox("results");
    List<Outbox.Entry> p = again.pending();
    assertEquals(2, p.size());
    assertEquals("task-5-attempt-1", p.get(0).key());
    assertEquals(5, p.get(0).body().path("task_id").asInt());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p.get(0).file())));
    again.remove(p.get(0));
    assertEquals(1, new StateDir(dir).outbox("results").size());
    try (var files = Files.list(dir.resolve("outbox/results"))) {
      assertEquals(1, files.count(), "no temp files are left behind");
    }
    assertThrows(IllegalArgumentException.class, () -> o.put("../escape", M.createObjectNode()));
  }

  @Test
  void oneServicePerStateDirectory() {
    try (StateDir a = new StateDir(dir)) {
      a.lock();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> new StateDir(dir).lock());
      assertTrue(e.getMessage().contains("service.lock"), e.getMessage());
    }
    try (StateDir b = new StateDir(dir)) {
      b.lock(); // released by close
    }
  }
}
