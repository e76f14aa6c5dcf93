package dev.atsdispatch.crypto;

import static dev.atsdispatch.crypto.InteropTest.assertInstance;
import static dev.atsdispatch.crypto.InteropTest.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.dispatch.AtomicFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Classification and opening of tasks: registration first, plaintext policy, the §1.4 merge with
 * delivery settings only from the sealed payload, and every way an envelope can be bad, each with
 * its own reason that carries no plaintext or key.
 */
final class TaskOpenerTest {
  static final ObjectMapper M = new ObjectMapper();
  static final String SECRET_TEXT = "TOP-SECRET-PLAINTEXT";

  @TempDir Path dir;
  Keyring keyring;
  ReplayGuard replay;
  TaskOpener opener;
  KeyPair ada;
  KeyPair alice;

  @BeforeEach
  void setUp() throws Exception {
    keyring = new Keyring(dir.resolve("keys"));
    ada = keyring.ensureDispatchKeyPair();
    alice = NaclBox.generateKeyPair();
    keyring.addTrusted("alice", alice.publicKey());
    replay = new ReplayGuard(dir.resolve("replay"));
    opener = new TaskOpener(keyring, replay);
  }

  @AfterEach
  void close() {
    replay.close();
  }

  ObjectNode envelope(String plaintext, KeyPair from, String toPublic) throws Exception {
    NaclBox.Sealed s = NaclBox.seal(plaintext.getBytes(StandardCharsets.UTF_8), toPublic, from.secretKey());
    return M.createObjectNode().put("encrypted", true).put("sender", "alice").put("nonce", s.nonce())
        .put("ciphertext", s.ciphertext());
  }

  ObjectNode envelope(String plaintext) throws Exception {
    return envelope(plaintext, alice, ada.publicKey());
  }

  String rejected(Opened o) {
    Opened.Rejected r = assertInstance(Opened.Rejected.class, o);
    assertFalse(r.reason().contains(SECRET_TEXT), r.reason());
    assertFalse(r.reason().contains(ada.secretKey()) || r.reason().contains(alice.secretKey()), r.reason());
    return r.reason();
  }

  @Test
  void plaintextTasksPassUnlessEncryptionIsRequired() throws Exception {
    ObjectNode p = M.createObjectNode().put("callback_url", "https://x.example").put("gpu", true);
    Task t = Task.fromJson(M.createObjectNode().put("id", 1).put("title", "hello").put("description", "d")
        .put("status", "pending").set("payload", p));
    Opened.Plain plain = assertInstance(Opened.Plain.class, opener.open(t));
    assertEquals("hello", plain.title());
    assertEquals("d", plain.description());
    assertEquals(p, plain.payload());

    keyring.setConfig("require_encryption", "true");
    Opened.Rejected r = assertInstance(Opened.Rejected.class, opener.open(t));
    assertEquals("Encryption required. Plaintext tasks are no longer accepted.", r.reason());
    assertFalse(r.sendCallback());
    // config.json is re-read on every call
    keyring.setConfig("require_encryption", "false");
    assertInstance(Opened.Plain.class, opener.open(t));
  }

  @Test
  void registrationIsRecognisedFirstEvenUnderRequireEncryption() throws Exception {
    keyring.setConfig("require_encryption", "true");
    ObjectNode p = M.createObjectNode().put("pubkey", alice.publicKey()).put("encrypted", true);
    assertEquals(alice.publicKey(), assertInstance(Opened.Registration.class, opener.open(task(2, "  Register ", p))).pubkey());
    // no pubkey, or another title: not a registration
    assertInstance(Opened.Rejected.class, opener.open(task(3, "register", M.createObjectNode().put("pubkey", ""))));
    assertInstance(Opened.Rejected.class, opener.open(task(4, "register me", M.createObjectNode().put("pubkey", "x"))));
    // a pubkey that is not text is still a registration (the registrar refuses it)
    assertEquals("123", assertInstance(Opened.Registration.class,
        opener.open(task(5, "register", M.createObjectNode().put("pubkey", 123)))).pubkey());
  }

  @Test
  void encryptedTaskTakesTitleDescriptionAndDeliverySettingsOnlyFromWhatWasSealed() throws Exception {
    ObjectNode outer = envelope("{\"title\":\"inner title\",\"payload\":{\"quiet\":false,\"depends_on\":[\"3\"],\"x\":1}}");
    outer.put("callback_url", "https://attacker.example/steal").put("quiet", true).putArray("depends_on").add("99");
    Task t = Task.fromJson(M.createObjectNode().put("id", 7).put("title", "outer title")
        .put("description", "outer description").put("status", "pending").set("payload", outer));
    Opened.Encrypted e = assertInstance(Opened.Encrypted.class, opener.open(t));
    assertEquals("inner title", e.title());
    assertEquals("", e.description(), "no inner description: none (the outer one is unauthenticated)");
    assertEquals("{\"quiet\":false,\"depends_on\":[\"3\"],\"x\":1}", e.innerPayload().toString());
    assertNull(e.innerPayload().get("callback_url"));
    assertEquals("alice", e.senderName());
    assertEquals(alice.publicKey(), e.senderPublicKey());
    assertFalse(e.toString().contains("inner title"), e.toString());

    // no inner payload at all: an empty one, never the outer delivery fields
    ObjectNode bare = envelope("{\"title\":\"\"}");
    bare.put("callback_url", "https://attacker.example/steal");
    Opened.Encrypted b = assertInstance(Opened.Encrypted.class, opener.open(task(8, "outer", bare)));
    assertEquals("", b.title(), "an empty sealed title stays empty: the outer one is not authenticated");
    assertTrue(b.innerPayload().isEmpty());
  }

  @Test
  void senderIsFoundByFromPublicKeyAndSenderWinsOverFrom() throws Exception {
    ObjectNode byFrom = envelope("{\"title\":\"t\"}");
    byFrom.remove("sender");
    byFrom.put("from", alice.publicKey());
    assertEquals("alice", assertInstance(Opened.Encrypted.class, opener.open(task(1, "t", byFrom))).senderName());

    KeyPair bob = NaclBox.generateKeyPair();
    keyring.addTrusted("bob", bob.publicKey());
    ObjectNode both = envelope("{\"title\":\"t\"}");
    both.put("from", bob.publicKey());
    assertEquals("alice", assertInstance(Opened.Encrypted.class, opener.open(task(2, "t", both))).senderName());
  }

  @Test
  void everyBadEnvelopeIsRejectedWithItsOwnReasonAndACallback() throws Exception {
    String plain = "{\"title\":\"" + SECRET_TEXT + "\"}";
    ObjectNode good = envelope(plain);

    ObjectNode unknown = good.deepCopy().put("sender", "mallory");
    assertEquals("Decryption failed: Sender \"mallory\" not in trusted-keys.json", rejected(opener.open(task(1, "t", unknown))));
    assertTrue(assertInstance(Opened.Rejected.class, opener.open(task(1, "t", unknown))).sendCallback());

    KeyPair stranger = NaclBox.generateKeyPair();
    ObjectNode untrusted = good.deepCopy();
    untrusted.remove("sender");
    untrusted.put("from", stranger.publicKey());
    assertEquals("Decryption failed: Public key not in trusted-keys.json (fingerprint: " + stranger.fingerprint() + ")",
        rejected(opener.open(task(2, "t", untrusted))));

    ObjectNode anonymous = good.deepCopy();
    anonymous.remove("sender");
    assertEquals("Decryption failed: Encrypted task missing sender/from field", rejected(opener.open(task(3, "t", anonymous))));

    ObjectNode badB64 = good.deepCopy().put("ciphertext", "not*base64");
    assertEquals("Decryption failed: ciphertext is not valid base64", rejected(opener.open(task(4, "t", badB64))));
    ObjectNode badNonceB64 = good.deepCopy().put("nonce", "???");
    assertEquals("Decryption failed: nonce is not valid base64", rejected(opener.open(task(5, "t", badNonceB64))));
    ObjectNode shortNonce = good.deepCopy().put("nonce", NaclBox.b64(new byte[23]));
    assertEquals("Decryption failed: nonce must be 24 bytes, got 23", rejected(opener.open(task(6, "t", shortNonce))));
    ObjectNode noNonce = good.deepCopy();
    noNonce.remove("nonce");
    assertEquals("Decryption failed: Encrypted task missing nonce", rejected(opener.open(task(7, "t", noNonce))));
    ObjectNode noCipher = good.deepCopy();
    noCipher.put("ciphertext", 5);
    assertEquals("Decryption failed: Encrypted task missing ciphertext", rejected(opener.open(task(8, "t", noCipher))));

    byte[] c = Base64.getDecoder().decode(good.get("ciphertext").asText());
    c[20] ^= 0x40;
    ObjectNode tampered = good.deepCopy().put("ciphertext", NaclBox.b64(c));
    assertEquals("Decryption failed: wrong key or tampered data (sender \"alice\")",
        rejected(opener.open(task(9, "t", tampered))));
    ObjectNode wrongKey = envelope(plain, stranger, ada.publicKey());
    assertEquals("Decryption failed: wrong key or tampered data (sender \"alice\")",
        rejected(opener.open(task(10, "t", wrongKey))));
    ObjectNode toOtherRecipient = envelope(plain, alice, stranger.publicKey());
    assertEquals("Decryption failed: wrong key or tampered data (sender \"alice\")",
        rejected(opener.open(task(11, "t", toOtherRecipient))));

    assertEquals("Decryption failed: plaintext is not valid JSON",
        rejected(opener.open(task(12, "t", envelope("{\"title\": " + SECRET_TEXT)))));
    assertEquals("Decryption failed: plaintext is not a JSON object",
        rejected(opener.open(task(13, "t", envelope("[\"" + SECRET_TEXT + "\"]")))));
    assertEquals("Decryption failed: plaintext payload is not a JSON object",
        rejected(opener.open(task(14, "t", envelope("{\"title\":\"x\",\"payload\":\"" + SECRET_TEXT + "\"}")))));
    assertEquals("Decryption failed: plaintext title is not a string",
        rejected(opener.open(task(15, "t", envelope("{\"title\":[\"" + SECRET_TEXT + "\"]}")))));
    NaclBox.Sealed latin1 = NaclBox.seal(new byte[] {'{', (byte) 0xff, '}'}, ada.publicKey(), alice.secretKey());
    ObjectNode notUtf8 = good.deepCopy().put("nonce", latin1.nonce()).put("ciphertext", latin1.ciphertext());
    assertEquals("Decryption failed: plaintext is not UTF-8", rejected(opener.open(task(16, "t", notUtf8))));

    // none of the failures above used up the good envelope's nonce
    assertInstance(Opened.Encrypted.class, opener.open(task(17, "t", good)));
    assertEquals("Decryption failed: nonce already used by another task (replayed envelope)",
        rejected(opener.open(task(18, "t", good))));
  }

  @Test
  void missingDispatchKeypairIsAReason() throws Exception {
    ObjectNode good = envelope("{\"title\":\"t\"}");
    Files.delete(keyring.file(Keyring.DISPATCH_KEYS));
    assertEquals("Decryption failed: No dispatch keypair found — run: ats-dispatch keygen",
        rejected(opener.open(task(1, "t", good))));
  }

  @Test
  void replayIsRefusedAcrossARestartButTheSameTaskStillOpens() throws Exception {
    ObjectNode good = envelope("{\"title\":\"t\"}");
    assertInstance(Opened.Encrypted.class, opener.open(task(20, "t", good)));
    replay.close();
    replay = new ReplayGuard(dir.resolve("replay"));
    opener = new TaskOpener(keyring, replay);
    assertInstance(Opened.Encrypted.class, opener.open(task(20, "t", good)));
    rejected(opener.open(task(21, "t", good)));
    // the same key under a second name shares the record: renaming the sender does not replay
    keyring.addTrusted("alice-again", alice.publicKey());
    rejected(opener.open(task(22, "t", good.deepCopy().put("sender", "alice-again"))));
  }

  @Test
  void theHotPathParsesNoUnchangedKeyFile() throws Exception {
    keyring.setConfig("require_encryption", "false");
    List<Path> files = List.of(keyring.file(Keyring.DISPATCH_KEYS), keyring.file(Keyring.TRUSTED_KEYS),
        keyring.file(Keyring.CONFIG));
    for (Path f : files) Files.setLastModifiedTime(f, KeyringTest.LONG_AGO);
    assertInstance(Opened.Encrypted.class, opener.open(task(1, "t", envelope("{\"title\":\"t\"}"))));
    assertInstance(Opened.Plain.class, opener.open(task(2, "plain", M.createObjectNode())));
    // unreadable now, but with the attributes they had: only parsing them again could fail
    for (Path f : files) KeyringTest.garbleKeepingAttributes(f);
    for (int i = 0; i < 50; i++) {
      Opened.Encrypted e = assertInstance(Opened.Encrypted.class,
          opener.open(task(100 + i, "t", envelope("{\"title\":\"t\"}"))));
      opener.sealResponse("r", e);
      assertInstance(Opened.Plain.class, opener.open(task(200 + i, "plain", M.createObjectNode())));
    }
  }

  @Test
  void keysAndPolicyChangedByAnotherProcessApplyToTheNextTask() throws Exception {
    keyring.setConfig("require_encryption", "false");
    Files.setLastModifiedTime(keyring.file(Keyring.TRUSTED_KEYS), KeyringTest.LONG_AGO);
    Files.setLastModifiedTime(keyring.file(Keyring.CONFIG), KeyringTest.LONG_AGO);
    KeyPair carol = NaclBox.generateKeyPair();
    ObjectNode fromCarol = envelope("{\"title\":\"t\"}", carol, ada.publicKey()).put("sender", "carol");
    assertEquals("Decryption failed: Sender \"carol\" not in trusted-keys.json", rejected(opener.open(task(1, "t", fromCarol))));
    assertInstance(Opened.Plain.class, opener.open(task(2, "plain", M.createObjectNode())));

    // written as the admin commands of another process write (this process's cache is not told)
    ObjectNode trusted = (ObjectNode) M.readTree(keyring.file(Keyring.TRUSTED_KEYS).toFile());
    trusted.putObject("carol").put("publicKey", carol.publicKey());
    AtomicFiles.write(keyring.file(Keyring.TRUSTED_KEYS), JsJson.file(trusted).getBytes(StandardCharsets.UTF_8),
        AtomicFiles.OWNER_ONLY);
    AtomicFiles.write(keyring.file(Keyring.CONFIG), "{\n  \"require_encryption\": true\n}\n".getBytes(StandardCharsets.UTF_8),
        AtomicFiles.OWNER_ONLY);
    assertEquals("carol", assertInstance(Opened.Encrypted.class, opener.open(task(3, "t", fromCarol))).senderName());
    assertEquals(TaskOpener.ENCRYPTION_REQUIRED, rejected(opener.open(task(4, "plain", M.createObjectNode()))));
  }

  @Test
  void corruptKeyFilesAreNotBlamedOnTheTask() throws Exception {
    Files.writeString(keyring.file(Keyring.TRUSTED_KEYS), "{oops");
    assertThrows(KeyringException.class, () -> opener.open(task(1, "t", envelope("{\"title\":\"t\"}"))));
    Files.writeString(keyring.file(Keyring.CONFIG), "{oops");
    assertThrows(KeyringException.class, () -> opener.open(task(2, "plain", M.createObjectNode())));
  }

  @Test
  void sealedResponseOpensForTheSenderOnly() throws Exception {
    Opened.Encrypted e = assertInstance(Opened.Encrypted.class, opener.open(task(1, "t", envelope("{\"title\":\"t\"}"))));
    JsonNode r = opener.sealResponse("the answer ✓", e);
    assertEquals("the answer ✓", new String(NaclBox.open(r.get("nonce").asText(), r.get("ciphertext").asText(),
        ada.publicKey(), alice.secretKey()), StandardCharsets.UTF_8));
    assertEquals(2, r.size());
  }
}
