package dev.atsdispatch.source.ats;

import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Run in a child JVM with a small heap by {@link StatusReadTest}: reads the status of each given
 * task from its own thread, {@code rounds} times, as the engine does from its call pool (a stale
 * listing's reopen checks, dependency lookups), and prints {@code statuses: S1 S2 ...}. Arguments:
 * server URL, rounds, {@code source} (through {@link AtsSource#status}) or {@code full} (a full
 * read of the task, as that method did before), then the task ids.
 */
public final class StatusReadProbe {
  private StatusReadProbe() {}

  public static void main(String[] args) throws Exception {
    AtsSettings s = new AtsSettings(args[0], "default", "main", false, "agent", "probe", "Probe");
    int rounds = Integer.parseInt(args[1]);
    boolean viaSource = args[2].equals("source");
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    try (HttpAtsClient ats = new HttpAtsClient(s, Duration.ofSeconds(60))) {
      AtsSource source = new AtsSource("ats", ats, s, "any", Clock.SYSTEM, EventWatcher.Timing.DEFAULT);
      List<Thread> threads = new ArrayList<>();
      for (int i = 3; i < args.length; i++) {
        long id = Long.parseLong(args[i]);
        Thread t = new Thread(() -> {
          for (int r = 0; r < rounds; r++) {
            TaskStatus st = viaSource ? source.status(TaskKey.of("ats", id)) : ats.get(id).status();
            if (r == rounds - 1) seen.add(st.wire());
          }
        });
        threads.add(t);
        t.start();
      }
      for (Thread t : threads) t.join();
    }
    System.out.println("statuses: " + String.join(" ", seen));
  }
}
