package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.json.JsonText;

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
    return JsonText.write(node, "", JsJson::number) + "\n";
  }

  /** One value on one line, as {@code JSON.stringify(v)}. */
  public static String inline(JsonNode node) {
    return JsonText.write(node, null, JsJson::number);
  }

  /** JSON.stringify's numbers: an integral double without its fraction (below 1e21). */
  private static String number(JsonNode n) {
    if (n.isFloatingPointNumber() && !n.isBigDecimal() && Double.isFinite(n.asDouble())
        && n.asDouble() == Math.rint(n.asDouble()) && Math.abs(n.asDouble()) < 1e21) {
      return Long.toString((long) n.asDouble());
    }
    return n.toString();
  }
}
