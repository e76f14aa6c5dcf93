package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The agent's prompt in the JavaScript layout (reference-behaviour.md §1.9): an opening line, then
 * {@code <task-title>}, {@code <task-description>} and {@code <task-context>} sections separated
 * by blank lines, each only when non-empty; the context is the payload without internal fields,
 * as 2-space-indented JSON.
 */
public final class Prompts {
  public static final List<String> INTERNAL_FIELDS = List.of("callback_url", "quiet", "encrypted",
      "sender", "ciphertext", "nonce", "pubkey", "from", "depends_on");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Prompts() {}

  public static String build(String intro, String title, String description, JsonNode payload) {
    String context = null;
    if (payload != null && payload.isObject()) {
      ObjectNode ctx = ((ObjectNode) payload).deepCopy();
      ctx.remove(INTERNAL_FIELDS);
      if (!ctx.isEmpty()) context = stringify(ctx);
    }
    // sized up front: a huge description is copied once, not again each time the builder grows
    long size = (long) intro.length() + sectionLength("task-title", title)
        + sectionLength("task-description", description) + sectionLength("task-context", context);
    StringBuilder b = new StringBuilder((int) Math.min(size, Integer.MAX_VALUE - 16));
    b.append(intro);
    if (title != null && !title.isEmpty()) section(b, "task-title", title);
    if (description != null && !description.isEmpty()) section(b, "task-description", description);
    if (context != null) section(b, "task-context", context);
    return b.toString();
  }

  private static long sectionLength(String tag, String content) {
    return content == null || content.isEmpty() ? 0 : content.length() + 2 * tag.length() + 10;
  }

  /** {@code JSON.stringify(value, null, 2)}, byte for byte. */
  public static String stringify(JsonNode value) {
    StringBuilder b = new StringBuilder();
    write(b, value, "");
    return b.toString();
  }

  private static void write(StringBuilder b, JsonNode v, String indent) {
    if (v.isObject()) {
      if (v.isEmpty()) {
        b.append("{}");
        return;
      }
      String inner = indent + "  ";
      b.append("{\n");
      var it = v.fields();
      while (it.hasNext()) {
        var e = it.next();
        b.append(inner).append(quote(e.getKey())).append(": ");
        write(b, e.getValue(), inner);
        b.append(it.hasNext() ? ",\n" : "\n");
      }
      b.append(indent).append('}');
    } else if (v.isArray()) {
      if (v.isEmpty()) {
        b.append("[]");
        return;
      }
      String inner = indent + "  ";
      b.append("[\n");
      for (int i = 0; i < v.size(); i++) {
        b.append(inner);
        write(b, v.get(i), inner);
        b.append(i + 1 < v.size() ? ",\n" : "\n");
      }
      b.append(indent).append(']');
    } else {
      b.append(v.toString());
    }
  }

  private static String quote(String s) {
    try {
      return MAPPER.writeValueAsString(s);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void section(StringBuilder b, String tag, String content) {
    b.append("\n\n<").append(tag).append(">\n").append(content).append("\n</").append(tag).append('>');
  }
}
