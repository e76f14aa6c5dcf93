package dev.atsdispatch.ats;

import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.source.TaskStatus;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.time.Instant;

/**
 * A task as a client reads it (ats-protocol.md §2.3). Unknown fields are ignored; {@code payload}
 * is always an object (empty when absent) and {@code outputs} always an array.
 *
 * <p>A {@code light} task is what a light list ({@link TaskQuery#light()}) returns: everything a
 * queue needs (id, status, priority, type, channel, payload, assignee, lease and times) but no
 * {@code description} (null), no {@code outputs} (empty), and a {@code title} or {@code reason}
 * only when short (a parked task's reason tells its dependents to wait). Read the full task with
 * {@link AtsClient#get} before working on it.
 */
public record Task(
    long id,
    String title,
    String description,
    TaskStatus status,
    int priority,
    String type,
    String channel,
    JsonNode payload,
    JsonNode outputs,
    String assigneeType,
    String assigneeId,
    String assigneeName,
    Instant leaseExpires,
    String reason,
    Instant createdAt,
    Instant updatedAt,
    boolean light) {

  /** A full (not light) task. */
  public Task(long id, String title, String description, TaskStatus status, int priority,
      String type, String channel, JsonNode payload, JsonNode outputs, String assigneeType,
      String assigneeId, String assigneeName, Instant leaseExpires, String reason,
      Instant createdAt, Instant updatedAt) {
    this(id, title, description, status, priority, type, channel, payload, outputs, assigneeType,
        assigneeId, assigneeName, leaseExpires, reason, createdAt, updatedAt, false);
  }

  /** The longest title a light task keeps. */
  public static final int LIGHT_TITLE = 1024;
  /** The longest reason a light task keeps. */
  public static final int LIGHT_REASON = 1024;

  /** The task without its description and outputs (and its title and reason, unless short). */
  public Task toLight() {
    return new Task(id, title != null && title.length() <= LIGHT_TITLE ? title : null, null, status, priority, type, channel, payload,
        JsonNodeFactory.instance.arrayNode(), assigneeType, assigneeId, assigneeName, leaseExpires,
        reason != null && reason.length() <= LIGHT_REASON ? reason : null, createdAt, updatedAt, true);
  }

  /** Reads a task object; throws IllegalArgumentException when id or status is unusable. */
  public static Task fromJson(JsonNode n) {
    JsonNode idNode = n.has("id") ? n.get("id") : n.get("uuid");
    if (idNode == null || !(idNode.canConvertToLong() || idNode.asText().matches("\\d{1,18}"))) {
      throw new IllegalArgumentException("task has no integer id: " + abbreviate(n));
    }
    long id = idNode.canConvertToLong() ? idNode.asLong() : Long.parseLong(idNode.asText());
    String st = n.path("status").asText("");
    TaskStatus status = TaskStatus.fromWire(st)
        .orElseThrow(() -> new IllegalArgumentException("task " + id + " has unknown status: " + st));
    JsonNode payload = n.get("payload");
    if (payload == null || !payload.isObject()) payload = JsonNodeFactory.instance.objectNode();
    JsonNode outputs = n.get("outputs");
    if (outputs == null || outputs.isNull()) {
      outputs = JsonNodeFactory.instance.arrayNode();
    } else if (!outputs.isArray()) {
      outputs = JsonNodeFactory.instance.arrayNode().add(outputs);
    }
    return new Task(id, text(n, "title"), text(n, "description"), status,
        n.path("priority").asInt(5), text(n, "type"), text(n, "channel"), payload, outputs,
        text(n, "assignee_type"), text(n, "assignee_id"), text(n, "assignee_name"),
        time(n, "lease_expires"), text(n, "reason"), time(n, "created_at"), time(n, "updated_at"));
  }

  private static String text(JsonNode n, String f) {
    JsonNode v = n.get(f);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Instant time(JsonNode n, String f) {
    String s = text(n, f);
    if (s == null) return null;
    try {
      return WireTime.parse(s);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static String abbreviate(JsonNode n) {
    String s = n.toString();
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
