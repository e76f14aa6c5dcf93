package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * At start-up, before anything runs: kills the process groups a crashed earlier incarnation left
 * running (after checking by start time that they are still its agents) and records those
 * attempts as cut short, a strike each. Reads only the running markers, so its cost does not
 * grow with history. Runs once, on the starting thread.
 */
final class LeftoverReaper {
  private static final Logger log = LoggerFactory.getLogger(LeftoverReaper.class);
  private static final ObjectMapper M = new ObjectMapper();

  private LeftoverReaper() {}

  static int reap(StateDir state, Clock clock) {
    int n = 0;
    for (StateDir.Running r : state.running()) {
      boolean killed = ProcessAgentRunner.killLeftover(r.pgid(), r.startMs());
      state.ledger(r.key()).append("attempt_finished", M.createObjectNode().put("pgid", r.pgid())
          .put("outcome", Outcome.CRASHED.wire()).put("strike", true).put("leftover_killed", killed), clock.now());
      state.clearRunning(r.key());
      log.warn("task {}: an attempt was cut short by a crash of the service{}", r.key(),
          killed ? "; killed its leftover process group " + r.pgid() : "");
      n++;
    }
    return n;
  }
}
