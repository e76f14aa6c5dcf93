package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.TaskKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An attempt's start is durable in the start journal before its agent runs, and in its own
 * ledger soon after; a start the ledger lost (power gone between the two) comes back at the
 * next start-up and still counts as a strike.
 */
final class StartJournalTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Instant T = Instant.parse("2026-12-08T01:00:00Z");
  static final TaskKey A = TaskKey.of("ats", 41);
  static final TaskKey B = TaskKey.of("ats", 42);
  @TempDir Path dir;

  private Path journalFile() {
    return dir.resolve(StartJournal.FILE);
  }

  @Test
  void aRecordIsALineUntilSettledAndTheFileIsEmptiedWhenNoneIsLeft() throws Exception {
    StateDir state = new StateDir(dir);
    state.lock();
    StartJournal j = state.journal();
    StartJournal.Entry a = j.record(A, 1, "inst-1", T);
    StartJournal.Entry b = j.record(B, 3, "inst-1", T);
    List<String> lines = Files.readAllLines(journalFile());
    assertEquals(2, lines.size());
    JsonNode first = M.readTree(lines.get(0));
    assertEquals("ats", first.get("source").asText());
    assertEquals("41", first.get("id").asText());
    assertEquals(1, first.get("attempt").asInt());
    assertEquals("inst-1", first.get("instance").asText());
    j.settle(a);
    assertEquals(2, Files.readAllLines(journalFile()).size(), "b is not settled: nothing is cut");
    j.settle(b);
    assertEquals(0, Files.size(journalFile()), "all settled: the journal is emptied");
    j.settle(b); // twice is harmless
    j.record(A, 2, "inst-1", T);
    assertEquals(1, Files.readAllLines(journalFile()).size(), "and written from its start again");
    assertEquals(1, j.unsettled());
    state.close();
  }

  @Test
  void aStartTheLedgerLostIsRestoredAtStartUpAndCountsAsAStrike() throws Exception {
    StateDir state = new StateDir(dir);
    state.lock();
    state.journal().record(A, 1, "inst-1", T); // the agent started; then the power went before the ledger was synced
    state.close();
    assertTrue(!Files.exists(state.ledger(A).file()), "the ledger never reached the disk");

    StateDir next = new StateDir(dir);
    next.lock();
    TaskLedger.Summary s = next.ledger(A).summary();
    assertEquals(1, s.attempts());
    assertEquals(1, s.strikes(), "the lost attempt counts, as if the ledger had kept it");
    JsonNode ev = next.ledger(A).events().get(0);
    assertEquals("attempt_started", ev.get("event").asText());
    assertTrue(ev.get("recovered").asBoolean());
    assertEquals("inst-1", ev.get("instance").asText());
    assertEquals(T.toString(), Instant.parse(ev.get("ts").asText()).toString());
    assertEquals(0, Files.size(journalFile()), "recovered: the journal is emptied");
    next.close();
  }

  @Test
  void aStartTheLedgerKeptIsNotCountedTwice() throws Exception {
    StateDir state = new StateDir(dir);
    state.lock();
    TaskLedger l = state.ledger(A);
    l.appendUnforced("attempt_started", M.createObjectNode().put("attempt", 1).put("instance", "inst-1"), T);
    state.journal().record(A, 1, "inst-1", T); // a kill -9 here: the line is in the ledger, the journal not settled
    l.append("attempt_started", M.createObjectNode().put("attempt", 2).put("instance", "inst-1"), T);
    state.journal().record(A, 2, "inst-1", T);
    state.close();

    StateDir next = new StateDir(dir);
    next.lock();
    TaskLedger.Summary s = next.ledger(A).summary();
    assertEquals(2, s.attempts());
    assertEquals(2, s.strikes());
    assertEquals(2, next.ledger(A).events().size(), "nothing added");
    next.close();
  }

  @Test
  void aTornLastLineNeverStartedItsAgentAndIsIgnored() throws Exception {
    StateDir state = new StateDir(dir);
    state.lock();
    state.journal().record(A, 1, "inst-1", T);
    state.close();
    Files.writeString(journalFile(), "{\"ts\":\"2026-12-08T01:00:00Z\",\"source\":\"ats\",\"id\":\"42\",\"att",
        StandardOpenOption.APPEND);

    StateDir next = new StateDir(dir);
    next.lock();
    assertEquals(1, next.ledger(A).summary().strikes());
    assertEquals(0, next.ledger(B).summary().attempts(), "the torn line's task has no attempt");
    assertTrue(!Files.exists(next.ledger(B).file()));
    next.close();
  }

  @Test
  void aCorruptLineStopsTheStartNamingTheFile() throws Exception {
    Files.writeString(journalFile(), "not json\n{\"ts\":\"2026-12-08T01:00:00Z\"}\n");
    StateDir state = new StateDir(dir);
    RuntimeException e = assertThrows(RuntimeException.class, state::lock);
    assertTrue(e.getMessage().contains(journalFile().toString()) && e.getMessage().contains("line 1")
        && e.getMessage().contains("rather than remove it"), e.getMessage());
    state.close();

    Files.writeString(journalFile(), "{\"ts\":\"yesterday\",\"source\":\"ats\",\"id\":\"41\",\"attempt\":1,\"instance\":\"i\"}\n");
    StateDir again = new StateDir(dir);
    e = assertThrows(RuntimeException.class, again::lock);
    assertTrue(e.getMessage().contains("line 1 is not an attempt's start"), e.getMessage());
    again.close();
  }

  @Test
  void aRecordAfterARestartCutsATornLineFirst() throws Exception {
    Files.writeString(journalFile(), "{\"ts\":\"2026-12-08T01:00:00Z\",\"sou");
    StartJournal j = new StartJournal(dir);
    j.record(A, 1, "inst-2", T);
    List<String> lines = Files.readAllLines(journalFile());
    assertEquals(1, lines.size(), lines.toString());
    assertEquals("41", M.readTree(lines.get(0)).get("id").asText());
    j.close();
  }

  @Test
  void aStartThatNeverSettlesKeepsTheFileSmallNotEveryLineSinceIt() throws Exception {
    StateDir state = new StateDir(dir);
    state.lock();
    StartJournal j = state.journal();
    j.record(B, 1, "inst-1", T); // its ledger cannot be synced, say: never settled
    for (int i = 0; i < 3 * StartJournal.COMPACT_AFTER + 5; i++) {
      j.settle(j.record(TaskKey.of("ats", 1000 + i), 1, "inst-1", T));
    }
    List<String> lines = Files.readAllLines(journalFile());
    assertTrue(lines.size() <= StartJournal.COMPACT_AFTER + 1, lines.size() + " lines");
    assertEquals("42", M.readTree(lines.get(0)).get("id").asText(), "the unsettled start is kept, first");
    assertEquals(1, j.unsettled());
    assertTrue(!Files.exists(dir.resolve(StartJournal.FILE + ".tmp")));
    state.close();

    StateDir next = new StateDir(dir);
    next.lock();
    assertEquals(1, next.ledger(B).summary().strikes(), "and restored at the next start");
    next.close();
  }

  @Test
  void aCorruptLedgerDoesNotStopTheStartUp() throws Exception {
    StateDir state = new StateDir(dir);
    state.lock();
    state.journal().record(A, 1, "inst-1", T);
    state.journal().record(B, 1, "inst-1", T);
    state.close();
    Path a = state.ledger(A).file();
    Files.createDirectories(a.getParent());
    Files.writeString(a, "garbage\n{\"event\":\"reset\"}\n");

    StateDir next = new StateDir(dir);
    next.lock();
    assertEquals(1, next.ledger(B).summary().strikes(), "the other task's start is restored");
    assertThrows(RuntimeException.class, () -> next.ledger(A).summary(), "the corrupt one still says so when read");
    List<String> left = Files.readAllLines(journalFile());
    assertEquals(1, left.size(), "its start stays in the journal until the ledger is fixed");
    assertEquals("41", M.readTree(left.get(0)).get("id").asText());
    next.close();

    Files.writeString(a, "{\"event\":\"reset\"}\n"); // a human fixed the ledger
    StateDir fixed = new StateDir(dir);
    fixed.lock();
    assertEquals(1, fixed.ledger(A).summary().strikes(), "and the start is restored at the start-up after that");
    assertEquals(0, Files.size(journalFile()));
    fixed.close();
  }
}
