package dev.atsdispatch.dispatch;

import dev.atsdispatch.exec.RunningAgent;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What the loop, the lease keeper and the attempt runner share about one task while it runs:
 * why it must stop (first reason wins) and the agent to stop. Set from any thread; the runner
 * reads it between steps and the agent is stopped the moment a reason is set.
 */
final class Claim {
  /** Why a running task must stop early. */
  enum Stop {
    CANCELLED, LEASE_LOST, SHUTDOWN, FINISHED_ELSEWHERE,
    /** An operator cancelled it (the dashboard): the task fails, without a strike. */
    OPERATOR_CANCEL,
    /** An operator gave it back (the dashboard): released without a strike. */
    GIVE_BACK,
    /** Its agent passed a budget limit (the output of a CLI without budget flags, watched): the task fails. */
    BUDGET;

    /** Stops that want the agent gone quickly (a short grace). */
    boolean quick() {
      return this == CANCELLED || this == OPERATOR_CANCEL;
    }
  }

  private final CountDownLatch wake = new CountDownLatch(1);
  private volatile Stop stop;
  private volatile String stopDetail;
  private volatile RunningAgent agent;
  private volatile boolean sleeping;
  private final Duration grace;
  private final Duration shortGrace;

  Claim(Duration grace) {
    this.grace = grace;
    this.shortGrace = grace.compareTo(Duration.ofSeconds(1)) < 0 ? grace : Duration.ofSeconds(1);
  }

  /** Asks the task to stop; the first reason wins. Stops the agent if one runs. */
  void stop(Stop why, String detail) {
    synchronized (this) {
      if (stop != null) return;
      stopDetail = detail;
      stop = why;
    }
    wake.countDown();
    RunningAgent a = agent;
    if (a != null) a.stop(detail, why.quick() ? shortGrace : grace);
  }

  Stop stopped() {
    return stop;
  }

  String stopDetail() {
    return stopDetail;
  }

  /** Attaches the agent of the current attempt; stops it at once if a stop came first. */
  void attach(RunningAgent a) {
    agent = a;
    Stop s = stop;
    if (s != null) a.stop(stopDetail, s.quick() ? shortGrace : grace);
  }

  void detach() {
    agent = null;
  }

  /** Sleeps up to {@code d} (the retry backoff); returns early when a stop is asked. */
  void sleep(Duration d) {
    sleeping = true;
    try {
      wake.await(d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      sleeping = false;
    }
  }

  /** True while the task waits out a retry backoff (no agent runs). */
  boolean sleeping() {
    return sleeping;
  }
}
