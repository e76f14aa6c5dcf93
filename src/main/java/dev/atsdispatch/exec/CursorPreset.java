package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code cursor-agent} preset (issue 16): Cursor's CLI in print mode with {@code
 * --output-format stream-json}, a format close to Claude Code's ({@code system/init} with the
 * session id, {@code user}, {@code assistant}, {@code tool_call} started/completed, a final {@code
 * result}). The session (Cursor's chat id) is read from the output and resumed with {@code
 * --resume <id>}. Cursor reports tokens (in newer builds), not cost or turns. Stateless.
 */
public final class CursorPreset implements Preset {
  public static final CursorPreset INSTANCE = new CursorPreset();

  private CursorPreset() {}

  @Override
  public String name() {
    return "cursor-agent";
  }

  @Override
  public String program() {
    return "cursor-agent";
  }

  @Override
  public List<String> supports() {
    return List.of("stream-json output read back", "session resume (--resume <chat id>)", "tokens (no cost)",
        "usage-limit pause", "modes (auto and danger: --force)");
  }

  /** Null: Cursor names the chat itself ({@code system/init}). */
  @Override
  public String newSession(Path dir) {
    return null;
  }

  /**
   * {@code base}, {@code -p --output-format stream-json}, {@code --resume <id>} to go on with a
   * session, and the mode as agent-dispatch maps it: {@code standard} none (Cursor's own
   * permissions), {@code auto} and {@code danger} both {@code --force} (commands allowed unless
   * Cursor's deny rules say otherwise).
   */
  @Override
  public List<String> argv(List<String> base, String mode, String session, boolean resume) {
    List<String> a = new ArrayList<>(base);
    if (!a.contains("-p") && !a.contains("--print")) a.add("-p");
    a.addAll(List.of("--output-format", "stream-json"));
    if (resume && session != null) a.addAll(List.of("--resume", session));
    switch (mode) {
      case "standard" -> { }
      case "auto", "danger" -> a.add("--force");
      default -> throw Preset.badMode(mode);
    }
    return a;
  }

  /**
   * {@code system} names the session; an {@code assistant} message is the last text; the final
   * {@code result} gives the response, {@code is_error} and its usage (camelCase in Cursor's
   * builds, snake_case accepted too).
   */
  @Override
  public void read(JsonNode e, PresetReader.Tally t) {
    switch (e.path("type").asText()) {
      case "system" -> t.session(e.path("session_id").asText(null));
      case "assistant" -> {
        String text = PresetReader.text(e.path("message").path("content"));
        if (text != null) t.lastText = text;
      }
      case "result" -> {
        t.finished = true;
        t.session(e.path("session_id").asText(null));
        if (e.hasNonNull("result")) t.response = e.get("result").asText();
        JsonNode u = e.path("usage");
        t.totals(PresetReader.num(u, "inputTokens", "input_tokens"), PresetReader.num(u, "outputTokens", "output_tokens"),
            PresetReader.num(u, "cacheReadTokens", "cache_read_input_tokens"),
            PresetReader.num(u, "cacheWriteTokens", "cache_creation_input_tokens"));
        if (e.path("is_error").asBoolean(false)) t.failed(e.path("result").asText(e.path("subtype").asText("error")));
      }
      default -> { }
    }
  }
}
