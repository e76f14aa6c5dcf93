package dev.atsdispatch.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.testing.NaclJs;
import dev.atsdispatch.testing.OldBotKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compatibility with the JavaScript version, against the real tweetnacl and tweetnacl-util from
 * npm: envelopes built exactly as encrypt-task.js builds them open in the service, responses the
 * service seals open in tweetnacl, both libraries give the same bytes for the same nonce, and the
 * fingerprint matches index.js's algorithm.
 */
final class InteropTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void encryptTaskJsEnvelopeOpensInTheServiceAndTheSealedResponseOpensInTweetnacl() throws Exception {
    Keyring keyring = new Keyring(dir.resolve("keys"));
    KeyPair ada = keyring.ensureDispatchKeyPair();
    JsonNode alice = NaclJs.run("keypair");
    keyring.addTrusted("alice", alice.get("publicKey").asText());

    ObjectNode task = M.createObjectNode().put("title", "Summarise ✓").put("description", "in three lines");
    task.putObject("payload").put("callback_url", "https://cb.example/x").put("quiet", true)
        .putArray("depends_on").add("7");
    JsonNode envelope = NaclJs.run("envelope", M.createObjectNode().<ObjectNode>set("task", task)
        .put("adaKey", ada.publicKey()).put("secretKey", alice.get("secretKey").asText()).put("sender", "alice"));
    assertEquals(List.of("encrypted", "sender", "nonce", "ciphertext"), fieldNames(envelope));

    try (ReplayGuard replay = new ReplayGuard(dir.resolve("replay"))) {
      TaskOpener opener = new TaskOpener(keyring, replay);
      Opened o = opener.open(task(41, "Summarise ✓", envelope));
      Opened.Encrypted e = assertInstance(Opened.Encrypted.class, o);
      assertEquals("Summarise ✓", e.title());
      assertEquals("in three lines", e.description());
      assertEquals("https://cb.example/x", e.innerPayload().get("callback_url").asText());
      assertEquals("7", e.innerPayload().get("depends_on").get(0).asText());
      assertEquals("alice", e.senderName());

      String response = "Done: ünïcödé ✓\nline two";
      ObjectNode sealed = opener.sealResponse(response, e);
      JsonNode opened = NaclJs.run("open", M.createObjectNode().put("nonce", sealed.get("nonce").asText())
          .put("ciphertext", sealed.get("ciphertext").asText()).put("publicKey", ada.publicKey())
          .put("secretKey", alice.get("secretKey").asText()));
      assertEquals(response, opened.path("plaintext").asText(), opened.toString());
    }
  }

  @Test
  void tweetnaclEnvelopeOpensWithTheOldBotsKeyFilesUnchanged() throws Exception {
    OldBotKeys old = OldBotKeys.write(dir.resolve("js-keys"));
    Path keys = dir.resolve("keys");
    Files.createDirectories(keys);
    for (String f : List.of(Keyring.DISPATCH_KEYS, Keyring.TRUSTED_KEYS, Keyring.PENDING, Keyring.CONFIG)) {
      Files.copy(old.file(f), keys.resolve(f));
    }
    JsonNode envelope = M.readTree(old.file("envelope-from-alice.json").toFile());
    try (ReplayGuard replay = new ReplayGuard(dir.resolve("replay"))) {
      Opened o = new TaskOpener(new Keyring(keys), replay).open(task(9, "Summarise the report", envelope));
      Opened.Encrypted e = assertInstance(Opened.Encrypted.class, o);
      assertEquals("Three bullet points, ünïcödé ✓", e.description());
      assertEquals("https://inner.example/cb", e.innerPayload().get("callback_url").asText());
      assertTrue(e.innerPayload().get("quiet").asBoolean());
    }
  }

  @Test
  void sameKeysAndNonceGiveTheSameCiphertextInBothLibraries() throws Exception {
    JsonNode a = NaclJs.run("keypair");
    KeyPair b = NaclBox.generateKeyPair();
    byte[] nonce = new byte[24];
    for (int i = 0; i < 24; i++) nonce[i] = (byte) (i * 7 + 1);
    for (String text : List.of("", "x", "{\"title\":\"t\"}", "ü✓😀".repeat(100))) {
      String java = NaclBox.seal(text.getBytes(StandardCharsets.UTF_8), nonce, b.publicKey(),
          a.get("secretKey").asText());
      JsonNode js = NaclJs.run("seal", M.createObjectNode().put("plaintext", text).put("nonce", NaclBox.b64(nonce))
          .put("publicKey", b.publicKey()).put("secretKey", a.get("secretKey").asText()));
      assertEquals(js.get("ciphertext").asText(), java, "plaintext length " + text.length());
    }
  }

  @Test
  void tamperedBoxFailsInTweetnaclToo() throws Exception {
    KeyPair ada = NaclBox.generateKeyPair();
    KeyPair alice = NaclBox.generateKeyPair();
    NaclBox.Sealed s = NaclBox.seal("hi".getBytes(StandardCharsets.UTF_8), alice.publicKey(), ada.secretKey());
    JsonNode ok = NaclJs.run("open", M.createObjectNode().put("nonce", s.nonce()).put("ciphertext", s.ciphertext())
        .put("publicKey", ada.publicKey()).put("secretKey", alice.secretKey()));
    assertEquals("hi", ok.path("plaintext").asText());
    JsonNode bad = NaclJs.run("open", M.createObjectNode().put("nonce", s.nonce()).put("ciphertext", s.ciphertext())
        .put("publicKey", alice.publicKey()).put("secretKey", alice.secretKey()));
    assertEquals("open failed", bad.path("error").asText());
  }

  @Test
  void fingerprintsEqualIndexJsOnFixedAndRandomKeys() {
    // the vector of reference-behaviour.md §1.2, a public key as text, and text that is not a key
    List<String> keys = new ArrayList<>(List.of("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "IFv4ROWp1B2j5fsB82LaYKflne5uDzs4GX3tgsWn8Uw=", "not even base64 ✓"));
    for (int i = 0; i < 5; i++) keys.add(NaclBox.generateKeyPair().publicKey());
    ArrayNode in = M.createArrayNode();
    keys.forEach(in::add);
    JsonNode js = NaclJs.run("fingerprint", M.createObjectNode().set("keys", in));
    for (int i = 0; i < keys.size(); i++) {
      assertEquals(js.get("fingerprints").get(i).asText(), Fingerprint.of(keys.get(i)), keys.get(i));
    }
    assertEquals("51643eac9777b63a", js.get("fingerprints").get(0).asText());
    assertEquals("1ad22e0de3367dfd", Fingerprint.of("IFv4ROWp1B2j5fsB82LaYKflne5uDzs4GX3tgsWn8Uw="));
  }

  static Task task(long id, String title, JsonNode payload) {
    ObjectNode n = M.createObjectNode().put("id", id).put("title", title).put("status", "pending");
    n.set("payload", payload);
    return Task.fromJson(n);
  }

  static List<String> fieldNames(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  static <T> T assertInstance(Class<T> type, Object o) {
    assertTrue(type.isInstance(o), "expected " + type.getSimpleName() + ", got " + o);
    return type.cast(o);
  }
}
