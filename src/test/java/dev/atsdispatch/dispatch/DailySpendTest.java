package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.FakeClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spend per backend per UTC day: kept across a restart, started afresh at midnight, and the cap's pause. */
final class DailySpendTest {
  @TempDir Path dir;

  @Test
  void aRestartKeepsTheDaysSpendAndTheNextUtcDayStartsFromNothing() throws Exception {
    FakeClock clock = new FakeClock(); // 2026-01-01T00:00:01Z
    clock.advance(Duration.ofHours(22));
    DailySpend s = new DailySpend(dir, clock);
    assertEquals(1.25, s.add("claude", 1.25), 1e-12);
    assertEquals(2.0, s.add("claude", 0.75), 1e-12);
    assertEquals(0.5, s.add("pi", 0.5), 1e-12);
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dir.resolve(DailySpend.FILE))));

    DailySpend again = new DailySpend(dir, clock); // a restart the same day
    assertEquals(2.0, again.today("claude"), 1e-12);
    assertEquals(0.5, again.today("pi"), 1e-12);
    assertEquals(0.0, again.today("codex"));

    clock.advance(Duration.ofHours(2)); // 2026-01-02T00:00:01Z
    assertEquals(0.0, again.today("claude"));
    assertEquals(0.0, new DailySpend(dir, clock).today("claude"), "yesterday's file counted today");
    assertEquals(0.3, again.add("claude", 0.3), 1e-12);
    assertTrue(Files.readString(dir.resolve(DailySpend.FILE)).contains("\"day\":\"2026-01-02\""));
  }

  @Test
  void theCapPausesUntilTheNextUtcMidnight() {
    FakeClock clock = new FakeClock();
    clock.advance(Duration.ofHours(9));
    DailySpend s = new DailySpend(dir, clock);
    s.add("claude", 4.99);
    assertNull(s.pause("claude", 5.0));
    s.add("claude", 0.13);
    Pause p = s.pause("claude", 5.0);
    assertEquals(Instant.parse("2026-01-02T00:00:00Z"), p.until());
    assertEquals("daily spend cap $5.00 reached for claude ($5.12 today)", p.reason());
    assertNull(s.pause("pi", 5.0), "another backend's spend paused this one");
    clock.advance(Duration.ofHours(15));
    assertNull(s.pause("claude", 5.0));
  }

  @Test
  void anUnreadableFileCountsFromNothing() throws Exception {
    Files.writeString(dir.resolve(DailySpend.FILE), "{not json");
    DailySpend s = new DailySpend(dir, new FakeClock());
    assertEquals(0.0, s.today("claude"));
    assertEquals(1.0, s.add("claude", 1.0), 1e-12);
    assertEquals(1.0, new DailySpend(dir, new FakeClock()).today("claude"), 1e-12);
  }
}
