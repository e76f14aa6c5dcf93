package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue defect 7: every loop task is guarded (one task's failure neither aborts the rest of a
 * listing page nor leaves a ghost entry), and the gauges never wait for the loop.
 */
@Timeout(30)
final class EngineLoopTest {
  @TempDir Path dir;
  EngineHarness h;
  final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void stop() {
    release.countDown();
    if (h != null) h.close();
  }

  /** Fails the first opening of task 3 (throws) and of task 5 (a view without a payload); the rest are plain. */
  static Intake flaky(Set<String> failedOnce) {
    return new Intake() {
      @Override
      public Opened open(SourceTask raw) {
        String id = raw.key().id();
        if (id.equals("3") && failedOnce.add(id)) throw new IllegalStateException("key file being edited");
        if (id.equals("5") && failedOnce.add(id)) {
          return new Run(new TaskView(raw.key(), raw.title(), raw.description(), null, null, null));
        }
        return new Run(TaskView.plain(raw));
      }

      @Override
      public Registration register(TaskKey key, String publicKey) {
        return new Refused("no", false);
      }
    };
  }

  @Test
  void aTaskThatFailsAdmissionDoesNotStopTheRestOfItsPageAndTheNextReconcileRetriesIt() {
    Set<String> failedOnce = ConcurrentHashMap.newKeySet();
    h = EngineHarness.withIntake(dir, EngineHarness.config(dir), flaky(failedOnce)).start();
    List<TaskKey> keys = new ArrayList<>();
    for (int i = 1; i <= 8; i++) keys.add(h.source.add(i));
    h.source.pushConnected(); // reconcile: one page of 8
    Wait.until("the six healthy tasks to be completed", () -> keys.stream()
        .filter(k -> h.source.store().status(k) == TaskStatus.COMPLETED).count() == 6);
    assertEquals(Set.of("3", "5"), failedOnce);
    TaskKey three = keys.get(2);
    TaskKey five = keys.get(4);
    assertEquals(0, h.source.count(Op.CLAIM, three) + h.source.count(Op.CLAIM, five));
    assertEquals(TaskStatus.PENDING, h.source.store().status(three));

    h.source.pushConnected(); // the next reconcile offers them again: nothing was left behind for them
    Wait.until("3 and 5 to be completed", () -> h.source.store().status(three) == TaskStatus.COMPLETED
        && h.source.store().status(five) == TaskStatus.COMPLETED);
    for (TaskKey k : keys) {
      assertEquals(1, h.source.count(Op.CLAIM, k), "claims of " + k);
      assertEquals(1, h.runner.starts(k).size(), "runs of " + k);
      assertEquals(1, h.source.count(Op.COMPLETE, k), "reports of " + k);
    }
  }

  @Test
  void gaugesAndMetricsAnswerWhileTheLoopIsBlocked() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    Intake blocking = new Intake() {
      @Override
      public Opened open(SourceTask raw) {
        if (raw.key().id().equals("1")) {
          entered.countDown();
          try {
            release.await(20, TimeUnit.SECONDS); // a stuck intake: the loop thread is held here
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return new Run(TaskView.plain(raw));
      }

      @Override
      public Registration register(TaskKey key, String publicKey) {
        return new Refused("no", false);
      }
    };
    h = EngineHarness.withIntake(dir, EngineHarness.config(dir), blocking).start();
    TaskKey k = h.source.add(1);
    h.source.offer(k);
    assertTrue(entered.await(5, TimeUnit.SECONDS), "the intake was not called");
    assertTimeoutPreemptively(Duration.ofSeconds(1), () -> {
      h.engine.runningNow();
      h.engine.queuedNow();
      h.engine.deferredNow();
      h.engine.outboxDepth();
      h.engine.metrics().registry().scrape();
    }, "a gauge or a scrape waited for the blocked loop");
    release.countDown();
    Wait.until("the task to run once the loop is free", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
  }
}
