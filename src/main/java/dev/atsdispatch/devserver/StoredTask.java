package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.WireTime;
import java.time.Instant;

/**
 * One task as the dev server holds it. Immutable: every change makes a new record, which is written
 * to the database before it replaces the old one in memory. Its JSON form is both the wire format
 * (ats-protocol.md §2.3) and the stored document.
 */
record StoredTask(
    long id,
    long projectId,
    String title,
    String description,
    TaskStatus status,
    int priority,
    String type,
    String channel,
    JsonNode payload,
    JsonNode outputs,
    Actor source,
    Actor assignee,
    Instant leaseExpires,
    String reason,
    Instant createdAt,
    Instant updatedAt,
    Instant completedAt) {

  StoredTask withStatus(TaskStatus s, Instant now) {
    return new StoredTask(id, projectId, title, description, s, priority, type, channel, payload,
        outputs, source, assignee, leaseExpires, reason, createdAt, now, completedAt);
  }

  StoredTask withAssignee(Actor a, Instant lease) {
    return new StoredTask(id, projectId, title, description, status, priority, type, channel,
        payload, outputs, source, a, lease, reason, createdAt, updatedAt, completedAt);
  }

  StoredTask withOutputs(JsonNode o, Instant completed) {
    return new StoredTask(id, projectId, title, description, status, priority, type, channel,
        payload, o, source, assignee, leaseExpires, reason, createdAt, updatedAt, completed);
  }

  StoredTask withReason(String r) {
    return new StoredTask(id, projectId, title, description, status, priority, type, channel,
        payload, outputs, source, assignee, leaseExpires, r, createdAt, updatedAt, completedAt);
  }

  StoredTask withFields(String newTitle, String newDescription, int newPriority, String newType,
      String newChannel, JsonNode newPayload) {
    return new StoredTask(id, projectId, newTitle, newDescription, status, newPriority, newType,
        newChannel, newPayload, outputs, source, assignee, leaseExpires, reason, createdAt,
        updatedAt, completedAt);
  }

  ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("id", id);
    n.put("title", title);
    n.put("description", description);
    n.put("status", status.wire());
    n.put("priority", priority);
    n.put("type", type);
    n.put("channel", channel);
    n.set("payload", payload == null ? NullNode.instance : payload);
    n.set("outputs", outputs == null ? NullNode.instance : outputs);
    n.put("source_type", source.type());
    n.put("source_id", source.id());
    n.put("source_name", source.name());
    n.put("assignee_type", assignee == null ? null : assignee.type());
    n.put("assignee_id", assignee == null ? null : assignee.id());
    n.put("assignee_name", assignee == null ? null : assignee.name());
    n.put("lease_expires", WireTime.format(leaseExpires));
    n.put("reason", reason);
    n.put("project_id", projectId);
    n.put("created_at", WireTime.format(createdAt));
    n.put("updated_at", WireTime.format(updatedAt));
    n.put("completed_at", WireTime.format(completedAt));
    return n;
  }

  static StoredTask fromJson(JsonNode n) {
    Actor assignee = n.path("assignee_id").isTextual()
        ? new Actor(n.path("assignee_type").asText(), n.path("assignee_id").asText(),
            n.path("assignee_name").asText())
        : null;
    return new StoredTask(
        n.path("id").asLong(),
        n.path("project_id").asLong(),
        n.path("title").asText(),
        text(n, "description"),
        TaskStatus.fromWire(n.path("status").asText()).orElseThrow(),
        n.path("priority").asInt(),
        n.path("type").asText(),
        n.path("channel").asText(),
        n.path("payload").isNull() ? null : n.path("payload"),
        n.path("outputs").isNull() ? null : n.path("outputs"),
        new Actor(n.path("source_type").asText(), n.path("source_id").asText(),
            n.path("source_name").asText()),
        assignee,
        time(n, "lease_expires"),
        text(n, "reason"),
        time(n, "created_at"),
        time(n, "updated_at"),
        time(n, "completed_at"));
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Instant time(JsonNode n, String field) {
    String s = text(n, field);
    return s == null ? null : WireTime.parse(s);
  }
}
