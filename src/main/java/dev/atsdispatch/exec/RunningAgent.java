package dev.atsdispatch.exec;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** One started attempt: its result when it ends, and a way to stop it early. */
public interface RunningAgent {
  long pid();

  /** Completes once the process and every descendant are gone and the output is drained. */
  CompletableFuture<AgentResult> result();

  /**
   * Stops the attempt: TERM to the whole process group, then KILL after {@code grace}. The result
   * then has outcome STOPPED with this reason. Idempotent; the first reason wins.
   */
  void stop(String reason, Duration grace);
}
