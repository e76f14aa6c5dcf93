package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * The Claude Code session of each task (the claude preset): its id is decided and written before
 * the first start ({@code <task dir>/claude-session.json}, 0600, atomically), and marked begun once
 * a run has reported it (Claude Code then has the session on disk), so that any later attempt, a
 * retry, a run after a crash or kill -9 of the service, resumes it rather than starting over. Each
 * call is one small file read or write; safe from any attempt thread (one attempt per task at a time).
 */
final class ClaudeSessions {
  private static final ObjectMapper M = new ObjectMapper();

  /** A task's session: its id, and whether a run has begun it (then it is resumed). */
  record Session(String id, boolean begun) {}

  private ClaudeSessions() {}

  static Session of(StateDir state, TaskKey key) {
    Path f = file(state, key);
    try {
      if (Files.isRegularFile(f)) {
        JsonNode n = M.readTree(f.toFile());
        if (n.hasNonNull("id")) return new Session(n.get("id").asText(), n.path("begun").asBoolean(false));
      }
      Session s = new Session(UUID.randomUUID().toString(), false);
      write(f, s);
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the Claude session of task " + key + ": " + e.getMessage(), e);
    }
  }

  /** A run reported the session: from now on it is resumed. */
  static void begun(StateDir state, TaskKey key, String id) {
    Path f = file(state, key);
    try {
      write(f, new Session(id, true));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the Claude session of task " + key + ": " + e.getMessage(), e);
    }
  }

  /** Claude Code has no such session: the next attempt starts it anew (same id, {@code --session-id}). */
  static void lost(StateDir state, TaskKey key, String id) {
    Path f = file(state, key);
    try {
      write(f, new Session(id, false));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the Claude session of task " + key + ": " + e.getMessage(), e);
    }
  }

  /**
   * A reader of the run's output (beside the preset's {@code stream}) that marks the session begun
   * as soon as the run reports it (system/init), once: a kill -9 of the service mid-run leaves no
   * attempt to mark it at its end, and the next attempt must resume the session, not start a new
   * one with the same id (which Claude Code refuses). Runs on the output thread.
   */
  static java.util.function.BiConsumer<String, String> markWhenReported(StateDir state, TaskKey key,
      dev.atsdispatch.exec.ClaudePreset.Stream stream, org.slf4j.Logger log) {
    java.util.concurrent.atomic.AtomicBoolean marked = new java.util.concurrent.atomic.AtomicBoolean();
    return (s, line) -> {
      String id = stream.sessionId();
      if (id == null || marked.get() || !marked.compareAndSet(false, true)) return;
      try {
        begun(state, key, id);
      } catch (RuntimeException e) {
        log.warn("task {}: {}", key, e.getMessage()); // marked again at the attempt's end
      }
    };
  }

  private static Path file(StateDir state, TaskKey key) {
    return state.taskDir(key).resolve("claude-session.json");
  }

  private static void write(Path f, Session s) throws IOException {
    AtomicFiles.createDirectories(f.getParent());
    AtomicFiles.write(f, M.createObjectNode().put("id", s.id()).put("begun", s.begun()).toString()
        .getBytes(java.nio.charset.StandardCharsets.UTF_8), AtomicFiles.OWNER_ONLY);
  }
}
