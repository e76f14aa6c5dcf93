package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import java.util.function.Function;

/**
 * A task as the service acts on it: for a plaintext task its own fields, for an encrypted one the
 * decrypted title, description and inner payload, with {@code seal} to encrypt the response to
 * the sender. Delivery settings (callback_url, quiet) and dependencies are read from this payload
 * only. Made once at intake and kept in memory only (it never reaches a log or a file).
 */
public record TaskView(TaskKey key, String title, String description, ObjectNode payload,
    String sender, Function<String, ObjectNode> seal) {

  public static TaskView plain(SourceTask t) {
    return new TaskView(t.key(), t.title(), t.description(), t.payload(), null, null);
  }

  /** A view with nothing of the task's content (registrations, refusals: nothing untrusted). */
  public static TaskView empty(TaskKey key) {
    return new TaskView(key, null, null, JsonNodeFactory.instance.objectNode(), null, null);
  }

  public boolean encrypted() {
    return seal != null;
  }

  /** {@code payload.callback_url} when it is a non-blank string, else null. */
  public String callbackUrl() {
    JsonNode u = payload.get("callback_url");
    return u != null && u.isTextual() && !u.asText().isBlank() ? u.asText() : null;
  }

  /** {@code payload.quiet}, truthy the JavaScript way. */
  public boolean quiet() {
    JsonNode q = payload.get("quiet");
    if (q == null || q.isNull()) return false;
    if (q.isBoolean()) return q.asBoolean();
    if (q.isNumber()) return q.asDouble() != 0;
    if (q.isTextual()) return !q.asText().isEmpty();
    return true;
  }

  @Override
  public String toString() {
    return "TaskView[" + key + (encrypted() ? ", encrypted" : "") + "]"; // never the content
  }
}
