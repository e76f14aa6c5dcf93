package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code codex} preset (issue 16): OpenAI Codex's {@code codex exec --json}, whose stdout is
 * JSONL events ({@code thread.started}, {@code turn.started}, {@code item.*}, {@code
 * turn.completed} with the turn's usage, {@code turn.failed}, {@code error}). The thread id it
 * reports is the session; a later attempt resumes it with {@code codex exec resume <id>}. Codex
 * reports tokens, not cost. Stateless.
 */
public final class CodexPreset implements Preset {
  public static final CodexPreset INSTANCE = new CodexPreset();

  private CodexPreset() {}

  @Override
  public String name() {
    return "codex";
  }

  @Override
  public String program() {
    return "codex";
  }

  @Override
  public List<String> supports() {
    return List.of("exec --json output read back", "session resume (exec resume <thread id>)", "tokens (no cost)",
        "usage-limit pause", "modes");
  }

  /** Null: codex names its thread itself ({@code thread.started}). */
  @Override
  public String newSession(Path dir) {
    return null;
  }

  /**
   * {@code codex exec [resume]}, the user's arguments (a leading {@code exec} of theirs is taken
   * as this one), {@code --json --skip-git-repo-check} (the task's work directory is no git
   * checkout of codex's trust), the mode, then for a resume the thread id, and {@code -}: the
   * prompt comes on stdin. Modes: {@code standard} (codex's own default sandbox, read-only in exec
   * mode), {@code auto} ({@code -c sandbox_mode="workspace-write"}: what {@code --full-auto} was
   * before codex dropped the flag; exec mode never asks for approvals) or {@code danger} ({@code
   * --dangerously-bypass-approvals-and-sandbox}).
   */
  @Override
  public List<String> argv(List<String> base, String mode, String session, boolean resume) {
    List<String> a = new ArrayList<>();
    a.add(base.get(0));
    a.add("exec");
    if (resume) a.add("resume");
    List<String> rest = base.subList(1, base.size());
    if (!rest.isEmpty() && rest.get(0).equals("exec")) rest = rest.subList(1, rest.size());
    a.addAll(rest);
    if (!a.contains("--json")) a.add("--json");
    if (!a.contains("--skip-git-repo-check")) a.add("--skip-git-repo-check");
    switch (mode) {
      case "standard" -> { }
      case "auto" -> a.addAll(List.of("-c", "sandbox_mode=\"workspace-write\""));
      case "danger" -> a.add("--dangerously-bypass-approvals-and-sandbox");
      default -> throw Preset.badMode(mode);
    }
    if (resume) a.add(session);
    a.add("-");
    return a;
  }

  /**
   * {@code thread.started} names the session; an {@code agent_message} item is the last text, and
   * the response once its turn completes; {@code turn.completed} adds its usage ({@code
   * cached_input_tokens} are cache reads) and counts a turn; {@code turn.failed} and {@code error}
   * are the run's failure.
   */
  @Override
  public void read(JsonNode e, PresetReader.Tally t) {
    switch (e.path("type").asText()) {
      case "thread.started" -> t.session(e.path("thread_id").asText(null));
      case "item.completed" -> {
        JsonNode item = e.path("item");
        if (item.path("type").asText().equals("agent_message") && item.hasNonNull("text")) {
          t.lastText = item.get("text").asText();
        }
      }
      case "turn.started" -> {
        t.finished = false;
        t.response = null;
      }
      case "turn.completed" -> {
        JsonNode u = e.path("usage");
        t.tokens(PresetReader.num(u, "input_tokens"), PresetReader.num(u, "output_tokens"),
            PresetReader.num(u, "cached_input_tokens"), PresetReader.num(u, "cache_write_input_tokens"));
        t.turn();
        t.finished = true;
        t.response = t.lastText;
        t.isError = false;
        t.error = null;
      }
      case "turn.failed" -> {
        t.turn();
        t.finished = true;
        t.failed(e.path("error").path("message").asText(null));
      }
      case "error" -> t.failed(e.path("message").asText(null));
      default -> { }
    }
  }
}
