package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The backend session of each task (a preset's): {@code <task dir>/<preset>-session.json}, 0600,
 * written atomically. Where the preset decides the session before the start (claude's id, pi's
 * file) it is written before the first start; it is marked begun once a run has reported it (the
 * CLI then has it), so that any later attempt, a retry or a run after a crash or kill -9 of the
 * service, resumes it rather than starting over. A preset's own session files (pi's) go in the
 * task's session directory, inside its work directory (the one place of the task the sandbox
 * shows the agent). Each call is one small file read or write; safe from any attempt thread (one
 * attempt per task at a time).
 */
final class PresetSessions {
  private static final ObjectMapper M = new ObjectMapper();

  /** The session directory's name in the task's work directory. */
  static final String DIR = ".ats-dispatch";

  /** A task's session: its reference (null: not known yet), and whether a run has begun it (then it is resumed). */
  record Session(String id, boolean begun) {}

  private PresetSessions() {}

  static Session of(StateDir state, TaskKey key, Preset preset) {
    Path f = file(state, key, preset);
    Path dir = state.workDir(key).resolve(DIR);
    try {
      Session known = Files.isRegularFile(f) ? read(f) : null;
      if (known != null && known.id() != null) return known;
      String id = preset.newSession(dir); // null where the CLI names it: nothing to keep yet
      if (id == null) return known != null ? known : new Session(null, false);
      if (id.startsWith("/")) AtomicFiles.createDirectories(Path.of(id).getParent()); // a file of the CLI's (pi's)
      Session s = new Session(id, false);
      write(f, s);
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the " + preset.name() + " session of task " + key + ": " + e.getMessage(), e);
    }
  }

  /**
   * A run reported its session ({@code reported}): from now on it is resumed. A reference decided
   * before the start stays (pi's is its file, whatever id the run reports inside it).
   */
  static void begun(StateDir state, TaskKey key, Preset preset, String reported) {
    Path f = file(state, key, preset);
    try {
      Session known = Files.isRegularFile(f) ? read(f) : null;
      write(f, new Session(known != null && known.id() != null ? known.id() : reported, true));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the " + preset.name() + " session of task " + key + ": " + e.getMessage(), e);
    }
  }

  /** The CLI has no such session: the next attempt starts it anew under the same reference. */
  static void lost(StateDir state, TaskKey key, Preset preset) {
    Path f = file(state, key, preset);
    try {
      Session known = Files.isRegularFile(f) ? read(f) : null;
      write(f, new Session(known == null ? null : known.id(), false));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the " + preset.name() + " session of task " + key + ": " + e.getMessage(), e);
    }
  }

  /**
   * A reader of the run's output, beside the preset's, that marks the session begun as soon as the
   * run reports it, once: a kill -9 of the service mid-run leaves no attempt end to mark it, and
   * the next attempt must resume the session, not start a new one under the same id (which Claude
   * Code refuses). Runs on the output thread; a failed write is marked again at the attempt's end.
   */
  static java.util.function.BiConsumer<String, String> markWhenReported(StateDir state, TaskKey key,
      dev.atsdispatch.exec.PresetReader reader, org.slf4j.Logger log) {
    java.util.concurrent.atomic.AtomicBoolean marked = new java.util.concurrent.atomic.AtomicBoolean();
    return (stream, line) -> {
      String id = reader.sessionId();
      if (id == null || marked.get() || !marked.compareAndSet(false, true)) return;
      try {
        begun(state, key, reader.preset(), id);
      } catch (RuntimeException e) {
        log.warn("task {}: {}", key, e.getMessage());
      }
    };
  }

  private static Session read(Path f) throws IOException {
    JsonNode n = M.readTree(f.toFile());
    return new Session(n.hasNonNull("id") ? n.get("id").asText() : null, n.path("begun").asBoolean(false));
  }

  private static Path file(StateDir state, TaskKey key, Preset preset) {
    return state.taskDir(key).resolve(preset.name() + "-session.json");
  }

  private static void write(Path f, Session s) throws IOException {
    AtomicFiles.createDirectories(f.getParent());
    ObjectNode n = M.createObjectNode();
    if (s.id() != null) n.put("id", s.id());
    n.put("begun", s.begun());
    AtomicFiles.write(f, n.toString().getBytes(StandardCharsets.UTF_8), AtomicFiles.OWNER_ONLY);
  }
}
