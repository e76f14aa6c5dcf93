package dev.atsdispatch.ats;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.time.Duration;

/**
 * Run in a child JVM with a small heap by {@link PendingCursorHttpTest}: walks the pending tasks of
 * a channel through {@link PendingCursor} over http and prints {@code listed N, without description
 * M, peak heap K MiB}. Arguments: server URL, channel, page size, {@code light} or {@code full}.
 */
public final class LightListProbe {
  private LightListProbe() {}

  public static void main(String[] args) {
    AtsSettings s = new AtsSettings(args[0], "default", "main", false, "agent", "probe", "Probe");
    boolean light = args[3].equals("light");
    int listed = 0;
    int withoutDescription = 0;
    try (HttpAtsClient ats = new HttpAtsClient(s, Duration.ofSeconds(60))) {
      PendingCursor c = new PendingCursor(ats, TaskQuery.pending(args[1]).withLight(light),
          Integer.parseInt(args[2]));
      while (c.hasNext()) {
        Task t = c.next();
        listed++;
        if (t.description() == null) withoutDescription++;
      }
    }
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) peak += pool.getPeakUsage().getUsed();
    }
    System.out.println("listed " + listed + ", without description " + withoutDescription
        + ", peak heap " + (peak >> 20) + " MiB");
  }
}
