package dev.atsdispatch.exec;

import java.io.IOException;

/** Starts agent processes. The seam the engine's tests replace with a scripted fake. */
public interface AgentRunner {
  /** Starts one attempt; throws IOException when the process cannot be started at all. */
  RunningAgent start(AgentSpec spec) throws IOException;
}
