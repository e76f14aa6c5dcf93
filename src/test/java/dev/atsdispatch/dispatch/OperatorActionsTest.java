package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeAgentRunner;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's actions on the engine, on fakes: cancel fails the task with no strike; give
 * back releases it with no strike and leaves it to others until the hold ends (back-dated by the
 * fake clock); neither touches a task that does not run here.
 */
@Timeout(30)
final class OperatorActionsTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  @Test
  void cancelStopsTheAgentAndFailsTheTaskWithoutAStrike() throws Exception {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, FakeAgentRunner.hang());
    h.source.offer(k);
    Wait.until("the agent to run", () -> h.engine.runningNow() == 1 && h.runner.starts(k).size() == 1);
    assertTrue(h.engine.operatorStop(k, false).get());
    Wait.until("the task to fail", () -> h.source.store().status(k) == TaskStatus.FAILED);
    assertEquals(AttemptRunner.OPERATOR_CANCEL_REASON, h.source.store().rec(k).reason);
    assertEquals(0, h.summary(k).strikes());
    assertEquals(1, h.engine.recent().failures().size());
    assertEquals("cancelled", h.engine.recent().failures().get(0).kind());
    assertFalse(h.engine.operatorStop(k, false).get(), "nothing runs any more");
  }

  @Test
  void giveBackReleasesWithoutAStrikeAndLeavesTheTaskToOthersForAWhile() throws Exception {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    TaskKey witness = h.source.add(2);
    h.runner.script(k, FakeAgentRunner.hang());
    h.source.offer(k);
    Wait.until("the agent to run", () -> h.runner.starts(k).size() == 1);
    assertTrue(h.engine.operatorStop(k, true).get());
    Wait.until("the task to be pending again", () -> h.source.store().status(k) == TaskStatus.PENDING
        && h.engine.runningNow() == 0);
    assertEquals(1, h.source.count(Op.RELEASE, k));
    assertEquals(0, h.summary(k).strikes());
    assertTrue(h.ledgerEvents(k).contains("released"));
    // offered again within the hold: not taken (a witness offered after it runs, so the offer was seen)
    h.source.offer(k);
    h.source.offer(witness);
    Wait.until("the witness to complete", () -> h.source.store().status(witness) == TaskStatus.COMPLETED);
    assertEquals(1, h.source.count(Op.CLAIM, k));
    // the hold over, the next offer is taken
    h.runner.script(k, FakeAgentRunner.succeed("done"));
    h.clock.advance(Engine.GIVE_BACK_HOLD.plus(Duration.ofSeconds(1)));
    h.source.offer(k);
    Wait.until("the task to complete", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
    assertEquals(2, h.source.count(Op.CLAIM, k));
  }
}
