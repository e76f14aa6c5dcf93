package dev.atsdispatch.dispatch;

import static dev.atsdispatch.testing.FakeAgentRunner.hang;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeTaskSource.Call;
import dev.atsdispatch.testing.FakeTaskSource.Fault;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue defect 12: a cancel during the claim, a task finished elsewhere while it runs here, and a
 * worker's late removal of a stale entry.
 */
@Timeout(30)
final class EngineRaceTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  @Test
  void aCancelDuringTheClaimPostsNoProgressNoteAndNoPickedUpNotice() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    TaskKey witness = h.source.add(2);
    h.runner.script(witness, hang());
    Fault slowClaim = h.source.inject(Fault.on(Op.CLAIM).key(k).times(1).holdAnswer()); // claimed; the answer is slow
    h.source.offer(k);
    Wait.until("the claim to be under way", () -> slowClaim.gate().waiting() == 1);
    h.source.cancel(k);
    h.source.offer(witness); // handled after the cancel: once it is claimed, the loop has seen the cancel
    Wait.until("the witness to be claimed", () -> h.source.count(Op.CLAIM, witness) == 1);
    slowClaim.gate().open();
    Wait.until("the cancelled claim to end", () -> h.engine.stats().cancelled.get() == 1);
    assertEquals(0, h.source.count(Op.NOTE, k), "a progress note was posted for a cancelled task");
    assertEquals(0, h.observer.of("picked_up", k).size(), "a picked-up notice went out for a cancelled task");
    assertEquals(0, h.runner.starts(k).size(), "an agent ran for a cancelled task");
    assertEquals(0, h.source.count(Op.COMPLETE, k) + h.source.count(Op.FAIL, k));
  }

  @Test
  void aRunningTaskFinishedElsewhereIsStoppedAtOnceAndNothingIsReported() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, hang());
    h.source.offer(k);
    Wait.until("the agent to start", () -> h.runner.starts(k).size() == 1);
    h.source.store().finishElsewhere(k, TaskStatus.COMPLETED);
    h.source.statusChanged(k, TaskStatus.COMPLETED); // no clock moves: no renewal can tell
    Wait.until("the agent to be stopped", () -> h.runner.starts(k).get(0).stopped());
    Wait.until("the runner to end", () -> h.engine.runningNow() == 0);
    assertTrue(h.runner.starts(k).get(0).stopReason().contains("completed elsewhere"), h.runner.starts(k).get(0).stopReason());
    assertEquals(0, h.source.count(Op.COMPLETE, k) + h.source.count(Op.FAIL, k) + h.source.count(Op.RELEASE, k),
        "reported or released a task finished elsewhere");
    assertEquals(0, h.source.count(Op.RENEW, k));
    assertEquals(0, h.summary(k).strikes());
    assertEquals(TaskStatus.COMPLETED, h.source.store().status(k));
  }

  /**
   * The first offer is refused by the intake (a sender key not yet trusted) and is claimed only
   * to be failed; that claim is slow and then conflicts. Meanwhile the key is trusted and a
   * second offer runs the task. The quick claim's late clean-up must not drop the running
   * entry: a third (duplicate) offer must not start the task a second time.
   */
  @Test
  void aStaleEntryRemovalNeverDeletesANewerEntryForTheSameTask() {
    AtomicBoolean trusted = new AtomicBoolean(false);
    Intake intake = new Intake() {
      @Override
      public Opened open(SourceTask raw) {
        return trusted.get() ? new Run(TaskView.plain(raw)) : new Reject("sender key not trusted", TaskObserver.Failure.DECRYPTION);
      }

      @Override
      public Registration register(TaskKey key, String publicKey) {
        return new Refused("no", false);
      }
    };
    h = EngineHarness.withIntake(dir, EngineHarness.config(dir), intake).start();
    TaskKey k = h.source.add(1);
    TaskKey witness = h.source.add(2);
    h.runner.script(k, hang());
    Fault quickClaim = h.source.inject(Fault.on(Op.CLAIM).key(k).times(1).hold().conflict("task 1 is in_progress (held by b)"));
    h.source.offer(k);
    Wait.until("the quick claim to be under way", () -> quickClaim.gate().waiting() == 1);

    trusted.set(true);
    h.source.offer(k, SourceEvent.Why.LISTED); // held here while its quick claim is in flight: dropped
    h.source.offer(witness);
    Wait.until("the witness to be claimed", () -> h.source.count(Op.CLAIM, witness) == 1);
    assertEquals(1, h.source.count(Op.CLAIM, k), "an offer during the quick claim claimed the task again");
    quickClaim.gate().open();
    Call first = h.source.calls(Op.CLAIM, k).get(0);
    Wait.until("the quick claim to fail", () -> "CONFLICT".equals(first.result()));
    Wait.idle(first.thread); // its clean-up is handed to the loop before this thread is idle

    h.source.offer(k, SourceEvent.Why.LISTED); // the next listing: now trusted, it runs
    Wait.until("the task to run", () -> h.runner.starts(k).size() == 1);
    TaskKey witness2 = h.source.add(3);
    h.source.offer(k, SourceEvent.Why.LISTED); // a duplicate while it runs
    h.source.offer(witness2);
    Wait.until("the second witness to be claimed", () -> h.source.count(Op.CLAIM, witness2) == 1);
    assertEquals(2, h.source.count(Op.CLAIM, k), "the duplicate offer claimed the running task again");
    assertEquals(1, h.runner.starts(k).size(), "the duplicate offer started the task again");
    assertEquals(1, h.runner.maxConcurrent(k));
    assertEquals(0, h.source.count(Op.FAIL, k), "the refusal of the stale offer was reported");
    h.runner.starts(k).get(0).finish(0, "done");
    Wait.until("the task to be completed", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
    assertEquals(1, h.source.count(Op.COMPLETE, k));
  }
}
