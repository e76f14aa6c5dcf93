package dev.atsdispatch.source;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * A task as a source offers it. A {@code light} task (from a listing or a shortened event) has no
 * title or description; the full task comes with the claim. {@code deliveries} is the source's own
 * delivery count where it keeps one, else null. {@code status} is what the source said last.
 */
public record SourceTask(TaskKey key, TaskStatus status, int priority, Instant createdAt,
    String title, String description, ObjectNode payload, boolean light, Integer deliveries) {

  public SourceTask {
    if (payload == null) payload = JsonNodeFactory.instance.objectNode();
  }

  /** The same task without its title and description: what a queue keeps while it waits. */
  public SourceTask lighten() {
    return light ? this : new SourceTask(key, status, priority, createdAt, null, null, payload, true, deliveries);
  }

  @Override
  public String toString() {
    return "SourceTask[" + key + ", " + status + "]"; // never the content
  }
}
