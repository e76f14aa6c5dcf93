package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The engine's table of tasks: a task done here keeps only its key and state, and is forgotten later. */
final class TaskTableTest {
  final FakeClock clock = new FakeClock();
  final TaskTable table = new TaskTable(clock);

  Tracked tracked(long id) {
    ObjectNode payload = JsonNodeFactory.instance.objectNode().put("big", "x".repeat(100_000));
    SourceTask t = new SourceTask(TaskKey.of("ats", id), TaskStatus.PENDING, 7, Instant.EPOCH, "a title", null,
        payload, true, null);
    Tracked tr = new Tracked(t, SourceEvent.Why.CREATED);
    tr.view = new TaskView(tr.key, "plaintext title", "plaintext description", payload, "alice", r -> null);
    tr.claim = new Claim(Duration.ofSeconds(1));
    tr.slots = Set.of("gpu");
    tr.offeredAt = Instant.now();
    return tr;
  }

  @Test
  void aTaskDoneHereLeavesTheTableAndLetsGoOfItsContent() {
    Tracked t = tracked(1);
    table.track(t);
    assertEquals(List.of(t.key), table.active());
    table.markDone(t);
    assertNull(table.get(t.key), "a late offer opens a new entry; admission turns it away by the ledger");
    assertEquals(Tracked.State.DONE, t.state);
    assertEquals(List.of(), table.active());
    assertNull(t.view, "no view (an encrypted task's plaintext) is held after it is done");
    assertNull(t.claim);
    assertNull(t.offeredAt);
    assertEquals(Set.of(), t.slots);
    assertNull(t.offer.title());
    assertTrue(t.offer.payload().isEmpty(), "no payload is held after it is done");
    assertEquals(7, t.priority());
    assertEquals(t.key, t.offer.key());
  }

  @Test
  void onlyTheDoneEntryGoesNotANewerOneNorTheOthers() {
    Tracked done = tracked(1);
    Tracked queued = tracked(2);
    table.track(done);
    table.track(queued);
    Tracked newer = tracked(1); // a new offer of task 1 while the old entry finishes
    table.track(newer);
    table.markDone(done);
    assertSame(newer, table.get(done.key));
    assertSame(queued, table.get(queued.key));
    assertEquals(2, table.all().size());
  }
}
