package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The {@code claude} preset (issue 16): Claude Code's print mode with structured output. The argv
 * is {@code -p --output-format stream-json --verbose}, the session flag and the permission flags of
 * the execution mode; the stream's final {@code result} event gives the response, session, cost,
 * tokens and turns. Stateless.
 */
public final class ClaudePreset implements Preset {
  public static final ClaudePreset INSTANCE = new ClaudePreset();

  private ClaudePreset() {}

  @Override
  public String name() {
    return "claude";
  }

  @Override
  public String program() {
    return "claude";
  }

  @Override
  public List<String> supports() {
    return List.of("stream-json output read back", "session resume (--session-id, --resume)", "cost and tokens",
        "usage-limit pause", "modes");
  }

  /** Turns and cost: its output reports both. */
  @Override
  public List<String> budgets() {
    return List.of("turns", "cost");
  }

  /** A new UUID: Claude Code takes the session id it is given ({@code --session-id}). */
  @Override
  public String newSession(Path dir) {
    return UUID.randomUUID().toString();
  }

  /**
   * {@code base} (e.g. {@code claude --model sonnet}), print mode with stream-json, then {@code
   * --session-id id} for a new session or {@code --resume id} to go on with it, then the mode:
   * {@code standard} (Claude Code's own permission prompts, which print mode answers with a
   * refusal), {@code auto} ({@code --permission-mode acceptEdits}) or {@code danger} ({@code
   * --dangerously-skip-permissions}).
   */
  @Override
  public List<String> argv(List<String> base, String mode, String session, boolean resume) {
    List<String> a = new ArrayList<>(base);
    if (!a.contains("-p") && !a.contains("--print")) a.add("-p");
    a.addAll(List.of("--output-format", "stream-json", "--verbose"));
    if (session != null) a.addAll(resume ? List.of("--resume", session) : List.of("--session-id", session));
    switch (mode) {
      case "standard" -> { }
      case "auto" -> a.addAll(List.of("--permission-mode", "acceptEdits"));
      case "danger" -> a.add("--dangerously-skip-permissions");
      default -> throw Preset.badMode(mode);
    }
    return a;
  }

  /** {@code --max-turns N} and {@code --max-budget-usd X}, for the limits that are set. */
  @Override
  public List<String> budgetFlags(Integer maxTurns, Double maxCostUsd) {
    List<String> a = new ArrayList<>();
    if (maxTurns != null) a.addAll(List.of("--max-turns", Integer.toString(maxTurns)));
    if (maxCostUsd != null) a.addAll(List.of("--max-budget-usd", java.math.BigDecimal.valueOf(maxCostUsd).toPlainString()));
    return a;
  }

  /**
   * {@code system/init} names the session; each {@code assistant} message's text is kept as the
   * last text; the final {@code result} gives the response, cost, usage, turns and {@code is_error}
   * (with the API's status when it failed on one); its subtype {@code error_max_turns} or {@code
   * error_max_budget_usd} is the budget limit the run stopped at ({@link #budgetFlags}).
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
        if (e.has("total_cost_usd")) t.costUsd = e.get("total_cost_usd").asDouble();
        JsonNode u = e.path("usage");
        t.totals(PresetReader.num(u, "input_tokens"), PresetReader.num(u, "output_tokens"),
            PresetReader.num(u, "cache_read_input_tokens"), PresetReader.num(u, "cache_creation_input_tokens"));
        if (e.has("num_turns")) t.numTurns = e.get("num_turns").asInt();
        switch (e.path("subtype").asText("")) {
          case "error_max_turns" -> t.budgetStop = PresetReader.BudgetStop.TURNS;
          case "error_max_budget_usd" -> t.budgetStop = PresetReader.BudgetStop.COST;
          default -> { }
        }
        if (e.path("is_error").asBoolean(false)) {
          String errors = e.path("errors").isArray() && !e.path("errors").isEmpty() ? e.path("errors").get(0).asText() : null;
          // "No conversation found with session ID ...": a resume of a session Claude Code does not have
          for (JsonNode x : e.path("errors")) if (x.asText().startsWith("No conversation found")) t.noSession = true;
          if (e.path("result").asText("").startsWith("No conversation found")) t.noSession = true;
          t.failed(e.path("result").asText(errors != null ? errors : e.path("subtype").asText("error")));
          if (e.path("api_error_status").isNumber()) t.apiErrorStatus = e.get("api_error_status").asInt();
        }
      }
      default -> { }
    }
  }
}
