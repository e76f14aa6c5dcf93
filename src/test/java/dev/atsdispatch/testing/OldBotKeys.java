package dev.atsdispatch.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;

/**
 * An old JavaScript bot's key directory, written at test time by tweetnacl and JSON.stringify
 * exactly as index.js writes it, with fresh keys (no key material is committed): the four state
 * files plus {@code envelope-from-alice.json}, an envelope built as encrypt-task.js builds it.
 * Holds the public keys and fingerprints the tests compare against.
 */
public record OldBotKeys(Path dir, Key ada, Key alice, Key bob, Key pending1, Key pending2) {
  /** A public key and its fingerprint. */
  public record Key(String publicKey, String fingerprint) {
    static Key of(JsonNode n) {
      return new Key(n.get("publicKey").asText(), n.get("fingerprint").asText());
    }
  }

  public static OldBotKeys write(Path dir) {
    JsonNode r = NaclJs.run("old-bot-keys", new ObjectMapper().createObjectNode().put("dir", dir.toAbsolutePath().toString()));
    return new OldBotKeys(dir, Key.of(r.get("ada")), Key.of(r.get("alice")), Key.of(r.get("bob")),
        Key.of(r.get("pending").get(0)), Key.of(r.get("pending").get(1)));
  }

  public Path file(String name) {
    return dir.resolve(name);
  }
}
