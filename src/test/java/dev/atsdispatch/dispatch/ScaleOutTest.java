package dev.atsdispatch.dispatch;

import static dev.atsdispatch.testing.FakeAgentRunner.hang;
import static org.junit.jupiter.api.Assertions.assertEquals;
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

/**
 * Two engines on one fake ATS, as two services with their own actor ids: a task never runs on
 * both at once, and the strike count is shared through the task's thread.
 */
@Timeout(30)
final class ScaleOutTest {
  @TempDir Path dir;
  final List<EngineHarness> engines = new ArrayList<>();
  FakeClock clock = new FakeClock();
  FakeTaskSource.Store store = new FakeTaskSource.Store(clock);
  FakeAgentRunner runner = new FakeAgentRunner(clock); // one runner: it sees the runs of both engines

  @AfterEach
  void stop() {
    engines.forEach(EngineHarness::close);
  }

  EngineHarness engine(String actor, ServiceConfig.Builder b) {
    EngineHarness h = new EngineHarness(clock, store.view(actor), runner, b.build(), Intake.PLAIN);
    engines.add(h);
    return h.start();
  }

  @Test
  void twoEnginesOfferedTheSameTasksRunEachExactlyOnce() {
    ServiceConfig.Builder cfg = EngineHarness.config(dir.resolve("a"));
    cfg.concurrency = 8;
    EngineHarness a = engine("a", cfg);
    ServiceConfig.Builder cfgB = EngineHarness.config(dir.resolve("b"));
    cfgB.concurrency = 8;
    EngineHarness b = engine("b", cfgB);
    List<TaskKey> keys = new ArrayList<>();
    for (int i = 1; i <= 200; i++) keys.add(store.add(i));
    for (TaskKey k : keys) { // both hear of every task, in opposite orders for half of them
      if (k.numericId() % 2 == 0) {
        a.source.offer(k);
        b.source.offer(k);
      } else {
        b.source.offer(k);
        a.source.offer(k);
      }
    }
    a.source.pushConnected(); // and a reconcile on each, meanwhile
    b.source.pushConnected();
    Wait.until("every task to be completed", () -> keys.stream().allMatch(k -> store.status(k) == TaskStatus.COMPLETED));
    for (TaskKey k : keys) {
      assertEquals(1, runner.starts(k).size(), "runs of " + k);
      assertEquals(1, store.calls(Op.COMPLETE, k).size(), "reports of " + k);
    }
    assertEquals(1, runner.maxConcurrentAnyTask(), "a task ran twice at once");
    Wait.until("both engines to count their completions",
        () -> a.engine.stats().completed.get() + b.engine.stats().completed.get() == 200);
  }

  /** An engine that lost ATS mid-attempt: every call fails, so it fences and cannot even say the attempt did not count. */
  static void goDark(FakeTaskSource s) {
    for (Op op : Op.values()) s.inject(Fault.on(op).timeout());
  }

  void runUntilFenced(EngineHarness h, TaskKey k, int attempt) {
    Wait.until("attempt " + attempt + " to start on " + h.source.actor(),
        () -> runner.starts(k).size() == attempt && runner.starts(k).get(attempt - 1).attempt == attempt);
    Wait.until("the attempt's note to be posted", () -> h.source.calls(Op.NOTE, k).stream()
        .anyMatch(c -> "ok".equals(c.result()) && c.detail != null && c.detail.contains("attempt " + attempt)));
    goDark(h.source);
    for (int i = 1; i <= 2; i++) {
      int failures = h.source.count(Op.RENEW, k);
      clock.advance(Duration.ofSeconds(1));
      Wait.until("a renewal to fail", () -> h.source.calls(Op.RENEW, k).stream().filter(Call::ended).count() > failures);
    }
    clock.advance(Duration.ofMillis(700));
    Wait.until("the attempt to be fenced", () -> runner.starts(k).get(attempt - 1).stopped());
    Wait.until("the engine to give the task up", () -> h.engine.runningNow() == 0);
    clock.advance(Duration.ofMillis(300));
    assertEquals(List.of(k), store.expireLeases(false));
  }

  @Test
  void strikesAreSharedThroughTheTaskThreadAndTheLimitHoldsAcrossEngines() {
    ServiceConfig.Builder ca = EngineHarness.config(dir.resolve("a"));
    ca.maxAttempts = 2;
    ServiceConfig.Builder cb = EngineHarness.config(dir.resolve("b"));
    cb.maxAttempts = 2;
    EngineHarness a = engine("a", ca);
    EngineHarness b = engine("b", cb);
    TaskKey k = store.add(1);
    runner.script(k, hang(), hang());

    a.source.offer(k);
    runUntilFenced(a, k, 1); // a's attempt 1 counts on the thread: a could not post that it did not
    b.source.offer(k, SourceEvent.Why.LEASE_EXPIRED);
    runUntilFenced(b, k, 2); // b saw a's attempt: this is attempt 2, and it counts the same way

    a.source.clearFaults(); // a is back; so is the task
    a.source.offer(k, SourceEvent.Why.LEASE_EXPIRED);
    Wait.until("a to fail the task as poisoned", () -> store.status(k) == TaskStatus.FAILED);
    assertEquals("poison: 2 attempts", store.rec(k).reason);
    assertEquals(2, runner.starts(k).size(), "a third attempt ran past the limit");
    assertEquals(1, a.engine.stats().poisoned.get());
    assertEquals(0, a.summary(k).strikes(), "a's own ledger counts no strike (its attempt was fenced)");
    assertEquals(1, runner.maxConcurrent(k));
    assertTrue(b.source.calls(Op.FAIL, k).isEmpty());
  }
}
