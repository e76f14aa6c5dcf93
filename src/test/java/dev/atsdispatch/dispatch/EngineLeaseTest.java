package dev.atsdispatch.dispatch;

import static dev.atsdispatch.testing.FakeAgentRunner.hang;
import static dev.atsdispatch.testing.FakeAgentRunner.succeed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeAgentRunner;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.FakeTaskSource;
import dev.atsdispatch.testing.FakeTaskSource.Call;
import dev.atsdispatch.testing.FakeTaskSource.Fault;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Leases through the whole engine, on the fake clock with a 3 s lease (renew every 1 s, fence at
 * the last success + 2.7 s): issue defects 1 (no local lease deadline) and 6 (renewals after the
 * report, piling up, late refusals).
 */
@Timeout(30)
final class EngineLeaseTest {
  @TempDir Path dir;
  final List<EngineHarness> engines = new ArrayList<>();

  @AfterEach
  void stop() {
    engines.forEach(EngineHarness::close);
  }

  EngineHarness engine(FakeClock clock, FakeTaskSource source, FakeAgentRunner runner, String name) {
    EngineHarness h = new EngineHarness(clock, source, runner, EngineHarness.config(dir.resolve(name)).build(), Intake.PLAIN);
    engines.add(h);
    return h.start();
  }

  static void awaitCalls(FakeTaskSource s, Op op, TaskKey k, int n) {
    Wait.until(n + " " + op + " call(s) of " + k + " to be answered",
        () -> s.calls(op, k).stream().filter(Call::ended).count() >= n);
  }

  // ---- defect 1 ------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"timeout", "503", "429"})
  void renewalsFailingRetryablyStopTheAgentAtTheLocalDeadlineAndAnotherEngineRunsTheTaskAfterExpiry(String flavour) {
    FakeClock clock = new FakeClock();
    FakeTaskSource.Store store = new FakeTaskSource.Store(clock);
    FakeTaskSource a = store.view("a");
    FakeTaskSource b = store.view("b");
    FakeAgentRunner runner = new FakeAgentRunner(clock); // shared: it sees runs of both engines
    EngineHarness ea = engine(clock, a, runner, "a");
    EngineHarness eb = engine(clock, b, runner, "b");
    TaskKey k = store.add(1);
    runner.script(k, hang(), succeed("done by b"));
    Fault f = Fault.on(Op.RENEW).key(k).forFakeTime(Duration.ofMinutes(10)); // ATS unreachable for renewals
    a.inject(flavour.equals("timeout") ? f.timeout() : flavour.equals("503") ? f.http503() : f.http429());

    a.offer(k);
    Wait.until("the agent to start on a", () -> runner.starts(k).size() == 1);
    FakeAgentRunner.Run first = runner.starts(k).get(0);
    clock.advance(Duration.ofSeconds(1));
    awaitCalls(a, Op.RENEW, k, 1);
    clock.advance(Duration.ofSeconds(1));
    awaitCalls(a, Op.RENEW, k, 2);
    assertFalse(first.stopped(), "stopped before the local deadline");
    clock.advance(Duration.ofMillis(700)); // claim + 3 s - 0.3 s margin
    Wait.until("the agent to be stopped at the local deadline", first::stopped);
    assertTrue(first.stopReason().contains("lease deadline"), first.stopReason());
    Wait.until("a to count the lost lease", () -> ea.engine.stats().leaseLost.get() == 1);
    assertEquals(0, a.count(Op.COMPLETE, k) + a.count(Op.FAIL, k), "something was reported after the fence");
    assertEquals(0, ea.engine.stats().completed.get());

    clock.advance(Duration.ofMillis(300)); // ATS takes the task back at claim + 3 s
    assertEquals(List.of(k), store.expireLeases(false));
    b.offer(k, SourceEvent.Why.LEASE_EXPIRED); // a cannot hear ATS: only b is told
    Wait.until("b to complete the task", () -> store.status(k) == TaskStatus.COMPLETED);
    assertEquals(1, b.count(Op.COMPLETE, k));
    assertEquals(0, a.count(Op.COMPLETE, k) + a.count(Op.FAIL, k) + a.count(Op.RELEASE, k));
    assertEquals(2, runner.starts(k).size());
    assertEquals(1, runner.maxConcurrent(k), "the task ran on both engines at once");
    assertTrue(first.endedSeq() < runner.starts(k).get(1).seq, "b started before a's agent was gone");
    assertEquals(0, ea.summary(k).strikes(), "a lost lease is no strike");
    int renewals = a.count(Op.RENEW, k);
    clock.advance(Duration.ofSeconds(5));
    awaitCalls(b, Op.COMPLETE, k, 1);
    assertEquals(renewals, a.count(Op.RENEW, k), "a renewed after the fence");
  }

  @Test
  void aRenewalThatSucceedsLateStillMovesTheDeadline() {
    FakeClock clock = new FakeClock();
    FakeTaskSource src = new FakeTaskSource(clock);
    FakeAgentRunner runner = new FakeAgentRunner(clock);
    engine(clock, src, runner, "e");
    TaskKey k = src.add(1);
    runner.script(k, hang());
    src.inject(Fault.on(Op.RENEW).key(k).times(1).http503());
    src.offer(k);
    Wait.until("the agent to start", () -> runner.starts(k).size() == 1);
    clock.advance(Duration.ofSeconds(1));
    awaitCalls(src, Op.RENEW, k, 1); // fails
    clock.advance(Duration.ofSeconds(1));
    awaitCalls(src, Op.RENEW, k, 2); // succeeds, sent at 2 s: the deadline moves to 4.7 s
    clock.advance(Duration.ofMillis(800)); // 2.8 s: past the first deadline
    clock.advance(Duration.ofMillis(200)); // 3 s: the next renewal is due
    awaitCalls(src, Op.RENEW, k, 3);
    assertFalse(runner.starts(k).get(0).stopped(), "fenced although a renewal had succeeded");
  }

  // ---- defect 6 ------------------------------------------------------------------------------

  @Test
  void theReportWaitsForTheRenewalInFlightAndNoRenewalFollowsIt() {
    FakeClock clock = new FakeClock();
    FakeTaskSource src = new FakeTaskSource(clock);
    FakeAgentRunner runner = new FakeAgentRunner(clock);
    EngineHarness h = engine(clock, src, runner, "e");
    TaskKey k = src.add(1);
    TaskKey witness = src.add(2);
    runner.script(k, hang());
    runner.script(witness, hang());
    Fault slow = src.inject(Fault.on(Op.RENEW).key(k).times(1).holdAnswer()); // renewed, but the answer is slow
    src.offer(k);
    src.offer(witness);
    Wait.until("both agents to start", () -> runner.starts().size() == 2);
    clock.advance(Duration.ofSeconds(1));
    Wait.until("the renewal to be in flight", () -> slow.gate().waiting() == 1);
    runner.starts(k).get(0).finish(0, "the answer");
    Wait.until("the runner to wait for the renewal before reporting",
        () -> Wait.threadIn("dispatch-run", "LeaseKeeper.close"));
    assertEquals(0, src.count(Op.COMPLETE, k), "reported while a renewal was in flight");
    slow.gate().open();
    Wait.until("the task to be completed", () -> src.store().status(k) == TaskStatus.COMPLETED);
    long completeSeq = src.calls(Op.COMPLETE, k).get(0).seq;
    for (Call r : src.calls(Op.RENEW, k)) {
      assertTrue(r.endSeq() >= 0 && r.endSeq() < completeSeq, "a renewal overlapped or followed the report: " + r);
    }
    int renewals = src.count(Op.RENEW, k);
    for (int i = 2; i <= 3; i++) { // the witness keeps renewing: the tickers run, but k's has stopped
      clock.advance(Duration.ofSeconds(1));
      awaitCalls(src, Op.RENEW, witness, i);
    }
    assertEquals(renewals, src.count(Op.RENEW, k), "renewed after the result was reported");
    assertEquals(1, src.count(Op.COMPLETE, k));
    Wait.until("the completion to be counted", () -> h.engine.stats().completed.get() == 1);
  }

  @Test
  void renewalsNeverPileUpOnASlowSource() {
    FakeClock clock = new FakeClock();
    FakeTaskSource src = new FakeTaskSource(clock);
    FakeAgentRunner runner = new FakeAgentRunner(clock);
    EngineHarness h = engine(clock, src, runner, "e");
    TaskKey k = src.add(1);
    TaskKey witness = src.add(2);
    runner.script(k, hang());
    runner.script(witness, hang());
    Fault slow = src.inject(Fault.on(Op.RENEW).key(k).hold());
    src.offer(k);
    src.offer(witness);
    Wait.until("both agents to start", () -> runner.starts().size() == 2);
    clock.advance(Duration.ofSeconds(1));
    Wait.until("k's renewal to hang", () -> slow.gate().waiting() == 1);
    awaitCalls(src, Op.RENEW, witness, 1);
    clock.advance(Duration.ofSeconds(1)); // another period: k's keeper must not send a second one
    awaitCalls(src, Op.RENEW, witness, 2);
    clock.advance(Duration.ofMillis(500));
    clock.advance(Duration.ofMillis(200)); // k's local deadline: fenced, as no renewal answered
    Wait.until("k to be fenced", () -> runner.starts(k).get(0).stopped());
    assertEquals(1, src.count(Op.RENEW, k), "renewals piled up behind the slow one");
    assertEquals(1, src.maxInFlight(Op.RENEW, k));
    assertEquals(2, src.count(Op.RENEW, witness), "the slow renewal held back another task's renewals");
    slow.gate().open();
    Wait.until("a to count the lost lease", () -> h.engine.stats().leaseLost.get() == 1);
    assertEquals(0, src.count(Op.COMPLETE, k) + src.count(Op.FAIL, k));
  }

  @Test
  void aLateRenewalRefusalAfterTheAgentFinishedIsNoLostLease() {
    FakeClock clock = new FakeClock();
    FakeTaskSource src = new FakeTaskSource(clock);
    FakeAgentRunner runner = new FakeAgentRunner(clock);
    EngineHarness h = engine(clock, src, runner, "e");
    TaskKey k = src.add(1);
    runner.script(k, hang());
    Fault late = src.inject(Fault.on(Op.RENEW).key(k).times(1).hold().conflict("task 1 is completed"));
    src.offer(k);
    Wait.until("the agent to start", () -> runner.starts(k).size() == 1);
    clock.advance(Duration.ofSeconds(1));
    Wait.until("the renewal to be in flight", () -> late.gate().waiting() == 1);
    runner.starts(k).get(0).finish(0, "the answer");
    Wait.until("the runner to stop the keeper before reporting", () -> Wait.threadIn("dispatch-run", "LeaseKeeper.close"));
    late.gate().open();
    Wait.until("the task to be completed", () -> src.store().status(k) == TaskStatus.COMPLETED);
    Wait.until("the runner to end", () -> h.engine.runningNow() == 0);
    assertEquals(0, h.engine.stats().leaseLost.get(), "a refusal after the agent finished counted as a lost lease");
    assertEquals(1, h.engine.stats().completed.get());
    assertEquals(1, src.count(Op.COMPLETE, k));
    assertFalse(h.ledgerEvents(k).contains("lease_lost"));
  }
}
