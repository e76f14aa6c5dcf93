package dev.atsdispatch.dispatch;

import static dev.atsdispatch.testing.FakeAgentRunner.exit;
import static dev.atsdispatch.testing.FakeAgentRunner.hang;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shutdown on fakes: issue defect 3 (a shutdown during a retry backoff gives the task back) and
 * defect 12's events after shutdown.
 */
@Timeout(30)
final class EngineShutdownTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  void assertGivenBackWithOneStrike(TaskKey k) {
    assertEquals(1, h.source.calls(Op.RELEASE, k).stream().filter(c -> "ok".equals(c.result())).count(),
        "the task was not given back once");
    assertEquals(0, h.source.count(Op.COMPLETE, k) + h.source.count(Op.FAIL, k), "something was reported");
    assertEquals(TaskStatus.PENDING, h.source.store().status(k));
    assertEquals(1, h.summary(k).strikes(), "the interruption counted as a strike (or attempt 1 did not)");
    assertTrue(h.ledgerEvents(k).contains("released"));
    assertEquals(0, h.engine.stats().failed.get());
  }

  @Test
  void shutdownDuringARetryBackoffGivesTheTaskBack() {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.retries = 1;
    b.retryBackoff = Duration.ofHours(1);
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, exit(1, "flaky"), hang());
    h.source.offer(k);
    Wait.until("the runner to wait out the retry backoff", () -> Wait.threadIn("dispatch-run", "Claim.sleep"));
    h.shutdown();
    assertGivenBackWithOneStrike(k);
    assertEquals(1, h.runner.starts(k).size(), "a retry started during shutdown");
  }

  /**
   * The old engine's case: the backoff ends while shutdown drains (accepting is already off). The
   * task must still be given back, not dropped to wait out its lease.
   */
  @Test
  void aBackoffThatEndsDuringTheDrainStillGivesTheTaskBack() throws Exception {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.retries = 1;
    b.retryBackoff = Duration.ofMillis(300);
    b.drain = Duration.ofSeconds(2); // on the fake clock: it lasts until the test moves the clock
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, exit(1, "flaky"), hang());
    h.source.offer(k);
    Wait.until("the runner to wait out the retry backoff", () -> Wait.threadIn("dispatch-run", "Claim.sleep"));
    Thread shutdown = new Thread(h.engine::shutdown, "test-shutdown");
    shutdown.start();
    Wait.until("shutdown to drain", () -> Wait.threadIn("test-shutdown", "Engine.sleep"));
    Wait.until("the backoff to end during the drain", () -> !Wait.threadIn("dispatch-run", "Claim.sleep"));
    // either a retry runs during the drain, or the task was given back at once: both end in a release
    Wait.until("a retry or a release", () -> h.runner.starts(k).size() == 2 || h.source.count(Op.RELEASE, k) == 1);
    for (int i = 1; i <= 2; i++) { // the lease is still renewed while the drain lasts
      int renewals = h.source.count(Op.RENEW, k);
      h.clock.advance(Duration.ofSeconds(1));
      Wait.until("a renewal during the drain (or its end)",
          () -> h.source.count(Op.RENEW, k) > renewals || h.source.count(Op.RELEASE, k) > 0);
    }
    h.clock.advance(Duration.ofMillis(100)); // the drain is over: running agents are stopped
    shutdown.join(10_000);
    assertTrue(!shutdown.isAlive(), "shutdown did not return");
    assertEquals(0, h.engine.stats().leaseLost.get());
    assertGivenBackWithOneStrike(k);
    assertEquals(1, h.runner.maxConcurrent(k));
  }

  @Test
  void shutdownStopsARunningAgentAndGivesItsTaskBackWithoutAStrike() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, hang());
    h.source.offer(k);
    Wait.until("the agent to start", () -> h.runner.starts(k).size() == 1);
    h.shutdown();
    assertTrue(h.runner.starts(k).get(0).stopped());
    assertEquals(1, h.source.count(Op.RELEASE, k));
    assertEquals(0, h.summary(k).strikes());
    assertEquals(TaskStatus.PENDING, h.source.store().status(k));
  }

  // ---- defect 12 (c) -------------------------------------------------------------------------

  @Test
  void eventsAfterShutdownAreDroppedQuietly() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.shutdown();
    assertDoesNotThrow(() -> {
      h.source.offer(k); // through the sink the source was given
      h.source.cancel(k);
      h.source.statusChanged(k, TaskStatus.COMPLETED);
      h.source.pushConnected();
      h.engine.onEvent(new SourceEvent.Offered(h.source.store().offered(k), SourceEvent.Why.CREATED));
      h.engine.reconcileSoon();
    });
    assertEquals(0, h.source.count(Op.CLAIM, k));
    assertEquals(0, h.source.count(Op.LIST, null));
    assertEquals(0, h.engine.runningNow());
  }
}
