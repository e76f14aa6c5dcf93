package dev.atsdispatch.dispatch;

/** How one attempt ended, and whether it counts towards the poison limit (design.md §2). */
public enum Outcome {
  COMPLETED("completed", false),
  EXITED("exited", true),
  /** The agent exited 0, but its output (a preset's) says the run failed: an error result, a failed turn. */
  AGENT_ERROR("agent_error", true),
  TIMED_OUT("timed_out", true),
  NO_OUTPUT("no_output", true),
  START_FAILED("start_failed", true),
  /** The service itself failed during the attempt (sealing, the outbox, the ledger). */
  INTERNAL_ERROR("internal_error", true),
  /** The service died during the attempt (found at the next start). */
  CRASHED("crashed", true),
  CANCELLED("cancelled", false),
  LEASE_LOST("lease_lost", false),
  /** Graceful shutdown stopped it, or someone else finished the task meanwhile. */
  INTERRUPTED("interrupted", false),
  /** The agent's backend refused for a usage or rate limit: not the task's fault (the task is given back). */
  LIMITED("limited", false),
  /** The agent asked people a question and ended: the task waits for the answer (no strike, no lease held). */
  QUESTION("question", false),
  /**
   * The agent passed the task's turn or cost limit and was stopped (by its CLI, or by the
   * service): the task fails, not retried (a retry would only spend more). No strike: the run did
   * not malfunction, the task fails at once anyway, and services counting strikes on its thread
   * should not take a spending limit for a task that crashes its agents.
   */
  BUDGET("budget", false);

  private final String wire;
  private final boolean strike;

  Outcome(String wire, boolean strike) {
    this.wire = wire;
    this.strike = strike;
  }

  /** The name in the ledger. */
  public String wire() {
    return wire;
  }

  public boolean isStrike() {
    return strike;
  }
}
