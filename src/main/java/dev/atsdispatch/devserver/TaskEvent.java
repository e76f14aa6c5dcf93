package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.WireTime;
import java.io.UncheckedIOException;
import java.time.Instant;

/**
 * A committed task change, as sent to WebSocket subscribers (ats-protocol.md §4.3):
 * {@code {"type", "data":{"task", ...extras}, "actor_type", "actor_id", "actor_name", "timestamp"}}.
 * The frame text is rendered once and shared by every subscriber.
 */
final class TaskEvent {
  private final String type;
  private final String channel;
  private final String taskType;
  private final ObjectNode frame;
  private volatile String text;

  TaskEvent(String type, StoredTask task, Actor actor, Instant at, ObjectNode extras) {
    this.type = type;
    this.channel = task.channel();
    this.taskType = task.type();
    ObjectNode data = JsonNodeFactory.instance.objectNode();
    data.set("task", task.toJson());
    if (extras != null) data.setAll(extras);
    frame = JsonNodeFactory.instance.objectNode();
    frame.put("type", type);
    frame.set("data", data);
    frame.put("actor_type", actor.type());
    frame.put("actor_id", actor.id());
    frame.put("actor_name", actor.name());
    frame.put("timestamp", WireTime.format(at));
  }

  String type() {
    return type;
  }

  String channel() {
    return channel;
  }

  String taskType() {
    return taskType;
  }

  String text(ObjectMapper mapper) {
    String t = text;
    if (t == null) {
      try {
        t = mapper.writeValueAsString(frame);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new UncheckedIOException(e);
      }
      text = t;
    }
    return t;
  }
}
