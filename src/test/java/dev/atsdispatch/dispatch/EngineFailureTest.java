package dev.atsdispatch.dispatch;

import static dev.atsdispatch.testing.FakeAgentRunner.ioAtStart;
import static dev.atsdispatch.testing.FakeAgentRunner.runtimeAtStart;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeTaskSource.Call;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue defect 2: every failure inside an attempt (the service's own as much as the agent's) ends
 * in a reported failure with a clear reason, counted as a strike; later offers do not reset the
 * strike count; only a reopen does.
 */
@Timeout(30)
final class EngineFailureTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /** An intake that makes every task an "encrypted" view whose seal fails while {@code broken}. */
  static Intake sealing(AtomicBoolean broken) {
    return new Intake() {
      @Override
      public Opened open(SourceTask raw) {
        return new Run(new TaskView(raw.key(), raw.title(), raw.description(), raw.payload(), "sender-fp", response -> {
          if (broken.get()) throw new IllegalStateException("sealing failed");
          return JsonNodeFactory.instance.objectNode().put("sealed", response.length());
        }));
      }

      @Override
      public Registration register(TaskKey key, String publicKey) {
        return new Refused("no", false);
      }
    };
  }

  String reportedFailure(TaskKey k) {
    Wait.until("a failure to be reported for " + k, () -> h.source.calls(Op.FAIL, k).stream().anyMatch(c -> "ok".equals(c.result()))
        && h.engine.outboxDepth() == 0 && h.summary(k).reported()
        && h.engine.runningNow() == 0); // and the loop has seen the claim end: a later offer meets a finished task
    return h.source.store().rec(k).reason;
  }

  /** Waits until a stale offer has been looked at: the re-read of its status answered, and its thread is done. */
  void awaitConfirmation(TaskKey k, int reads) {
    Wait.until("the status re-read", () -> h.source.calls(Op.STATUS, k).stream().filter(Call::ended).count() >= reads);
    Wait.idle(h.source.calls(Op.STATUS, k).get(reads - 1).thread);
  }

  @Test
  void aReopenedTaskIsOpenedFromItsWholeOfferNotFromWhatIsLeftOfItsFinishedEntry() {
    java.util.List<String> opened = new java.util.concurrent.CopyOnWriteArrayList<>();
    Intake recording = new Intake() {
      @Override
      public Opened open(SourceTask raw) {
        opened.add(raw.title() + " " + raw.payload());
        return new Run(TaskView.plain(raw));
      }

      @Override
      public Registration register(TaskKey key, String publicKey) {
        return new Refused("no", false);
      }
    };
    h = EngineHarness.withIntake(dir, EngineHarness.config(dir), recording).start();
    TaskKey k = h.source.add(1, JsonNodeFactory.instance.objectNode().put("keep", "me"));
    h.source.offer(k);
    Wait.until("the task to be completed", () -> h.source.store().status(k) == TaskStatus.COMPLETED
        && h.engine.outboxDepth() == 0 && h.summary(k).reported() && h.engine.runningNow() == 0);
    // reopened with no event seen: a listing finds it pending after its report, and a re-read confirms it
    h.source.store().reopen(k);
    h.source.offer(k, SourceEvent.Why.LISTED);
    Wait.until("the reopened task to run again", () -> h.runner.starts(k).size() == 2
        && h.source.store().status(k) == TaskStatus.COMPLETED);
    // opened at each offer and again at each claim; every time from the whole task
    assertTrue(opened.size() >= 2, opened.toString());
    assertTrue(opened.stream().allMatch("task 1 {\"keep\":\"me\"}"::equals), opened.toString());
  }

  @Test
  void aSealThatThrowsAfterTheAgentFinishedIsAReportedStrikeAndOnlyAReopenResetsIt() {
    AtomicBoolean broken = new AtomicBoolean(true);
    h = EngineHarness.withIntake(dir, EngineHarness.config(dir), sealing(broken)).start();
    TaskKey k = h.source.add(1);
    h.source.offer(k);
    String reason = reportedFailure(k);
    assertTrue(reason.startsWith("Internal error in ats-dispatch"), reason);
    assertTrue(reason.contains("IllegalStateException"), reason);
    assertEquals(0, h.source.count(Op.COMPLETE, k));
    assertEquals(TaskStatus.FAILED, h.source.store().status(k));
    assertEquals(1, h.summary(k).strikes());
    assertEquals(1, h.observer.of("failed", k).size());
    assertEquals(TaskObserver.Failure.AGENT, h.observer.of("failed", k).get(0).why());

    // what the old engine did next: the lease ran out, the task came back, and its strikes were reset
    h.source.offerStale(k, SourceEvent.Why.LEASE_EXPIRED);
    awaitConfirmation(k, 1);
    h.source.offerStale(k, SourceEvent.Why.LISTED);
    awaitConfirmation(k, 2);
    assertEquals(1, h.summary(k).strikes(), "a later offer reset the strike count");
    assertEquals(1, h.source.count(Op.CLAIM, k), "ran again without a reopen");
    assertEquals(1, h.runner.starts(k).size());

    broken.set(false);
    h.source.store().reopen(k);
    h.source.offer(k, SourceEvent.Why.REOPENED);
    Wait.until("the reopened task to be completed", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
    assertTrue(h.ledgerEvents(k).contains("reset"));
    assertEquals(0, h.summary(k).strikes(), "the reopen did not reset the strikes");
    assertEquals(2, h.runner.starts(k).size());
  }

  @Test
  void aRuntimeExceptionAtAgentStartIsAReportedStrike() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, runtimeAtStart("runner exploded"));
    h.source.offer(k);
    String reason = reportedFailure(k);
    assertEquals("Internal error in ats-dispatch: IllegalStateException", reason); // the message may quote the task: never passed on
    assertEquals(1, h.summary(k).strikes());
    assertEquals("internal_error", h.summary(k).lastOutcome());
    assertStartsSettled();
    h.source.offerStale(k, SourceEvent.Why.LEASE_EXPIRED);
    awaitConfirmation(k, 1);
    assertEquals(1, h.summary(k).strikes());
    assertEquals(1, h.source.count(Op.CLAIM, k));
  }

  @Test
  void anIOExceptionAtAgentStartIsAReportedStrike() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, ioAtStart("claude: not found on PATH"));
    h.source.offer(k);
    assertEquals("Agent could not start: claude: not found on PATH", reportedFailure(k));
    assertEquals(1, h.summary(k).strikes());
    assertEquals("start_failed", h.summary(k).lastOutcome());
    assertStartsSettled();
  }

  /** Every attempt's start is durable in its ledger, so the start journal is empty again. */
  private void assertStartsSettled() {
    assertEquals(0, h.state.journal().unsettled());
    try {
      assertEquals(0, java.nio.file.Files.size(h.state.root().resolve(StartJournal.FILE)));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void anObserverThatThrowsIsAReportedStrikeNotALostTask() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    h.observer.throwOnPickup = new IllegalStateException("notifier broke");
    TaskKey k = h.source.add(1);
    h.source.offer(k);
    String reason = reportedFailure(k);
    assertEquals("Internal error in ats-dispatch: IllegalStateException", reason);
    assertEquals(1, h.summary(k).strikes());
    assertEquals(0, h.runner.starts(k).size());
    assertEquals(0, h.source.count(Op.RELEASE, k));
    assertStartsSettled(); // the observer threw before the attempt's own try
  }

  @Test
  void eachReopenedRunThatFailsInternallyIsReportedAgain() {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.maxAttempts = 2;
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, runtimeAtStart("boom"), runtimeAtStart("boom"));
    h.source.offer(k);
    reportedFailure(k);
    assertEquals(1, h.summary(k).strikes());
    // each failure is reported; the task only comes back through a reopen, which starts the count again
    h.source.store().reopen(k);
    h.source.offer(k, SourceEvent.Why.REOPENED);
    Wait.until("the second failure", () -> h.source.calls(Op.FAIL, k).size() == 2);
    assertEquals(1, h.summary(k).strikes());
    assertEquals(2, h.runner.failedStarts().size());
    assertEquals(0, h.engine.stats().completed.get());
  }
}
