package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.FakeTaskSource;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The engine's basic way on fakes, duplicated and lost events, and the fake source's ATS rules. */
@Timeout(30)
final class EngineCoreTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  @Test
  void aTaskOfferedRunsOnceAndIsCompletedOnce() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.source.offer(k);
    Wait.until("the task to be completed", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
    assertEquals(1, h.source.count(Op.CLAIM, k));
    assertEquals(1, h.source.count(Op.COMPLETE, k));
    assertEquals(1, h.runner.starts(k).size());
    assertEquals("ok", h.source.store().rec(k).outputs.get(0).path("response").asText());
  }

  @Test
  void anAttemptsStartIsSettledAsSoonAsItsAgentRunsNotWhenItEnds() throws Exception {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, dev.atsdispatch.testing.FakeAgentRunner.hang());
    h.source.offer(k);
    Wait.until("the agent to start", () -> h.runner.starts(k).size() == 1);
    Wait.until("its start to be settled while it runs", () -> h.state.journal().unsettled() == 0);
    assertEquals(java.util.List.of("attempt_started", "agent_started"), h.ledgerEvents(k));
    assertEquals(0, java.nio.file.Files.size(h.state.root().resolve(StartJournal.FILE)), "emptied: nothing unsettled");
  }

  @Test
  void aDuplicatedOfferRunsTheTaskOnce() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    TaskKey witness = h.source.add(2);
    h.runner.script(k, dev.atsdispatch.testing.FakeAgentRunner.hang());
    h.source.duplicateNext(1);
    h.source.offer(k);
    h.source.offer(witness);
    Wait.until("the witness to be completed", () -> h.source.store().status(witness) == TaskStatus.COMPLETED);
    assertEquals(1, h.source.count(Op.CLAIM, k));
    assertEquals(1, h.runner.starts(k).size());
  }

  @Test
  void aLostOfferIsFoundByTheNextReconcile() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.source.dropNext(1);
    h.source.offer(k);
    h.source.pushConnected();
    Wait.until("the task to be completed", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
    assertEquals(1, h.source.count(Op.CLAIM, k));
  }

  @Test
  void theFakeFollowsAtsClaimRules() {
    FakeClock clock = new FakeClock();
    FakeTaskSource.Store store = new FakeTaskSource.Store(clock);
    FakeTaskSource a = store.view("a");
    FakeTaskSource b = store.view("b");
    TaskKey k = store.add(1);
    Lease la = a.claim(k, Duration.ofSeconds(3));
    assertEquals(SourceException.Kind.CONFLICT, assertThrows(SourceException.class, () -> b.claim(k, Duration.ofSeconds(3))).kind());
    a.claim(k, Duration.ofSeconds(3)); // the holder's re-claim renews
    Lease lb = b.held(k);
    assertEquals(SourceException.Kind.CONFLICT, assertThrows(SourceException.class, () -> lb.complete(List.of())).kind());
    clock.advance(Duration.ofSeconds(3));
    assertEquals(SourceException.Kind.CONFLICT, assertThrows(SourceException.class, () -> la.renew(Duration.ofSeconds(3))).kind());
    assertEquals(TaskStatus.PENDING, a.status(k));
    Lease lb2 = b.claim(k, Duration.ofSeconds(3));
    lb2.fail("no");
    assertEquals(SourceException.Kind.CONFLICT, assertThrows(SourceException.class, () -> lb2.renew(Duration.ofSeconds(3))).kind());
    assertEquals(SourceException.Kind.CONFLICT, assertThrows(SourceException.class, () -> a.claim(k, Duration.ofSeconds(3))).kind());
    assertEquals(SourceException.Kind.NOT_FOUND, assertThrows(SourceException.class, () -> a.status(store.key(99))).kind());
    assertEquals(TaskStatus.FAILED, store.status(k));
    assertEquals(2, store.rec(k).claims);
  }

  @Test
  void theFakeScriptsFaultsByCountAndByFakeTime() {
    FakeClock clock = new FakeClock();
    FakeTaskSource s = new FakeTaskSource(clock);
    TaskKey k = s.add(1);
    s.inject(FakeTaskSource.Fault.on(Op.STATUS).times(2).http429());
    s.inject(FakeTaskSource.Fault.on(Op.NOTE).forFakeTime(Duration.ofMinutes(10)).timeout());
    assertThrows(SourceException.class, () -> s.status(k));
    assertThrows(SourceException.class, () -> s.status(k));
    assertEquals(TaskStatus.PENDING, s.status(k));
    assertThrows(SourceException.class, () -> s.note(k, "x", 1, true));
    clock.advance(Duration.ofMinutes(10));
    s.note(k, "x", 1, true);
    assertEquals(List.of("UNAVAILABLE", "UNAVAILABLE", "ok"), s.calls(Op.STATUS, k).stream().map(c -> c.result()).toList());
    assertEquals(new dev.atsdispatch.source.TaskSource.SharedAttempts(1, 1), s.sharedAttempts(k, null));
  }
}
