package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * An agentbus 0.1.0 task message ({@code agent.<id>.tasks}), read as its worker reads it: at most
 * {@code max_task_bytes}, strict UTF-8, a JSON object with {@code id, from, to, type, task_type}
 * present and truthy (Python's {@code not data.get(f)}: absent, null, "", 0, false, [] and {} are
 * missing), a falsy {@code payload} taken as {} and any other non-object refused; the five fields
 * become strings as Python's {@code str()} makes them, {@code reply_to} and {@code created_at} are
 * kept as they are, and other fields are dropped. Where agentbus only terminates a bad message,
 * {@link Invalid} names the problem for the failed result this worker publishes. A value.
 */
record AgentbusTask(String id, String from, String to, JsonNode replyTo, String type, String taskType,
    ObjectNode payload, JsonNode createdAt) {
  private static final ObjectMapper M = new ObjectMapper();
  static final int DEFAULT_MAX_TASK_BYTES = 1_048_576;
  private static final List<String> REQUIRED = List.of("id", "from", "to", "type", "task_type");

  /** What a message is to the worker. */
  sealed interface Parsed {}

  record Ok(AgentbusTask task) implements Parsed {}

  /** Not a task: {@code reason} in agentbus's words where it has them. */
  record Invalid(String reason) implements Parsed {}

  static Parsed parse(byte[] raw, int maxTaskBytes) {
    if (raw.length > maxTaskBytes) return new Invalid("message exceeds max task bytes: " + raw.length);
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
    } catch (CharacterCodingException e) {
      return new Invalid("task message is not valid UTF-8");
    }
    JsonNode data;
    try {
      data = M.readTree(text);
    } catch (Exception e) {
      return new Invalid("task message is not valid JSON");
    }
    if (data == null || !data.isObject()) return new Invalid("task message must be a JSON object");
    List<String> missing = new ArrayList<>();
    for (String f : REQUIRED) {
      if (!truthy(data.get(f))) missing.add(f);
    }
    if (!missing.isEmpty()) return new Invalid("missing required fields: " + String.join(", ", missing));
    JsonNode payload = data.get("payload");
    ObjectNode p;
    if (!truthy(payload)) {
      p = JsonNodeFactory.instance.objectNode();
    } else if (payload.isObject()) {
      p = (ObjectNode) payload;
    } else {
      return new Invalid("payload must be an object");
    }
    return new Ok(new AgentbusTask(str(data.get("id")), str(data.get("from")), str(data.get("to")),
        orNull(data.get("reply_to")), str(data.get("type")), str(data.get("task_type")), p,
        orNull(data.get("created_at"))));
  }

  /** The task as agentbus's {@code as_dict} orders it: in the prompt and, whole, in the result. */
  /** The same task with another payload (an encrypted task's, opened). */
  AgentbusTask withPayload(ObjectNode p) {
    return new AgentbusTask(id, from, to, replyTo, type, taskType, p, createdAt);
  }

  ObjectNode asDict() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("id", id).put("from", from).put("to", to);
    o.set("reply_to", replyTo);
    o.put("type", type).put("task_type", taskType);
    o.set("payload", payload);
    o.set("created_at", createdAt);
    return o;
  }

  /**
   * Where the result goes: {@code agent.<reply_to, else from>.results}, the id trimmed and without
   * its {@code agent-} prefix. A {@code reply_to} that is not a string, or an id that is blank,
   * throws IllegalArgumentException naming it (agentbus's worker stops on these).
   */
  String resultSubject() {
    String to;
    if (replyTo != null && !replyTo.isNull() && !(replyTo.isTextual() && replyTo.asText().isEmpty())) {
      if (!replyTo.isTextual()) throw new IllegalArgumentException("reply_to must be a string");
      to = replyTo.asText();
    } else {
      to = from;
    }
    return "agent." + normalizeAgentId(to) + ".results";
  }

  /** agentbus's {@code normalize_agent_id}: trimmed, not blank, without a leading {@code agent-}. */
  static String normalizeAgentId(String id) {
    String s = id == null ? "" : id.strip();
    if (s.isEmpty()) throw new IllegalArgumentException("agent id is required");
    return s.startsWith("agent-") ? s.substring("agent-".length()) : s;
  }

  private static JsonNode orNull(JsonNode n) {
    return n == null ? JsonNodeFactory.instance.nullNode() : n;
  }

  /** A NATS subject token: not empty, no dot, space, control character, {@code *} or {@code >}. */
  static boolean subjectToken(String s) {
    if (s == null || s.isEmpty()) return false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '.' || c == '*' || c == '>' || c <= ' ' || c == 0x7f) return false;
    }
    return true;
  }

  /**
   * Where the result of a task goes, or why there is no such place: the {@code reply_to} (else
   * {@code from}) must name an agent whose id is one subject token.
   */
  static String resultSubjectProblem(AgentbusTask t) {
    try {
      String subject = t.resultSubject();
      String id = subject.substring("agent.".length(), subject.length() - ".results".length());
      return subjectToken(id) ? null : "reply address \"" + id + "\" cannot be a subject token (no dots, spaces, * or >)";
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /** Python's truth value of a JSON value. */
  static boolean truthy(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) return false;
    if (n.isTextual()) return !n.asText().isEmpty();
    if (n.isBoolean()) return n.asBoolean();
    if (n.isNumber()) return n.isIntegralNumber() ? n.bigIntegerValue().signum() != 0 : n.doubleValue() != 0;
    if (n.isContainerNode()) return !n.isEmpty();
    return true;
  }

  /** Python's {@code str()} of a JSON value, for the fields agentbus coerces. */
  static String str(JsonNode n) {
    if (n.isTextual()) return n.asText();
    if (n.isBoolean()) return n.asBoolean() ? "True" : "False";
    if (n.isIntegralNumber()) return n.bigIntegerValue().toString();
    if (n.isNumber()) return PyJson.floatRepr(n.doubleValue());
    return PyJson.compact(n); // a dict or list: Python's repr differs (quotes, spaces); no publisher sends one
  }
}
