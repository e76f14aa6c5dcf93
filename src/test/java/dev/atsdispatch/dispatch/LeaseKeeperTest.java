package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.FakeTaskSource;
import dev.atsdispatch.testing.FakeTaskSource.Fault;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The lease keeper on its own, driven tick by tick on the fake clock with a manual call pool:
 * renewal cadence, one renewal in flight, the local deadline (issue defect 1) and what happens
 * around close (defect 6).
 */
final class LeaseKeeperTest {
  static final Duration LEASE = Duration.ofSeconds(30); // renew every 10 s; margin 3 s; deadline 27 s

  FakeClock clock;
  FakeTaskSource source;
  TaskKey key;
  Lease lease;
  ManualExecutor calls;
  List<String> lost;
  AtomicInteger renewed;
  AtomicInteger failed;
  LeaseKeeper keeper;

  @BeforeEach
  void claim() {
    clock = new FakeClock();
    source = new FakeTaskSource(clock);
    key = source.add(1);
    long sentAt = clock.nanoTime();
    lease = source.claim(key, LEASE);
    calls = new ManualExecutor();
    lost = new CopyOnWriteArrayList<>();
    renewed = new AtomicInteger();
    failed = new AtomicInteger();
    keeper = new LeaseKeeper(lease, LEASE, clock, calls, (why, detail) -> lost.add(why + ": " + detail),
        new LeaseKeeper.Listener() {
          @Override
          public void renewed() {
            renewed.incrementAndGet();
          }

          @Override
          public void renewalFailed() {
            failed.incrementAndGet();
          }
        }, sentAt);
  }

  void at(Duration sinceClaim) {
    long target = 1_000_000_000L + sinceClaim.toNanos(); // FakeClock starts at 1 s
    clock.advance(Duration.ofNanos(target - clock.nanoTime()));
  }

  int renewCalls() {
    return source.count(Op.RENEW, key);
  }

  @Test
  void renewsEveryThirdOfTheLease() {
    keeper.tick();
    at(Duration.ofMillis(9_999));
    keeper.tick();
    assertEquals(0, calls.queued(), "nothing is due before lease/3");
    at(Duration.ofSeconds(10));
    keeper.tick();
    assertEquals(1, calls.queued());
    calls.runAll();
    assertEquals(1, renewCalls());
    assertEquals(1, renewed.get());
    at(Duration.ofSeconds(20));
    keeper.tick();
    calls.runAll();
    assertEquals(2, renewCalls());
    assertTrue(lost.isEmpty());
  }

  @Test
  void neverMoreThanOneRenewalInFlight() {
    for (int s = 10; s <= 26; s++) { // a slow source: the first renewal has not answered yet
      at(Duration.ofSeconds(s));
      keeper.tick();
    }
    assertEquals(1, calls.queued(), "renewals piled up while one was in flight");
    calls.runAll();
    keeper.tick(); // answered at 26 s: the next one goes out at once, and only one
    keeper.tick();
    assertEquals(1, calls.queued());
    calls.runAll();
    assertEquals(2, renewCalls());
  }

  @ParameterizedTest
  @ValueSource(strings = {"timeout", "503", "429"})
  void retryableFailuresFenceAtTheLastSuccessfulRenewalPlusLeaseMinusMargin(String flavour) {
    at(Duration.ofSeconds(10));
    keeper.tick();
    calls.runAll(); // succeeds: sent at 10 s, so the deadline is 10 + 30 - 3 = 37 s
    Fault f = Fault.on(Op.RENEW).forFakeTime(Duration.ofMinutes(10));
    source.inject(flavour.equals("timeout") ? f.timeout() : flavour.equals("503") ? f.http503() : f.http429());
    for (int s = 20; s <= 36; s++) {
      at(Duration.ofSeconds(s));
      keeper.tick();
      calls.runAll();
    }
    at(Duration.ofMillis(36_999));
    keeper.tick();
    calls.runAll();
    assertTrue(lost.isEmpty(), "fenced before the local deadline: " + lost);
    assertTrue(failed.get() >= 2, "the failing renewals were not retried");
    at(Duration.ofSeconds(37));
    keeper.tick();
    assertEquals(1, lost.size());
    assertTrue(lost.get(0).startsWith("LEASE_LOST: lease deadline passed"), lost.get(0));
    int sent = renewCalls();
    at(Duration.ofSeconds(50));
    keeper.tick();
    calls.runAll();
    assertEquals(1, lost.size(), "fenced twice");
    assertEquals(sent, renewCalls(), "renewed after the fence");
    assertTrue(!keeper.holding());
  }

  @Test
  void theDeadlineCountsFromWhenTheSuccessfulRenewalWasSent() {
    at(Duration.ofSeconds(10));
    keeper.tick(); // sent at 10 s ...
    at(Duration.ofSeconds(19));
    calls.runAll(); // ... answered at 19 s: the source may have renewed from any time in between
    source.inject(Fault.on(Op.RENEW).timeout());
    for (int s = 20; s < 37; s++) {
      at(Duration.ofSeconds(s));
      keeper.tick();
      calls.runAll();
    }
    assertTrue(lost.isEmpty());
    at(Duration.ofSeconds(37));
    keeper.tick();
    assertEquals(1, lost.size(), "the deadline must be 10 s + lease - margin, not 19 s + ...");
  }

  @Test
  void theClaimCountsAsTheFirstSuccess() {
    source.inject(Fault.on(Op.RENEW).http503());
    for (int s = 10; s < 27; s++) {
      at(Duration.ofSeconds(s));
      keeper.tick();
      calls.runAll();
    }
    assertTrue(lost.isEmpty());
    at(Duration.ofSeconds(27));
    keeper.tick();
    assertEquals(1, lost.size());
  }

  @Test
  void aRefusedRenewalFencesAtOnce() {
    source.inject(Fault.on(Op.RENEW).times(1).conflict("task 1 is in_progress (held by someone else)"));
    at(Duration.ofSeconds(10));
    keeper.tick();
    calls.runAll();
    assertEquals(List.of("LEASE_LOST: lease lost: task 1 is in_progress (held by someone else)"), lost);
  }

  @Test
  void aRefusalThatAnswersAfterCloseIsNoLoss() {
    source.inject(Fault.on(Op.RENEW).times(1).holdAnswer().conflict("task 1 is completed"));
    at(Duration.ofSeconds(10));
    keeper.tick();
    Thread renewal = new Thread(calls::runAll, "renewal");
    renewal.start();
    dev.atsdispatch.testing.Wait.until("the renewal to be in flight", () -> source.inFlight(Op.RENEW, key) == 1);
    Thread closer = new Thread(() -> keeper.close(Duration.ofSeconds(5)), "closer");
    closer.start();
    dev.atsdispatch.testing.Wait.until("close to wait for the renewal", () -> dev.atsdispatch.testing.Wait.threadIn("closer", "LeaseKeeper.close"));
    source.openAllGates(); // the refusal arrives after close began (the result is being reported)
    join(renewal);
    join(closer);
    assertTrue(lost.isEmpty(), "a refusal after close recorded a lost lease: " + lost);
  }

  @Test
  void closeWaitsForTheRenewalInFlight() {
    source.inject(Fault.on(Op.RENEW).times(1).hold());
    at(Duration.ofSeconds(10));
    keeper.tick();
    Thread renewal = new Thread(calls::runAll, "renewal");
    renewal.start();
    dev.atsdispatch.testing.Wait.until("the renewal to be in flight", () -> source.inFlight(Op.RENEW, key) == 1);
    AtomicInteger closedAt = new AtomicInteger(-1);
    Thread closer = new Thread(() -> {
      keeper.close(Duration.ofSeconds(5));
      closedAt.set(source.inFlight(Op.RENEW, key));
    }, "closer");
    closer.start();
    dev.atsdispatch.testing.Wait.until("close to wait", () -> dev.atsdispatch.testing.Wait.threadIn("closer", "LeaseKeeper.close"));
    source.openAllGates();
    join(closer);
    join(renewal);
    assertEquals(0, closedAt.get(), "close returned while a renewal was still in flight");
  }

  @Test
  void aRenewalQueuedButNotSentWhenCloseReturnsIsNeverSent() {
    at(Duration.ofSeconds(10));
    keeper.tick(); // queued behind other calls on a busy pool
    keeper.close(Duration.ZERO); // the runner gave up waiting and reports the result
    calls.runAll();
    assertEquals(0, renewCalls(), "a renewal went out after close (after the result was reported)");
    assertTrue(lost.isEmpty());
  }

  @Test
  void nothingIsRenewedAfterClose() {
    keeper.close(Duration.ZERO);
    at(Duration.ofSeconds(10));
    keeper.tick();
    at(Duration.ofSeconds(40));
    keeper.tick();
    assertEquals(0, calls.queued());
    assertTrue(lost.isEmpty(), "a closed keeper fenced: " + lost);
  }

  static void join(Thread t) {
    try {
      t.join(10_000);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertTrue(!t.isAlive(), t.getName() + " did not finish");
  }
}
