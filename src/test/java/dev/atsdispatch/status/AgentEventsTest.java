package dev.atsdispatch.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.source.TaskKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The agents' event histories stay bounded however much an agent prints and however many tasks pass. */
final class AgentEventsTest {
  static final Instant T = Instant.parse("2026-12-07T00:00:00Z");

  @Test
  void aFloodKeepsTheNewestEventsAndASubscriberSeesTheRestLive() {
    AgentEvents ev = new AgentEvents();
    TaskKey k = TaskKey.of("ats", 1);
    ev.started(k, 1, T);
    for (int i = 0; i < 50_000; i++) ev.line(k, "stdout", "line " + i, T);
    List<AgentEvents.Event> kept = ev.get(k).events();
    assertEquals(AgentEvents.HISTORY, kept.size());
    assertEquals("line 49999", kept.get(kept.size() - 1).text());
    List<AgentEvents.Event> live = new ArrayList<>();
    List<AgentEvents.Event> past = ev.get(k).subscribe(live::add);
    assertEquals(AgentEvents.HISTORY, past.size());
    ev.finished(k, "completed", T);
    assertEquals(1, live.size());
    assertEquals("finished", live.get(0).type());
    assertEquals(past.get(past.size() - 1).seq() + 1, live.get(0).seq(), "nothing missed, nothing twice");
    assertFalse(ev.get(k).running());
    assertTrue(ev.running().isEmpty());
  }

  @Test
  void onlyTheNewestFinishedHistoriesAreKeptAndRunningOnesNeverGo() {
    AgentEvents ev = new AgentEvents();
    TaskKey running = TaskKey.of("ats", 0);
    ev.started(running, 1, T);
    for (long i = 1; i <= 500; i++) {
      ev.started(TaskKey.of("ats", i), 1, T);
      ev.finished(TaskKey.of("ats", i), "completed", T);
    }
    ev.started(TaskKey.of("ats", 501), 1, T); // a start trims
    assertTrue(ev.get(running).running(), "a running agent's history went");
    assertNull(ev.get(TaskKey.of("ats", 1)));
    assertEquals("completed", ev.get(TaskKey.of("ats", 500)).events().get(1).text());
    int kept = 0;
    for (long i = 1; i <= 500; i++) if (ev.get(TaskKey.of("ats", i)) != null) kept++;
    assertEquals(AgentEvents.FINISHED_KEPT, kept);
  }
}
