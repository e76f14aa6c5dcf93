package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code pi} preset (issue 16): pi's ({@code @mariozechner/pi-coding-agent}) print mode with
 * {@code --mode json}, whose stdout is its session events as JSON lines ({@code session}, {@code
 * agent_start}, {@code turn_*}, {@code message_*} with each assistant message's usage and cost,
 * {@code agent_end}). The session is a file the service names before the first start ({@code
 * --session <file>}); a later attempt passes the same file, and pi goes on with it. Stateless.
 */
public final class PiPreset implements Preset {
  public static final PiPreset INSTANCE = new PiPreset();

  /** The session file's name in the task's session directory. */
  static final String SESSION_FILE = "pi-session.jsonl";

  private PiPreset() {}

  @Override
  public String name() {
    return "pi";
  }

  @Override
  public String program() {
    return "pi";
  }

  @Override
  public List<String> supports() {
    return List.of("--mode json output read back", "session resume (--session <file>)", "cost and tokens",
        "usage-limit pause", "no mode flags (pi has none)");
  }

  /** Turns and cost: its output reports both. */
  @Override
  public List<String> budgets() {
    return List.of("turns", "cost");
  }

  /** A session file in {@code dir}, decided before the start: pi writes its session there. */
  @Override
  public String newSession(Path dir) {
    return dir.resolve(SESSION_FILE).toAbsolutePath().toString();
  }

  /**
   * {@code base}, {@code -p --mode json}, then {@code --session <file>} (a new session and a
   * resumed one alike: pi goes on with the file it is given). pi has no approval or sandbox flags:
   * every mode runs it the same (agent.sandbox is what confines it).
   */
  @Override
  public List<String> argv(List<String> base, String mode, String session, boolean resume) {
    if (!MODES.contains(mode)) throw Preset.badMode(mode);
    List<String> a = new ArrayList<>(base);
    if (!a.contains("-p") && !a.contains("--print")) a.add("-p");
    a.addAll(List.of("--mode", "json"));
    if (session != null) a.addAll(List.of("--session", session));
    return a;
  }

  /**
   * {@code session} names it (its header's id); each assistant {@code message_end} adds its usage
   * and cost, and is the last text, or the failure when its stop reason is {@code error} (a later
   * one that succeeds, after pi's own retry, clears it); {@code turn_start} a turn begun (what a
   * turn budget watches), {@code turn_end} a turn done; {@code
   * agent_end} finishes the run with the last text as the response.
   */
  @Override
  public void read(JsonNode e, PresetReader.Tally t) {
    switch (e.path("type").asText()) {
      case "session" -> t.session(e.path("id").asText(null));
      case "turn_start" -> t.turnsBegun++;
      case "turn_end" -> t.turn();
      case "message_end" -> {
        JsonNode m = e.path("message");
        if (!m.path("role").asText().equals("assistant")) return;
        JsonNode u = m.path("usage");
        t.tokens(PresetReader.num(u, "input"), PresetReader.num(u, "output"), PresetReader.num(u, "cacheRead"),
            PresetReader.num(u, "cacheWrite"));
        JsonNode cost = u.path("cost").path("total");
        if (cost.isNumber()) t.cost(cost.asDouble());
        String stop = m.path("stopReason").asText("");
        if (stop.equals("error") || stop.equals("aborted")) {
          t.failed(m.path("errorMessage").asText(stop));
        } else {
          t.isError = false;
          t.error = null;
          String text = PresetReader.text(m.path("content"));
          if (text != null) t.lastText = text;
        }
      }
      case "auto_retry_end" -> {
        if (!e.path("success").asBoolean(true)) t.failed(e.path("finalError").asText(null));
      }
      case "agent_end" -> {
        t.finished = true;
        t.response = t.isError ? null : t.lastText;
      }
      default -> { }
    }
  }
}
