package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.exec.PresetReader;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The agent's progress notes: its latest words when they changed, cut to size, none once it has its result. */
final class AgentProgressTest {
  final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timers.shutdownNow();
  }

  static void said(PresetReader r, String text) {
    r.accept("stdout", "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
        + com.fasterxml.jackson.databind.node.TextNode.valueOf(text) + "}]}}");
  }

  @Test
  void aNoteWhenTheWordsChangedAndNoneOnceTheResultCame() {
    PresetReader r = Preset.named("claude").reader();
    List<String> notes = new CopyOnWriteArrayList<>();
    try (AgentProgress p = AgentProgress.start(r, 2, notes::add, timers, Duration.ofHours(1))) {
      assertNull(p.next(), "nothing said yet");
      said(r, "Reading the files");
      assertEquals("Agent progress (attempt 2): Reading the files", p.next());
      assertNull(p.next(), "the same words again are no news");
      said(r, "x".repeat(AgentProgress.MAX + 50));
      String cut = p.next();
      assertTrue(cut.endsWith("x…") && cut.length() == "Agent progress (attempt 2): ".length() + AgentProgress.MAX + 1, cut);
      said(r, "Writing the tests");
      r.accept("stdout", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\"}");
      assertNull(p.next(), "the result says the rest");
    }
    assertEquals(List.of(), notes, "the hourly timer never fired");
  }

  @Test
  void theTimerPostsWhatChangedAndStopsWhenClosed() {
    PresetReader r = Preset.named("claude").reader();
    List<String> notes = new CopyOnWriteArrayList<>();
    AgentProgress p = AgentProgress.start(r, 1, notes::add, timers, Duration.ofMillis(20));
    said(r, "one");
    dev.atsdispatch.testing.Wait.until("the first note", () -> notes.size() == 1);
    said(r, "two");
    dev.atsdispatch.testing.Wait.until("the second note", () -> notes.size() == 2);
    assertEquals(List.of("Agent progress (attempt 1): one", "Agent progress (attempt 1): two"), notes);
    p.close();
    said(r, "three");
    // a task queued on the same timer after the close runs after any tick that was due: it proves the timer moved on
    java.util.concurrent.CompletableFuture<Void> after = new java.util.concurrent.CompletableFuture<>();
    timers.schedule(() -> after.complete(null), 60, java.util.concurrent.TimeUnit.MILLISECONDS);
    after.join();
    assertEquals(2, notes.size(), notes.toString());
  }
}
