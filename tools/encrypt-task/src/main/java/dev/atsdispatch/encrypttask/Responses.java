package dev.atsdispatch.encrypttask;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * Finds the response in a task's {@code outputs}, which the {@code ats} CLI stores as a one-element
 * array and other writers as a bare object (reference-behaviour.md §1.6): the first
 * {@code encrypted_response} object, else the first plaintext {@code response}.
 */
final class Responses {
  /** An encrypted response ({@code {"nonce","ciphertext"}}), or else a plaintext one. */
  record Found(JsonNode encrypted, String plaintext) {}

  private Responses() {}

  static Found find(JsonNode outputs) {
    if (outputs == null || outputs.isNull()) return null;
    List<JsonNode> candidates = new java.util.ArrayList<>();
    if (outputs.isArray()) outputs.forEach(candidates::add);
    else candidates.add(outputs);
    for (JsonNode o : candidates) {
      JsonNode e = o.get("encrypted_response");
      if (e != null && e.isObject()) return new Found(e, null);
    }
    for (JsonNode o : candidates) {
      JsonNode r = o.get("response");
      if (r != null && r.isTextual()) return new Found(null, r.asText());
    }
    return null;
  }
}
