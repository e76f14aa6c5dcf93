package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Engine behaviour on fakes: no sockets, no processes, the fake clock. */
@Timeout(30)
final class EngineCoreTest {
  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  @Test
  void aTaskOfferedRunsOnceAndIsCompletedOnce() {
    h = new EngineHarness(dir, EngineHarness.config(dir)).start();
    TaskKey k = h.source.add(1);
    h.source.offer(k);
    Wait.until("the task to be completed", () -> h.source.store().status(k) == TaskStatus.COMPLETED);
    assertEquals(1, h.source.count(Op.CLAIM, k));
    assertEquals(1, h.source.count(Op.COMPLETE, k));
    assertEquals(1, h.runner.starts(k).size());
  }
}
