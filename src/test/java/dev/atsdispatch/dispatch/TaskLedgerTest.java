package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger's corruption rules, its torn last line and its cached summary. */
final class TaskLedgerTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Instant T = Instant.parse("2026-01-01T00:00:00Z");
  @TempDir Path dir;

  static ObjectNode attempt(int n) {
    return M.createObjectNode().put("attempt", n);
  }

  @Test
  void theFirstAppendSyncsTheDirectoriesItCreated() {
    List<Path> synced = new ArrayList<>();
    Path taskDir = dir.resolve("tasks/7");
    TaskLedger l = new TaskLedger(taskDir, synced::add);
    l.append("attempt_started", attempt(1), T);
    assertEquals(List.of(taskDir, dir.resolve("tasks"), dir), synced,
        "the new file's directory, then each new directory's parent");
    l.append("attempt_finished", attempt(1), T);
    assertEquals(3, synced.size(), "later appends sync the file only");

    synced.clear();
    TaskLedger again = new TaskLedger(taskDir, synced::add);
    again.append("attempt_started", attempt(2), T);
    again.append("attempt_finished", attempt(2), T);
    assertEquals(List.of(taskDir, dir.resolve("tasks"), dir), synced, "a new instance syncs the directory and "
        + "the two above it once, in case a crash came between their creation and a sync");
  }

  @Test
  void prepareMakesTheFileAndTheFirstDurableAppendSyncsWhatItMade() throws Exception {
    List<Path> synced = new ArrayList<>();
    Path taskDir = dir.resolve("tasks/8");
    TaskLedger l = new TaskLedger(taskDir, synced::add);
    l.prepare();
    assertEquals(List.of(), synced, "no flush while the claim is on its way: it would queue before the start's");
    assertEquals(0, Files.size(l.file()), "an empty ledger: nothing happened to the task");
    assertEquals(0, l.summary().attempts());
    l.prepare();
    l.appendUnforced("attempt_started", attempt(1), T);
    assertEquals(List.of(), synced, "an unforced line syncs nothing");
    assertEquals(1, l.summary().attempts());
    assertEquals(1, new TaskLedger(taskDir).events().size(), "but any reader sees it at once");
    l.sync();
    assertEquals(List.of(taskDir, dir.resolve("tasks"), dir), synced,
        "the directories prepare made, each new one's parent, once");
    l.sync();
    l.append("agent_started", attempt(1), T);
    assertEquals(3, synced.size(), "and never again");

    synced.clear();
    TaskLedger again = new TaskLedger(taskDir, synced::add);
    again.prepare(); // an existing ledger is left as it is
    assertEquals(1, again.summary().attempts());
    again.appendUnforced("attempt_finished", attempt(1), T);
    again.append("reported", null, T);
    assertEquals(List.of(taskDir, dir.resolve("tasks"), dir), synced,
        "a new instance syncs the file's directory and the two above it at its first durable append");
  }

  @Test
  void aBadLineInTheMiddleIsCorruptionNamingTheFileAndLine() throws Exception {
    TaskLedger l = new TaskLedger(dir);
    l.append("attempt_started", attempt(1), T);
    Files.writeString(l.file(), "{\"event\":\"attempt_fin\u0000\n", StandardOpenOption.APPEND);
    l.append("attempt_started", attempt(2), T);
    TaskLedger fresh = new TaskLedger(dir);
    RuntimeException e = assertThrows(RuntimeException.class, fresh::events);
    assertTrue(e.getMessage().contains(l.file().toString()) && e.getMessage().contains("line 2"), e.getMessage());
    assertThrows(RuntimeException.class, fresh::summary, "no summary that silently lost a record");
  }

  @Test
  void aTornLastLineIsIgnoredAndCutOffBeforeTheNextAppend() throws Exception {
    TaskLedger l = new TaskLedger(dir);
    l.append("attempt_started", attempt(1), T);
    Files.writeString(l.file(), "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"attempt_sta",
        StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    assertEquals(1, l.events().size());
    TaskLedger fresh = new TaskLedger(dir);
    fresh.append("attempt_finished", attempt(1).put("outcome", "failed"), T);
    List<JsonNode> events = new TaskLedger(dir).events();
    assertEquals(List.of("attempt_started", "attempt_finished"),
        events.stream().map(e -> e.path("event").asText()).toList());
    assertEquals(2, Files.readAllLines(l.file()).size(), "the torn line is gone, not joined");
  }

  @Test
  void theSummaryIsKeptInMemoryAndMatchesARereadOfTheFile() throws Exception {
    TaskLedger l = new TaskLedger(dir);
    l.append("attempt_started", attempt(1), T);
    l.append("agent_started", attempt(1).put("pgid", 11).put("start_ms", 5), T);
    TaskLedger.Summary first = l.summary();
    assertEquals(1, first.strikes());

    Path aside = dir.resolve("aside");
    Files.move(l.file(), aside);
    TaskLedger.Summary cached = l.summary();
    Files.move(aside, l.file());
    assertEquals(1, cached.attempts(), "summary() did not read the file again");
    assertEquals(1, cached.strikes());
    assertEquals(1, cached.agentGroups().size());

    l.append("attempt_finished", attempt(1).put("pgid", 11).put("outcome", "failed"), T);
    l.append("attempt_started", attempt(2), T);
    l.append("agent_started", attempt(2).put("pgid", 12).put("start_ms", 6), T);
    l.append("attempt_finished", attempt(2).put("pgid", 99).put("outcome", "interrupted").put("strike", false), T);
    l.append("result_queued", null, T);
    assertSameSummary(new TaskLedger(dir).summary(), l.summary());
    assertEquals(2, l.summary().attempts());
    assertEquals(1, l.summary().strikes());
    assertTrue(l.summary().resultPending());
    assertEquals("interrupted", l.summary().lastOutcome());

    l.append("reported", null, T);
    l.append("reset", null, T);
    assertSameSummary(new TaskLedger(dir).summary(), l.summary());
    assertEquals(1, first.agentGroups().size(), "an earlier summary is a snapshot");
  }

  @Test
  void appendingWhileWalkingASummarysAgentGroupsIsSafe() {
    TaskLedger l = new TaskLedger(dir);
    l.append("agent_started", M.createObjectNode().put("pgid", 1).put("start_ms", 1), T);
    l.append("agent_started", M.createObjectNode().put("pgid", 2).put("start_ms", 2), T);
    l.summary();
    for (long[] g : l.summary().agentGroups()) {
      l.append("attempt_finished", M.createObjectNode().put("pgid", g[0]).put("outcome", "crashed"), T);
    }
    assertEquals(0, l.summary().agentGroups().size());
  }

  static void assertSameSummary(TaskLedger.Summary want, TaskLedger.Summary got) {
    assertEquals(want.attempts(), got.attempts());
    assertEquals(want.strikes(), got.strikes());
    assertEquals(want.reported(), got.reported());
    assertEquals(want.resultPending(), got.resultPending());
    assertEquals(want.lastOutcome(), got.lastOutcome());
    assertEquals(want.agentGroups().size(), got.agentGroups().size());
    for (int i = 0; i < want.agentGroups().size(); i++) {
      assertArrayEquals(want.agentGroups().get(i), got.agentGroups().get(i));
    }
  }

  @Test
  void aFailedSyncFailsEveryLaterSyncOfThatInstance() {
    List<Path> synced = new ArrayList<>();
    boolean[] fail = {true};
    Path taskDir = dir.resolve("tasks/9");
    TaskLedger l = new TaskLedger(taskDir, d -> {
      if (fail[0]) throw new java.io.UncheckedIOException(new java.io.IOException("EIO"));
      synced.add(d);
    });
    l.appendUnforced("attempt_started", attempt(1), T);
    assertThrows(java.io.UncheckedIOException.class, l::sync);
    fail[0] = false;
    RuntimeException again = assertThrows(java.io.UncheckedIOException.class, l::sync,
        "a write the kernel lost is reported once: a later success would prove nothing");
    assertTrue(again.getMessage().contains("failed before"), again.getMessage());
    assertEquals(1, l.summary().attempts(), "the line is still there for readers");
  }
}
