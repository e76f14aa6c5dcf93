package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class ProcessGroupsTest {
  /**
   * A zombie is alive for the JDK but runs nothing: an agent's leftovers that are only zombies
   * (under bwrap, its PID-namespace init waiting for this machine's init to reap it) must not hold
   * the attempt for the whole grace period.
   */
  @Test
  void aZombieIsNotRunning() throws Exception {
    // the shell's child exits at once; the shell then becomes a sleep that never reaps it
    Process p = new ProcessBuilder("/bin/sh", "-c", "true & exec sleep 5").start();
    try {
      ProcessHandle zombie = null;
      long end = System.nanoTime() + 5_000_000_000L;
      while (zombie == null && System.nanoTime() < end) {
        List<ProcessHandle> kids = p.toHandle().children().toList();
        Optional<ProcessHandle> z = kids.stream().filter(h -> !ProcessGroups.running(h)).findFirst();
        if (z.isPresent()) zombie = z.get();
        else Thread.sleep(10);
      }
      assertTrue(zombie != null, "no zombie child appeared");
      assertTrue(zombie.isAlive(), "the JDK counts a zombie as alive");
      assertFalse(ProcessGroups.running(zombie));
      assertTrue(ProcessGroups.running(p.toHandle()), "a sleeping process runs");
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
  }
}
