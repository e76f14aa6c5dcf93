package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * The {@code claude} preset (issue 16): Claude Code's print mode with structured output. It builds
 * the argv ({@code -p --output-format stream-json --verbose}, the session flag, the permission
 * flags of the execution mode) and reads the stream back ({@link Stream}): the response is the
 * final result's text, and the outputs gain the session id, cost, tokens and turns. Stateless.
 */
public final class ClaudePreset {
  private static final ObjectMapper M = new ObjectMapper();

  /** The prompt of a resumed session: the task itself is in the session already. */
  public static final String CONTINUE = "Your previous attempt at this task was interrupted before it finished. "
      + "Continue where you left off and complete the task; end with your final answer.";

  private ClaudePreset() {}

  /** A limit a run ended on: when it resets (null: not said), and the agent's words. */
  public record Limit(java.time.Instant reset, String detail) {}

  private static final java.util.regex.Pattern LIMIT_TEXT =
      java.util.regex.Pattern.compile("(?i)usage limit|rate limit|rate_limit|\\(429\\)");
  private static final java.util.regex.Pattern RESET = java.util.regex.Pattern.compile("\\|(\\d{10})\\b");

  /**
   * The argv: {@code base} (the program and any arguments of the user's, e.g. {@code claude
   * --model sonnet}), print mode with stream-json, then {@code --session-id id} for a new session
   * or {@code --resume id} to go on with it, then the mode: {@code standard} (Claude Code's own
   * permission prompts, which print mode answers with a refusal), {@code auto} ({@code
   * --permission-mode acceptEdits}) or {@code danger} ({@code --dangerously-skip-permissions}).
   */
  public static List<String> argv(List<String> base, String mode, String sessionId, boolean resume) {
    List<String> a = new ArrayList<>(base);
    if (!a.contains("-p") && !a.contains("--print")) a.add("-p");
    a.addAll(List.of("--output-format", "stream-json", "--verbose"));
    a.addAll(resume ? List.of("--resume", sessionId) : List.of("--session-id", sessionId));
    switch (mode) {
      case "standard" -> { }
      case "auto" -> a.addAll(List.of("--permission-mode", "acceptEdits"));
      case "danger" -> a.add("--dangerously-skip-permissions");
      default -> throw new IllegalArgumentException("agent.mode must be standard, auto or danger");
    }
    return a;
  }

  /**
   * Reads Claude Code's stream-json output line by line (as the agent prints it) and keeps what
   * the result needs: the final {@code result} event, and the session id from {@code system/init}.
   * Holds one event at a time; thread-safe (the output thread writes, the attempt thread reads).
   */
  public static final class Stream implements BiConsumer<String, String> {
    private volatile JsonNode result;
    private volatile String sessionId;

    @Override
    public void accept(String stream, String line) {
      if (!stream.equals("stdout") || line.isEmpty() || line.charAt(0) != '{') return;
      JsonNode e;
      try {
        e = M.readTree(line);
      } catch (Exception x) {
        return; // not an event of the stream
      }
      String type = e.path("type").asText();
      if (type.equals("system") && e.hasNonNull("session_id")) sessionId = e.get("session_id").asText();
      if (type.equals("result")) result = e;
    }

    /** The session the run reported (system/init), or null before it did. */
    public String sessionId() {
      return sessionId;
    }

    /** The final result event, or null when the run ended without one (killed, crashed). */
    public JsonNode result() {
      return result;
    }

    /** The response: the result's text; null without a result. */
    public String response() {
      JsonNode r = result;
      return r == null || !r.hasNonNull("result") ? null : r.get("result").asText();
    }

    /**
     * Whether the run was to resume a session Claude Code does not have ("No conversation found
     * with session ID", e.g. the service was killed before Claude Code wrote it, or the agents'
     * HOME changed): the next attempt must start that session anew.
     */
    public boolean noConversation() {
      JsonNode r = result;
      if (r == null || !r.path("is_error").asBoolean(false)) return false;
      for (JsonNode e : r.path("errors")) if (e.asText().startsWith("No conversation found")) return true;
      return r.path("result").asText("").startsWith("No conversation found");
    }

    public boolean isError() {
      JsonNode r = result;
      return r != null && r.path("is_error").asBoolean(false);
    }

    /**
     * A usage or rate limit the run ended on (the API's 429, or Claude Code's "usage limit"
     * message), with its reset time where the text gives one ({@code ...|<epoch seconds>}); null
     * when the run did not end on a limit.
     */
    public Limit limit() {
      JsonNode r = result;
      if (r == null || !r.path("is_error").asBoolean(false)) return null;
      String text = r.path("result").asText("");
      boolean limited = r.path("api_error_status").asInt(0) == 429
          || LIMIT_TEXT.matcher(text).find();
      if (!limited) return null;
      java.util.regex.Matcher m = RESET.matcher(text);
      java.time.Instant reset = m.find() ? java.time.Instant.ofEpochSecond(Long.parseLong(m.group(1))) : null;
      return new Limit(reset, text.length() > 300 ? text.substring(0, 300) : text);
    }

    /** What the outputs gain: session id, cost, tokens, turns, whether Claude Code called it an error. */
    public ObjectNode facts() {
      ObjectNode o = M.createObjectNode();
      JsonNode r = result;
      String sid = r != null && r.hasNonNull("session_id") ? r.get("session_id").asText() : sessionId;
      if (sid != null) o.put("session_id", sid);
      if (r == null) return o;
      if (r.has("total_cost_usd")) o.put("cost_usd", r.get("total_cost_usd").asDouble());
      JsonNode u = r.path("usage");
      for (String f : List.of("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")) {
        if (u.has(f)) o.put(f, u.get(f).asLong());
      }
      if (r.has("num_turns")) o.put("num_turns", r.get("num_turns").asInt());
      o.put("is_error", r.path("is_error").asBoolean(false));
      return o;
    }
  }
}
