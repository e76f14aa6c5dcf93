package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.WireTime;
import java.time.Instant;

/** One message in a task's thread; {@code parts} are stored verbatim (ats-protocol.md §2.8). */
record StoredMessage(long id, long taskId, Actor actor, JsonNode parts, Instant createdAt) {

  ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("id", id);
    n.put("task_id", taskId);
    n.put("actor_type", actor.type());
    n.put("actor_id", actor.id());
    n.put("actor_name", actor.name());
    n.set("parts", parts);
    n.put("created_at", WireTime.format(createdAt));
    return n;
  }

  static StoredMessage fromJson(JsonNode n) {
    return new StoredMessage(n.path("id").asLong(), n.path("task_id").asLong(),
        new Actor(n.path("actor_type").asText(), n.path("actor_id").asText(),
            n.path("actor_name").asText()),
        n.path("parts"), WireTime.parse(n.path("created_at").asText()));
  }
}
