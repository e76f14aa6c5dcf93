package dev.atsdispatch.exec;

import java.io.IOException;

/** Starts agent processes. The seam the engine's tests replace with a scripted fake. */
public interface AgentRunner {
  /** Starts one attempt; throws IOException when the process cannot be started at all. */
  RunningAgent start(AgentSpec spec) throws IOException;

  /** Hears of a new agent process (its process group and start time in epoch ms) before it runs. */
  @FunctionalInterface
  interface Spawned {
    void started(long pgid, long startMs);
  }

  /**
   * Starts one attempt and calls {@code spawned} with its process group before the agent runs any
   * of its own code, so that what {@code spawned} records (the service's running marker) exists
   * before the agent can do anything: a crash of the service at any moment leaves no agent that
   * a later start cannot find. If {@code spawned} throws, the process is killed (it has run
   * nothing) and this throws. The default, for runners without real processes, starts the
   * attempt and then calls {@code spawned}.
   */
  default RunningAgent start(AgentSpec spec, Spawned spawned) throws IOException {
    RunningAgent a = start(spec);
    try {
      spawned.started(a.pid(), ProcessAgentRunner.startMillis(a.pid()));
    } catch (RuntimeException e) {
      a.stop("the service could not record the agent", java.time.Duration.ZERO);
      throw e;
    }
    return a;
  }

  /** Releases what the runner keeps between attempts (none by default); running agents are not touched. */
  default void close() {}
}
