package dev.atsdispatch.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.testing.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dashboard's last hour: per-minute counts that age out, and a bounded list of failures. */
final class RecentTest {
  final FakeClock clock = new FakeClock();
  final Recent recent = new Recent(clock);

  @Test
  void countsLandInTheirMinuteAndAgeOutAfterAnHour() {
    recent.completed();
    recent.completed();
    recent.failed(TaskKey.of("ats", 1), "one", "failed", "Agent exited with code 1", 1);
    clock.advance(Duration.ofMinutes(1));
    recent.failed(TaskKey.of("ats", 2), null, "poisoned", "poison: 3 attempts", 3);
    long[][] m = recent.perMinute();
    assertEquals(Recent.MINUTES, m.length);
    assertEquals(List.of(2L, 1L), List.of(m[58][1], m[58][2]));
    assertEquals(List.of(0L, 1L), List.of(m[59][1], m[59][2]));
    assertEquals(m[59][0], m[58][0] + 1, "consecutive minutes, the newest last");
    // 59 minutes on, the first minute is the oldest shown; one more and it is gone
    clock.advance(Duration.ofMinutes(58));
    assertEquals(2L, recent.perMinute()[0][1]);
    clock.advance(Duration.ofMinutes(1));
    long total = 0;
    for (long[] x : recent.perMinute()) total += x[1] + x[2];
    assertEquals(1L, total, "only the second minute's failure is left");
    // a bucket reused an hour later starts from zero
    recent.completed();
    assertEquals(1L, recent.perMinute()[59][1]);
  }

  @Test
  void failuresAreNewestFirstAndBounded() {
    for (int i = 1; i <= Recent.FAILURES + 20; i++) {
      recent.failed(TaskKey.of("ats", i), "t" + i, "failed", "r" + i, 1);
      clock.advance(Duration.ofSeconds(1));
    }
    List<Recent.Failure> f = recent.failures();
    assertEquals(Recent.FAILURES, f.size());
    assertEquals(TaskKey.of("ats", Recent.FAILURES + 20), f.get(0).key());
    assertEquals(TaskKey.of("ats", 21), f.get(f.size() - 1).key());
    recent.failed(TaskKey.of("ats", 999), null, "failed", "x", 1);
    assertNull(recent.failures().get(0).title(), "an encrypted task's title is never kept");
    assertEquals(false, recent.failures().get(0).json().has("title"));
  }

  @Test
  void severalRoutesAddUpMinuteByMinute() {
    Recent other = new Recent(clock);
    recent.completed();
    other.completed();
    other.failed(TaskKey.of("board", 3), "x", "failed", "r", 1);
    var s = Recent.series(List.of(recent, other));
    assertEquals(Recent.MINUTES, s.size());
    assertEquals(2, s.get(59).path("completed").asInt());
    assertEquals(1, s.get(59).path("failed").asInt());
  }
}
