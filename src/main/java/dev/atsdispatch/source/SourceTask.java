package dev.atsdispatch.source;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * A task as a source offers it. A {@code light} task (from a listing or a shortened event) has no
 * description, and its title only when short ({@link #LIGHT_TITLE} characters); the full task
 * comes with the claim. {@code deliveries} is the source's own
 * delivery count where it keeps one (less the deliveries given back without a strike), else null. {@code status} is what the source said last.
 */
public record SourceTask(TaskKey key, TaskStatus status, int priority, Instant createdAt,
    String title, String description, ObjectNode payload, boolean light, Integer deliveries) {

  public SourceTask {
    if (payload == null) payload = JsonNodeFactory.instance.objectNode();
  }

  public static final int LIGHT_TITLE = 1024;

  /** The same task without its description (and a long title): what a queue keeps while it waits. */
  public SourceTask lighten() {
    if (light) return this;
    String t = title != null && title.length() <= LIGHT_TITLE ? title : null;
    return new SourceTask(key, status, priority, createdAt, t, null, payload, true, deliveries);
  }

  @Override
  public String toString() {
    return "SourceTask[" + key + ", " + status + "]"; // never the content
  }
}
