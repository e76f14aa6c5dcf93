package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import dev.atsdispatch.json.JsonText;

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
    return JsonText.write(v, null, PyJson::number);
  }

  /** {@code json.dumps(v, ensure_ascii=False, indent=2)}. */
  static String indented(JsonNode v) {
    return JsonText.write(v, "", PyJson::number);
  }

  private static String number(JsonNode v) {
    return v.isIntegralNumber() ? v.bigIntegerValue().toString() : floatRepr(v.doubleValue());
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

  /** Python's {@code str.strip()}: trims what {@code str.isspace()} calls white space, at both ends. */
  static String strip(String s) {
    if (s == null) return "";
    int a = 0;
    int b = s.length();
    while (a < b && pySpace(s.charAt(a))) a++;
    while (b > a && pySpace(s.charAt(b - 1))) b--;
    return s.substring(a, b);
  }

  static boolean pySpace(char c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
  }
}
