package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON text exactly as the JavaScript version writes its files, {@code JSON.stringify(v, null, 2)}
 * plus a newline: two-space indent, {@code "key": value}, {@code {}} and {@code []} when empty,
 * integral numbers without a fraction. Key order is kept, so unknown keys survive a rewrite.
 */
public final class JsJson {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private JsJson() {}

  /** The file text: {@code JSON.stringify(node, null, 2) + "\n"}. */
  public static String file(JsonNode node) {
    StringBuilder b = new StringBuilder();
    write(b, node, "");
    return b.append('\n').toString();
  }

  /** One value on one line, as {@code JSON.stringify(v)}. */
  public static String inline(JsonNode node) {
    StringBuilder b = new StringBuilder();
    write(b, node, null);
    return b.toString();
  }

  private static void write(StringBuilder b, JsonNode n, String indent) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      b.append("null");
    } else if (n.isObject()) {
      if (n.isEmpty()) {
        b.append("{}");
        return;
      }
      b.append('{');
      String inner = indent == null ? null : indent + "  ";
      boolean first = true;
      for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!first) b.append(',');
        first = false;
        if (inner != null) b.append('\n').append(inner);
        string(b, e.getKey());
        b.append(inner != null ? ": " : ":");
        write(b, e.getValue(), inner);
      }
      if (indent != null) b.append('\n').append(indent);
      b.append('}');
    } else if (n.isArray()) {
      if (n.isEmpty()) {
        b.append("[]");
        return;
      }
      b.append('[');
      String inner = indent == null ? null : indent + "  ";
      boolean first = true;
      for (JsonNode v : n) {
        if (!first) b.append(',');
        first = false;
        if (inner != null) b.append('\n').append(inner);
        write(b, v, inner);
      }
      if (indent != null) b.append('\n').append(indent);
      b.append(']');
    } else if (n.isTextual()) {
      string(b, n.asText());
    } else if (n.isFloatingPointNumber() && !n.isBigDecimal() && Double.isFinite(n.asDouble())
        && n.asDouble() == Math.rint(n.asDouble()) && Math.abs(n.asDouble()) < 1e21) {
      b.append((long) n.asDouble());
    } else {
      b.append(n.toString());
    }
  }

  /** JSON.stringify's string quoting: short escapes, lowercase \\u00xx, lone surrogates escaped. */
  private static void string(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          boolean lone = Character.isHighSurrogate(c)
              ? i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))
              : Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)));
          if (c < 0x20 || lone) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
