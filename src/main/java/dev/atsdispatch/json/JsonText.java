package dev.atsdispatch.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Function;

/**
 * JSON text laid out as JavaScript's {@code JSON.stringify} and Python's {@code json.dumps
 * (ensure_ascii=False)} both lay it out: compact with no spaces, or indented by two with
 * {@code "key": value} and empty containers inline; key order kept; strings with the short escapes,
 * other control characters and lone surrogates as lower-case {@code \\u00xx}, everything else raw.
 * The two differ only in how they write numbers, which the caller gives. Stateless.
 */
public final class JsonText {
  private JsonText() {}

  /** {@code n} as text; {@code indent} null for compact, else the indentation it starts at ("" at the top). */
  public static String write(JsonNode n, String indent, Function<JsonNode, String> number) {
    StringBuilder b = new StringBuilder();
    write(b, n, indent, number);
    return b.toString();
  }

  private static void write(StringBuilder b, JsonNode n, String indent, Function<JsonNode, String> number) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      b.append("null");
    } else if (n.isObject() || n.isArray()) {
      if (n.isEmpty()) {
        b.append(n.isObject() ? "{}" : "[]");
        return;
      }
      b.append(n.isObject() ? '{' : '[');
      String inner = indent == null ? null : indent + "  ";
      boolean first = true;
      if (n.isObject()) {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          first = separate(b, first, inner);
          string(b, e.getKey());
          b.append(inner != null ? ": " : ":");
          write(b, e.getValue(), inner, number);
        }
      } else {
        for (JsonNode v : n) {
          first = separate(b, first, inner);
          write(b, v, inner, number);
        }
      }
      if (indent != null) b.append('\n').append(indent);
      b.append(n.isObject() ? '}' : ']');
    } else if (n.isTextual()) {
      string(b, n.asText());
    } else if (n.isBoolean()) {
      b.append(n.asBoolean() ? "true" : "false");
    } else if (n.isNumber()) {
      b.append(number.apply(n));
    } else {
      b.append(n.toString());
    }
  }

  private static boolean separate(StringBuilder b, boolean first, String inner) {
    if (!first) b.append(',');
    if (inner != null) b.append('\n').append(inner);
    return false;
  }

  /** A JSON string: short escapes, other controls and lone surrogates as lower-case \\u00xx. */
  public static void string(StringBuilder b, String s) {
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
