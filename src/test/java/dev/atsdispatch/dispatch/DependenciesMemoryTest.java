package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every task that goes by leaves its status with the dependency bookkeeping; only the newest
 * {@link Dependencies#STATUSES_REMEMBERED} are kept, and a forgotten one is asked for again, so
 * the service's memory stops growing however many tasks pass.
 */
final class DependenciesMemoryTest {
  static TaskKey ats(long id) {
    return new TaskKey("ats", Long.toString(id));
  }

  @Test
  void theOldestStatusesAreForgottenAndLookedUpAgainWhenATaskNeedsThem() {
    Dependencies d = new Dependencies();
    int n = Dependencies.STATUSES_REMEMBERED + 500;
    for (long i = 1; i <= n; i++) d.status(ats(i), TaskStatus.COMPLETED);
    assertNull(d.statusOf(ats(1)), "the oldest status is still kept");
    assertNull(d.statusOf(ats(500)));
    assertEquals(TaskStatus.COMPLETED, d.statusOf(ats(501)));
    assertEquals(TaskStatus.COMPLETED, d.statusOf(ats(n)));

    Dependencies.Parsed deps = new Dependencies.Parsed(List.of(ats(1), ats(n)), List.of(), 2);
    Dependencies.Verdict v = d.verdict(ats(n + 1), deps);
    Dependencies.Wait w = assertInstanceOf(Dependencies.Wait.class, v);
    assertEquals(Set.of(ats(1)), w.lookup(), "the forgotten one is asked for; the known one is not");
    d.status(ats(1), TaskStatus.COMPLETED);
    assertInstanceOf(Dependencies.Ready.class, d.verdict(ats(n + 1), deps));
  }
}
