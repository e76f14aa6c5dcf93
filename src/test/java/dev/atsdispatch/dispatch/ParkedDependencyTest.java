package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeAgentRunner;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A dependency parked for a question shows failed on ATS, but it is reopened once answered: the
 * tasks that depend on it wait for it (deferred), whether this service parked it (its state
 * directory says so) or another dispatcher did (the fail reason says so); a dependency failed
 * for any other reason still blocks them.
 */
@Timeout(30)
final class ParkedDependencyTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  static ObjectNode dependingOn(long id) {
    ObjectNode p = JsonNodeFactory.instance.objectNode();
    p.putArray("depends_on").add(id);
    return p;
  }

  /** Leaves question 1 in its mailbox and ends. */
  static FakeAgentRunner.Behaviour asks(String question) {
    return r -> {
      Path box = r.spec.workDir().resolve("questions");
      Files.createDirectories(box);
      Files.writeString(box.resolve("001.question"), question);
      return FakeAgentRunner.succeed("asked").begin(r);
    };
  }

  /** Waits until the engine holds {@code child} deferred, with {@code dep} seen failed and waiting for an answer. */
  void awaitWaitingOnParked(TaskKey child, TaskKey dep) {
    await("task " + child + " deferred on " + dep + " waiting for an answer").atMost(Duration.ofSeconds(10)).until(() -> {
      for (JsonNode t : h.engine.deferredTasksNow().get()) {
        if (!t.path("task").asText().equals(child.toString())) continue;
        for (JsonNode d : t.path("depends_on")) {
          if (d.path("task").asText().equals(dep.toString()) && d.path("status").asText().equals("failed")
              && d.path("waiting_for_answer").asBoolean()) return true;
        }
      }
      return false;
    });
  }

  @Test
  void aDependencyParkedHereForAQuestionKeepsItsDependentsWaitingUntilAnsweredAndDone() throws Exception {
    h = new EngineHarness(dir, EngineHarness.config(dir));
    h.source.store().autoEvents = true;
    h.start();
    TaskKey parent = h.source.add(1);
    TaskKey child = h.source.add(2, dependingOn(1));
    h.runner.script(parent, asks("Which branch?"), FakeAgentRunner.succeed("merged"));
    h.source.offer(parent);
    await("the parent parked").atMost(Duration.ofSeconds(10)).until(() ->
        h.source.store().status(parent) == TaskStatus.FAILED && Lease.parkReason(h.source.store().rec(parent).reason));
    h.source.offer(child);
    awaitWaitingOnParked(child, parent);
    assertEquals(TaskStatus.PENDING, h.source.store().status(child), "the child was blocked");
    assertEquals(0, h.source.count(Op.CLAIM, child));
    assertEquals(1, h.engine.deferredNow());

    Questions.give(h.cfg.stateDir(), parent, "main");
    await("the child completed after its parent").atMost(Duration.ofSeconds(15))
        .until(() -> h.source.store().status(child) == TaskStatus.COMPLETED);
    assertEquals(TaskStatus.COMPLETED, h.source.store().status(parent));
    assertEquals(2, h.runner.starts(parent).size());
    assertEquals(1, h.runner.starts(child).size());
    assertTrue(h.runner.starts(child).get(0).seq > h.runner.starts(parent).get(1).seq, "the child ran before its parent's second run");
    assertTrue(h.observer.of("failed", child).isEmpty(), h.observer.seen.toString());
  }

  @Test
  void aDependencyParkedByAnotherDispatcherIsWaitedForByItsReasonAndAnotherFailureStillBlocks() throws Exception {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.dependencyRecheck = Duration.ofMillis(200); // another dispatcher's reopen may send no event here
    h = new EngineHarness(dir, b);
    h.source.store().autoEvents = true;
    h.start();
    TaskKey parkedElsewhere = h.source.add(1);
    TaskKey failedElsewhere = h.source.add(2);
    TaskKey waits = h.source.add(3, dependingOn(1));
    TaskKey blocked = h.source.add(4, dependingOn(2));
    h.source.store().finishElsewhere(parkedElsewhere, TaskStatus.FAILED,
        Lease.PARK_REASON_PREFIX + "1: reply on the task's thread (or ats-dispatch answer)");
    h.source.store().finishElsewhere(failedElsewhere, TaskStatus.FAILED, "agent exited with code 3");
    h.source.offer(waits); // the gate looks both dependencies up
    h.source.offer(blocked);
    await("the task on a failed dependency blocked").atMost(Duration.ofSeconds(10))
        .until(() -> h.source.store().status(blocked) == TaskStatus.FAILED);
    assertEquals("Blocked: dependency #2 (failed) failed", h.source.store().rec(blocked).reason);
    awaitWaitingOnParked(waits, parkedElsewhere);
    assertEquals(TaskStatus.PENDING, h.source.store().status(waits));

    // the other dispatcher's answer reopens it (no event reaches this service) and it completes
    h.source.store().reopen(parkedElsewhere);
    h.source.store().finishElsewhere(parkedElsewhere, TaskStatus.COMPLETED);
    await("the waiting task completed").atMost(Duration.ofSeconds(10))
        .until(() -> h.source.store().status(waits) == TaskStatus.COMPLETED);
    assertEquals(1, h.runner.starts(waits).size());
    assertTrue(h.runner.starts(blocked).isEmpty());
  }

  @Test
  void aParkedEventAloneDefersAndItsPlainFailureThenBlocks() throws Exception {
    h = new EngineHarness(dir, EngineHarness.config(dir));
    h.start();
    TaskKey dep = h.source.add(1);
    TaskKey child = h.source.add(2, dependingOn(1));
    h.source.push(new dev.atsdispatch.source.SourceEvent.StatusChanged(dep, TaskStatus.FAILED, true));
    h.source.offer(child);
    awaitWaitingOnParked(child, dep);
    assertEquals(0, h.source.count(Op.STATUS, dep), "the event said enough; no lookup");
    h.source.push(new dev.atsdispatch.source.SourceEvent.StatusChanged(dep, TaskStatus.FAILED, false));
    await("the child blocked").atMost(Duration.ofSeconds(10))
        .until(() -> h.source.store().status(child) == TaskStatus.FAILED);
    assertFalse(h.source.store().rec(child).reason.contains("waiting"), h.source.store().rec(child).reason);
  }

  @Test
  void theGraphCountsATaskParkedHereAsUnfinished() {
    java.util.Set<TaskKey> parkedHere = new java.util.HashSet<>();
    Dependencies d = new Dependencies(parkedHere::contains);
    TaskKey a = TaskKey.of("ats", 1);
    TaskKey b = TaskKey.of("ats", 2);
    Dependencies.Parsed deps = new Dependencies.Parsed(List.of(a), List.of(), 1);
    d.status(a, TaskStatus.FAILED); // nothing from the source says parked
    assertTrue(d.verdict(b, deps) instanceof Dependencies.Blocked);
    parkedHere.add(a);
    assertTrue(d.verdict(b, deps) instanceof Dependencies.Wait, "parked here: it waits");
    assertFalse(d.finished(a));
    d.status(a, TaskStatus.COMPLETED);
    assertTrue(d.verdict(b, deps) instanceof Dependencies.Ready);
    d.status(a, TaskStatus.CANCELLED);
    assertTrue(d.verdict(b, deps) instanceof Dependencies.Blocked, "only a failure can be a park");
  }
}
