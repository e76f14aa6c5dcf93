package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON text as Python's {@code json.dumps(value, ensure_ascii=False, ...)} writes it, byte for byte
 * where agentbus 0.1.0 depends on it: compact ({@code separators=(",", ":")}, its result messages)
 * or {@code indent=2} (the task JSON in its prompt: {@code ",\n"} between items, {@code ": "} after
 * keys, empty containers inline). Strings escape the quote, the backslash, and control characters
 * below U+0020 (n, r, t, b, f by letter, else as a u00xx escape in lower case); everything else is written
 * raw, as {@code ensure_ascii=False} does. Floats follow Python's {@code repr} (exponent form below
 * 1e-4 and from 1e16, {@code e+NN}). Stateless.
 */
final class PyJson {
  private PyJson() {}

  /** {@code json.dumps(v, ensure_ascii=False, separators=(",", ":"))}. */
  static String compact(JsonNode v) {
    StringBuilder b = new StringBuilder();
    write(b, v, -1, 0);
    return b.toString();
  }

  /** {@code json.dumps(v, ensure_ascii=False, indent=2)}. */
  static String indented(JsonNode v) {
    StringBuilder b = new StringBuilder();
    write(b, v, 2, 0);
    return b.toString();
  }

  private static void write(StringBuilder b, JsonNode v, int indent, int depth) {
    if (v == null || v.isNull() || v.isMissingNode()) {
      b.append("null");
    } else if (v.isTextual()) {
      string(b, v.asText());
    } else if (v.isBoolean()) {
      b.append(v.asBoolean() ? "true" : "false");
    } else if (v.isIntegralNumber()) {
      b.append(v.bigIntegerValue().toString());
    } else if (v.isNumber()) {
      b.append(floatRepr(v.doubleValue()));
    } else if (v.isObject()) {
      if (v.isEmpty()) {
        b.append("{}");
        return;
      }
      b.append('{');
      boolean first = true;
      for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!first) b.append(',');
        first = false;
        newline(b, indent, depth + 1);
        string(b, e.getKey());
        b.append(indent < 0 ? ":" : ": ");
        write(b, e.getValue(), indent, depth + 1);
      }
      newline(b, indent, depth);
      b.append('}');
    } else if (v.isArray()) {
      if (v.isEmpty()) {
        b.append("[]");
        return;
      }
      b.append('[');
      boolean first = true;
      for (JsonNode item : v) {
        if (!first) b.append(',');
        first = false;
        newline(b, indent, depth + 1);
        write(b, item, indent, depth + 1);
      }
      newline(b, indent, depth);
      b.append(']');
    } else {
      string(b, v.asText()); // binary and POJO nodes do not come from parsed JSON
    }
  }

  private static void newline(StringBuilder b, int indent, int depth) {
    if (indent < 0) return;
    b.append('\n');
    b.append(" ".repeat(indent * depth));
  }

  static void string(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        default -> {
          if (c < 0x20 || Character.isSurrogate(c) && !pairedAt(s, i)) {
            b.append(String.format("\\u%04x", (int) c)); // a lone surrogate cannot be UTF-8: escaped
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }

  private static boolean pairedAt(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  /** Python's {@code repr(float)}: the shortest digits that read back, in its layout. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
    BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    String digits = bd.unscaledValue().abs().toString();
    int exp = digits.length() - 1 - bd.scale(); // the decimal exponent of the first digit
    String sign = d < 0 ? "-" : "";
    if (exp < -4 || exp >= 16) {
      String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }
    if (exp < 0) return sign + "0." + "0".repeat(-exp - 1) + digits;
    if (digits.length() <= exp + 1) return sign + digits + "0".repeat(exp + 1 - digits.length()) + ".0";
    return sign + digits.substring(0, exp + 1) + "." + digits.substring(exp + 1);
  }
}
