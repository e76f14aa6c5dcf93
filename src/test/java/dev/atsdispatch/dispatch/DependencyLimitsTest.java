package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.FakeTaskSource;
import dev.atsdispatch.testing.FakeTaskSource.Call;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue defect 10: a huge depends_on is refused at once without stalling the engine, and the
 * status lookups for dependencies that stay pending are bounded (batched, backed off).
 */
@Timeout(30)
final class DependencyLimitsTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  static ObjectNode dependingOn(long from, int count) {
    ObjectNode p = JsonNodeFactory.instance.objectNode();
    ArrayNode a = p.putArray("depends_on");
    for (long i = 0; i < count; i++) a.add(from + i);
    return p;
  }

  @Test
  void aHundredThousandDependenciesAreBlockedAtOnceWhileTheGaugesStayResponsive() throws Exception {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1, dependingOn(1_000, 100_000));
    AtomicBoolean done = new AtomicBoolean();
    AtomicLong slowestGaugeNanos = new AtomicLong();
    Thread scraper = new Thread(() -> {
      while (!done.get()) {
        long t = System.nanoTime();
        h.engine.runningNow();
        h.engine.queuedNow();
        h.engine.deferredNow();
        h.engine.metrics().registry().scrape();
        slowestGaugeNanos.accumulateAndGet(System.nanoTime() - t, Math::max);
      }
    }, "scraper");
    scraper.start();
    h.source.offer(k);
    Wait.until("the task to be failed", Duration.ofSeconds(5), () -> h.source.store().status(k) == TaskStatus.FAILED);
    done.set(true);
    scraper.join();
    assertEquals("Blocked: depends on 100000 tasks; at most 100 are allowed (dependency_max)", h.source.store().rec(k).reason);
    assertEquals(0, h.source.count(Op.STATUS, null), "looked up dependencies of a task that can never run");
    assertEquals(0, h.runner.starts(k).size());
    assertEquals(1, h.engine.stats().blocked.get());
    assertTrue(slowestGaugeNanos.get() < Duration.ofMillis(500).toNanos(),
        "a gauge or scrape took " + slowestGaugeNanos.get() / 1_000_000 + " ms");
    assertEquals(0, h.engine.deferredNow());
  }

  /**
   * A source that cannot say whether a task is done (JetStream) cannot hold a task back for its
   * dependencies: the task is failed at once with a reason that says so, never held and retried.
   */
  @Test
  void onASourceWithoutLookupsATaskWithDependenciesIsRefusedAtOnce() throws Exception {
    FakeClock clock = new FakeClock();
    FakeTaskSource src = new FakeTaskSource(clock).capabilities(
        new dev.atsdispatch.source.Capabilities(true, true, true, false, true, true, false));
    h = new EngineHarness(clock, src, new dev.atsdispatch.testing.FakeAgentRunner(clock),
        EngineHarness.config(dir).build(), Intake.PLAIN).start();
    TaskKey k = h.source.add(1, dependingOn(7, 2));
    TaskKey plain = h.source.add(2, null);
    h.source.offer(k);
    h.source.offer(plain);
    Wait.until("the task to be failed", Duration.ofSeconds(5), () -> h.source.store().status(k) == TaskStatus.FAILED);
    assertEquals("depends_on cannot be honoured: source " + src.name() + " cannot look tasks up by id",
        h.source.store().rec(k).reason);
    assertEquals(0, h.source.count(Op.STATUS, null), "looked up a dependency on a source that has no lookups");
    assertEquals(0, h.runner.starts(k).size());
    Wait.until("the task without dependencies to start", Duration.ofSeconds(5), () -> h.runner.starts(plain).size() == 1);
  }

  @Test
  void lookupsOfAThousandPendingDependenciesGoOutAtMostEightAtATimeAndOnceEach() {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.dependencyMax = 1000;
    b.dependencyRecheck = Duration.ofSeconds(5);
    h = new EngineHarness(dir, b).start();
    for (long d = 1_000; d < 2_000; d++) h.source.add(d); // pending, and they stay so
    TaskKey k = h.source.add(1, dependingOn(1_000, 1_000));
    h.source.offer(k);
    Wait.until("every dependency to be looked up", () -> h.source.calls(Op.STATUS, null).stream().filter(Call::ended).count() >= 1000);
    Wait.until("the task to be deferred", () -> h.engine.deferredNow() == 1);
    assertTrue(h.source.maxInFlight(Op.STATUS, null) <= DependencyGate.MAX_IN_FLIGHT,
        h.source.maxInFlight(Op.STATUS, null) + " lookups in flight at once");
    Map<TaskKey, Integer> per = new HashMap<>();
    for (Call c : h.source.calls(Op.STATUS, null)) per.merge(c.key, 1, Integer::sum);
    assertEquals(1000, per.size());
    assertTrue(per.values().stream().allMatch(n -> n == 1), "an id was looked up twice with no time passing");
    assertEquals(0, h.source.count(Op.CLAIM, k));
  }

  /**
   * The gate alone, every step on the test thread: one task waits on 1,000 tasks that stay
   * pending. Over 10 minutes of fake time with a 5 s re-check (120 re-checks) a naive re-check
   * would send 120,000 lookups; the backoff per id must keep it far below that, and a
   * dependency that finishes late is still seen within the longest backoff.
   */
  @Test
  void recheckTrafficForDependenciesThatStayPendingBacksOff() {
    FakeClock clock = new FakeClock();
    FakeTaskSource source = new FakeTaskSource(clock);
    ManualExecutor work = new ManualExecutor(); // source calls and loop tasks, in order, on this thread
    int[] answers = new int[1];
    Duration recheck = Duration.ofSeconds(5);
    DependencyGate gate = new DependencyGate(source, work, work::execute, clock, 1000, recheck, ready -> { },
        (blocked, why) -> { }, () -> answers[0]++, key -> false);
    List<TaskKey> deps = new ArrayList<>();
    for (long d = 1_000; d < 2_000; d++) deps.add(source.add(d));
    TaskKey k = source.add(1, dependingOn(1_000, 1_000));
    SourceTask offer = source.store().offered(k);
    Tracked t = new Tracked(offer, SourceEvent.Why.CREATED);
    t.view = TaskView.plain(offer);
    t.deps = Dependencies.parse(offer.payload().get("depends_on"), "ats");

    assertTrue(gate.check(t) instanceof DependencyGate.Waiting);
    gate.defer(t);
    gate.lookUp();
    int mostQueued = 0;
    int rechecks = (int) (Duration.ofMinutes(10).toMillis() / recheck.toMillis());
    for (int i = 0; i < rechecks; i++) {
      drain(work);
      mostQueued = Math.max(mostQueued, work.mostQueued);
      clock.advance(recheck);
      gate.refresh();
    }
    drain(work);
    int lookups = source.count(Op.STATUS, null);
    int naive = deps.size() * rechecks;
    assertTrue(work.mostQueued <= DependencyGate.MAX_IN_FLIGHT + 1, "lookups were not batched: " + work.mostQueued + " queued at once");
    assertTrue(lookups >= deps.size(), "some dependency was never looked up");
    assertTrue(lookups <= naive / 5, lookups + " lookups in 10 minutes; a naive re-check sends " + naive);
    Map<TaskKey, Integer> per = new HashMap<>();
    for (Call c : source.calls(Op.STATUS, null)) per.merge(c.key, 1, Integer::sum);
    int worst = per.values().stream().mapToInt(Integer::intValue).max().orElse(0);
    assertTrue(worst <= 20, "one id was looked up " + worst + " times in 10 minutes");
    assertTrue(gate.check(t) instanceof DependencyGate.Waiting);

    // one dependency finishes: the gate learns it within the longest backoff
    TaskKey late = deps.get(500);
    source.store().rec(late).status = TaskStatus.FAILED;
    for (long s = 0; s <= DependencyGate.MAX_LOOKUP_BACKOFF.toSeconds() && !(gate.check(t) instanceof DependencyGate.Blocked); s += 5) {
      clock.advance(recheck);
      gate.refresh();
      drain(work);
    }
    DependencyGate.Verdict v = gate.check(t);
    assertTrue(v instanceof DependencyGate.Blocked, "a dependency that failed late was not seen: " + v);
    assertTrue(((DependencyGate.Blocked) v).reason().contains("#1500 (failed)"), ((DependencyGate.Blocked) v).reason());
  }

  static void drain(ManualExecutor work) {
    work.runAll();
  }
}
