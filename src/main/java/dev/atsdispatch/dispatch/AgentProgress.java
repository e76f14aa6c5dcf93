package dev.atsdispatch.dispatch;

import dev.atsdispatch.exec.PresetReader;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The agent's own progress on the task's thread: while a preset's run goes on, every
 * {@code agent.progress_every} its latest assistant text, when it changed since the last note,
 * is posted ("Agent progress (attempt N): …", at most {@link #MAX} characters). Never for an
 * encrypted task (its text is plaintext) nor a source without threads; the caller decides. The
 * check runs on the engine's timer pool; the post goes through {@code post}, which must not block.
 */
final class AgentProgress implements AutoCloseable {
  /** Characters of the agent's text a note carries (the rest is cut, with an ellipsis). */
  static final int MAX = 1000;

  private final PresetReader reader;
  private final int attempt;
  private final Consumer<String> post;
  private final ScheduledFuture<?> ticker;
  private String last;

  private AgentProgress(PresetReader reader, int attempt, Consumer<String> post, ScheduledExecutorService timers,
      Duration every) {
    this.reader = reader;
    this.attempt = attempt;
    this.post = post;
    this.ticker = timers.scheduleWithFixedDelay(this::tick, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Starts the notes of one attempt; stop them with {@link #close}. */
  static AgentProgress start(PresetReader reader, int attempt, Consumer<String> post, ScheduledExecutorService timers,
      Duration every) {
    return new AgentProgress(reader, attempt, post, timers, every);
  }

  /** The note for the agent's latest text, or null when there is nothing new to say. */
  synchronized String next() {
    PresetReader.Facts f = reader.facts();
    if (f.finished()) return null; // the result says the rest
    String text = f.lastText();
    if (text == null || text.isBlank() || text.equals(last)) return null;
    last = text;
    String t = text.strip();
    if (t.length() > MAX) t = t.substring(0, MAX) + "…";
    return "Agent progress (attempt " + attempt + "): " + t;
  }

  private void tick() {
    try {
      String note = next();
      if (note != null) post.accept(note);
    } catch (RuntimeException e) {
      // a note is only a note: the next tick tries again
    }
  }

  @Override
  public void close() {
    ticker.cancel(false);
  }
}
