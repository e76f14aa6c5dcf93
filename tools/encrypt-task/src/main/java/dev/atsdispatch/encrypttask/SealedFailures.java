package dev.atsdispatch.encrypttask;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.crypto.CryptoException;
import dev.atsdispatch.crypto.NaclBox;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Finds the failure ats-dispatch sealed to the sender on a failed encrypted task's thread: a data
 * part whose content (an object, or the same as a JSON string) is
 * {@code {"encrypted_failure": {"attempt", "nonce", "ciphertext"}}}, sealed with the dispatcher's
 * key to ours, so a note anyone else posted does not open and is passed over.
 */
final class SealedFailures {
  private static final ObjectMapper M = new ObjectMapper();

  /** What the note held. */
  record Opened(int attempt, String reason, String stderrTail) {}

  private SealedFailures() {}

  /** The last note on the thread that opens with these keys; null when there is none. */
  static Opened last(List<JsonNode> messages, String dispatcherPublicKey, String mySecretKey) {
    Opened last = null;
    for (JsonNode m : messages) {
      for (JsonNode part : m.path("parts")) {
        JsonNode f = note(part);
        if (f == null) continue;
        try {
          byte[] plain = NaclBox.open(f.path("nonce").asText(null), f.path("ciphertext").asText(null),
              dispatcherPublicKey, mySecretKey);
          JsonNode o = M.readTree(new String(plain, StandardCharsets.UTF_8));
          last = new Opened(o.path("attempt").asInt(f.path("attempt").asInt()), o.path("reason").asText(""),
              o.path("stderr_tail").asText(""));
        } catch (CryptoException | java.io.IOException e) {
          // not sealed to us by this dispatcher: someone else's note, or a forgery
        }
      }
    }
    return last;
  }

  private static JsonNode note(JsonNode part) {
    if (!part.path("type").asText().equals("data")) return null;
    JsonNode c = part.get("content");
    if (c != null && c.isTextual()) {
      try {
        c = M.readTree(c.asText());
      } catch (java.io.IOException e) {
        return null;
      }
    }
    JsonNode f = c == null ? null : c.get("encrypted_failure");
    return f != null && f.isObject() ? f : null;
  }
}
