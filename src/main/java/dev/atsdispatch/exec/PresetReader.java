package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads one attempt's output through its {@link Preset}, line by line as the agent prints it, and
 * keeps what the result needs: the session, the response (the final result text), whether the run
 * said it failed, and the running cost, tokens and turns ({@link #facts()}, readable at any time
 * while the agent runs). Holds the tally only, never the output; thread-safe (the output thread
 * writes, any thread reads).
 */
public final class PresetReader implements BiConsumer<String, String> {
  private static final ObjectMapper M = new ObjectMapper();
  private static final Pattern LIMIT_TEXT = Pattern.compile("(?i)usage limit|rate limit|rate_limit|\\(429\\)");
  private static final Pattern RESET = Pattern.compile("\\|(\\d{10})\\b");

  /** A budget limit the CLI itself stopped the run at (its own flags: claude's --max-turns, --max-budget-usd). */
  public enum BudgetStop { TURNS, COST }

  /** A limit a run ended on: when it resets (null: not said), and the agent's words. */
  public record Limit(Instant reset, String detail) {}

  /**
   * What the output said so far. {@code finished}: a final event came (a result, the end of the
   * turn); {@code response}: its text (null before, or when it had none); {@code lastText}: the
   * last assistant text seen, final or not; {@code error}: the failure the run reported; the
   * numbers are null where the CLI did not give them; {@code turnsBegun}: turns the run has begun
   * (0 where the CLI does not say when one begins); {@code budgetStop}: the budget limit the CLI
   * stopped the run at (its own flags), or null.
   */
  public record Facts(String sessionId, boolean finished, String response, String lastText, boolean isError,
      String error, Integer apiErrorStatus, Double costUsd, Long inputTokens, Long outputTokens,
      Long cacheReadTokens, Long cacheWriteTokens, Integer numTurns, int turnsBegun, BudgetStop budgetStop) {

    /** The fields the task's outputs gain: session_id, cost_usd, the token counts, num_turns, is_error. */
    public ObjectNode outputs() {
      ObjectNode o = M.createObjectNode();
      if (sessionId != null) o.put("session_id", sessionId);
      if (costUsd != null) o.put("cost_usd", costUsd);
      if (inputTokens != null) o.put("input_tokens", inputTokens);
      if (outputTokens != null) o.put("output_tokens", outputTokens);
      if (cacheWriteTokens != null) o.put("cache_creation_input_tokens", cacheWriteTokens);
      if (cacheReadTokens != null) o.put("cache_read_input_tokens", cacheReadTokens);
      if (numTurns != null) o.put("num_turns", numTurns);
      if (finished || isError) o.put("is_error", isError);
      return o;
    }
  }

  /** The mutable tally a preset reads events into; only the reader's output thread touches it. */
  public static final class Tally {
    String sessionId;
    boolean finished;
    String response;
    String lastText;
    boolean isError;
    String error;
    Integer apiErrorStatus;
    Double costUsd;
    Long inputTokens;
    Long outputTokens;
    Long cacheReadTokens;
    Long cacheWriteTokens;
    Integer numTurns;
    int turnsBegun;
    BudgetStop budgetStop;
    /** The run was to resume a session the CLI does not have (Claude Code's "No conversation found"). */
    boolean noSession;

    Tally() {}

    void session(String id) {
      if (id != null && !id.isBlank()) sessionId = id;
    }

    void cost(double usd) {
      costUsd = (costUsd == null ? 0 : costUsd) + usd;
    }

    /** Adds to the token counts; a negative count is one the event did not give. */
    void tokens(long input, long output, long cacheRead, long cacheWrite) {
      if (input >= 0) inputTokens = (inputTokens == null ? 0 : inputTokens) + input;
      if (output >= 0) outputTokens = (outputTokens == null ? 0 : outputTokens) + output;
      if (cacheRead >= 0) cacheReadTokens = (cacheReadTokens == null ? 0 : cacheReadTokens) + cacheRead;
      if (cacheWrite >= 0) cacheWriteTokens = (cacheWriteTokens == null ? 0 : cacheWriteTokens) + cacheWrite;
    }

    /** Sets the token counts (a CLI that reports the run's totals); negative: not given. */
    void totals(long input, long output, long cacheRead, long cacheWrite) {
      inputTokens = input >= 0 ? Long.valueOf(input) : inputTokens;
      outputTokens = output >= 0 ? Long.valueOf(output) : outputTokens;
      cacheReadTokens = cacheRead >= 0 ? Long.valueOf(cacheRead) : cacheReadTokens;
      cacheWriteTokens = cacheWrite >= 0 ? Long.valueOf(cacheWrite) : cacheWriteTokens;
    }

    void turn() {
      numTurns = (numTurns == null ? 0 : numTurns) + 1;
    }

    void failed(String why) {
      isError = true;
      if (why != null && !why.isBlank()) error = why;
    }

    Facts facts() {
      return new Facts(sessionId, finished, response, lastText, isError, error, apiErrorStatus, costUsd, inputTokens,
          outputTokens, cacheReadTokens, cacheWriteTokens, numTurns, turnsBegun, budgetStop);
    }
  }

  /** A number field of {@code n}, or -1 when it is not there. */
  static long num(JsonNode n, String... names) {
    for (String f : names) if (n.hasNonNull(f) && n.get(f).isNumber()) return n.get(f).asLong();
    return -1;
  }

  /** The text blocks of a message's {@code content} (a string or an array of blocks), joined; null if none. */
  static String text(JsonNode content) {
    if (content.isTextual()) return content.asText();
    StringBuilder b = new StringBuilder();
    for (JsonNode c : content) {
      if (c.path("type").asText().equals("text") && c.hasNonNull("text")) b.append(c.get("text").asText());
    }
    return b.isEmpty() ? null : b.toString();
  }

  private final Preset preset;
  private final Tally tally = new Tally();
  private volatile Facts facts;
  private volatile boolean noSession;

  PresetReader(Preset preset) {
    this.preset = preset;
    this.facts = tally.facts();
  }

  public Preset preset() {
    return preset;
  }

  @Override
  public void accept(String stream, String line) {
    if (!stream.equals("stdout") || line.isEmpty() || line.charAt(0) != '{') return;
    JsonNode e;
    try {
      e = M.readTree(line);
    } catch (Exception x) {
      return; // not an event of the stream
    }
    synchronized (tally) {
      preset.read(e, tally);
      facts = tally.facts();
      noSession = tally.noSession;
    }
  }

  /**
   * Whether the run was to resume a session its CLI does not have (the service was killed before
   * the CLI wrote it, or the agents' HOME changed): the next attempt must start it anew.
   */
  public boolean noSession() {
    return noSession;
  }

  /** What the output said so far. */
  public Facts facts() {
    return facts;
  }

  /** The session the run reported, or null before it did. */
  public String sessionId() {
    return facts.sessionId();
  }

  /** The response: the final result's text; null without one (the run was killed, crashed, or had none). */
  public String response() {
    return facts.response();
  }

  /** Whether the run said it failed (an error result, a failed turn, an API error). */
  public boolean isError() {
    return facts.isError();
  }

  /**
   * A usage or rate limit the run ended on (the API's 429, or a "usage limit" message), with its
   * reset time where the text gives one ({@code ...|<epoch seconds>}); null when the run did not
   * end on a limit.
   */
  public Limit limit() {
    Facts f = facts;
    if (!f.isError()) return null;
    String text = f.error() != null ? f.error() : f.response() != null ? f.response() : "";
    boolean limited = (f.apiErrorStatus() != null && f.apiErrorStatus() == 429) || LIMIT_TEXT.matcher(text).find();
    if (!limited) return null;
    Matcher m = RESET.matcher(text);
    Instant reset = m.find() ? Instant.ofEpochSecond(Long.parseLong(m.group(1))) : null;
    return new Limit(reset, text.length() > 300 ? text.substring(0, 300) : text);
  }
}
