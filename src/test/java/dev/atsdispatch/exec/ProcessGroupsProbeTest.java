package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.Wait;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The kernel's word on an empty process group, through the probe shell, with real processes. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
final class ProcessGroupsProbeTest {
  @Test
  void aGroupIsSurelyEmptyOnlyOnceItsLastProcessIsGoneZombiesIncluded() throws Exception {
    // a group of two: the leader and a child that outlives it
    Process leader = new ProcessBuilder("/usr/bin/setsid", "/bin/sh", "-c", "sleep 30 >/dev/null & echo $!; sleep 0.3")
        .start();
    long pgid = leader.pid();
    long child = Long.parseLong(new java.io.BufferedReader(new java.io.InputStreamReader(leader.getInputStream()))
        .readLine().strip());
    assertFalse(ProcessGroups.surelyEmpty(pgid), "two members");
    assertTrue(leader.waitFor(10, TimeUnit.SECONDS));
    assertFalse(ProcessGroups.surelyEmpty(pgid), "the child still runs in the group");
    assertTrue(ProcessGroups.members(pgid).contains(child));
    ProcessGroups.signal(pgid, "KILL");
    Wait.until("the child is gone", () -> !ProcessAgentRunnerTest.running(child));
    // gone, or a zombie left for a slow init: the walk has it as no member, the probe only once reaped
    Wait.until("the group is empty", () -> ProcessGroups.members(pgid).isEmpty());
    Wait.until("the kernel says so", () -> ProcessGroups.surelyEmpty(pgid));
  }

  @Test
  void noGroupAndNonsenseAreNeverSurelyEmptyByMistake() {
    assertFalse(ProcessGroups.surelyEmpty(1), "never asked about init");
    assertTrue(ProcessGroups.surelyEmpty(4_000_000), "a group that cannot exist is empty");
  }
}
