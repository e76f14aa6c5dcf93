package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.UUID;

/**
 * The task message agentbus 0.1.0's {@code agentbus task publish} sends, field for field: id
 * {@code task-<uuid>}, {@code from}/{@code to}/{@code reply_to} as {@code agent-<id>}, type
 * {@code task.request}, and a payload {@code {"fmt": "text"|"json", "content": ...}}; on subject
 * {@code agent.<to>.tasks}. Errors in agentbus's words. Stateless.
 */
public final class AgentbusPublish {
  private static final ObjectMapper M = new ObjectMapper();

  private AgentbusPublish() {}

  /** One message for one target; IllegalArgumentException says what is wrong with the input. */
  public static ObjectNode task(String content, String payloadFmt, String from, String to, String replyTo,
      String taskType, UUID id) {
    if (content == null || content.isEmpty()) throw new IllegalArgumentException("content is required");
    if (taskType == null || taskType.isBlank()) throw new IllegalArgumentException("task_type is required");
    String fmt = payloadFmt == null || payloadFmt.isEmpty() ? "text" : payloadFmt;
    ObjectNode payload = JsonNodeFactory.instance.objectNode().put("fmt", fmt);
    switch (fmt) {
      case "text" -> payload.put("content", content);
      case "json" -> {
        JsonNode v;
        try {
          v = M.readTree(content);
        } catch (Exception e) {
          v = null;
        }
        if (v == null || v.isMissingNode()) {
          throw new IllegalArgumentException("content must be valid JSON when --payload-fmt json is used");
        }
        payload.set("content", v);
      }
      default -> throw new IllegalArgumentException("payload_fmt must be text or json");
    }
    String sender = AgentbusTask.normalizeAgentId(from == null ? "main" : from);
    String reply = AgentbusTask.normalizeAgentId(replyTo == null ? sender : replyTo);
    ObjectNode t = JsonNodeFactory.instance.objectNode();
    t.put("id", "task-" + id);
    t.put("from", "agent-" + sender);
    t.put("to", "agent-" + AgentbusTask.normalizeAgentId(to));
    t.put("type", "task.request");
    t.put("task_type", taskType);
    t.set("payload", payload);
    t.put("reply_to", "agent-" + reply);
    return t;
  }

  /** {@code agent.<id>.results}: where results for agent {@code id} are kept. */
  public static String resultSubject(String id) {
    return "agent." + AgentbusTask.normalizeAgentId(id) + ".results";
  }

  /** {@code agent.<id>.tasks}. */
  public static String subject(String to) {
    return "agent." + AgentbusTask.normalizeAgentId(to) + ".tasks";
  }

  /** The message's bytes as agentbus writes them (compact, UTF-8 raw). */
  public static byte[] bytes(JsonNode task) {
    return PyJson.compact(task).getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  /** The line {@code publish} prints: compact JSON of the task, or of the list when there are several. */
  public static String printed(JsonNode taskOrList) {
    return PyJson.compact(taskOrList);
  }
}
