package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Classifies and opens a task as the JavaScript version does (reference-behaviour.md §1.4, §1.5),
 * without its defects: registration first; then an encrypted envelope ({@code payload.encrypted})
 * is opened in memory with the sender named by {@code sender} (else found by its {@code from}
 * public key) and checked against the {@link ReplayGuard}; a plaintext task is refused while
 * {@code require_encryption} is on. Policy and keys are looked up on every call (the
 * {@link Keyring} parses a file again only when it changed). Nothing here claims, logs or talks
 * to ATS. A corrupt key file is a {@link KeyringException} (leave the task for later:
 * it is not the task's fault). Thread-safe.
 */
public final class TaskOpener {
  public static final String ENCRYPTION_REQUIRED = "Encryption required. Plaintext tasks are no longer accepted.";
  static final String FAILED = "Decryption failed: ";
  private static final ObjectMapper M = new ObjectMapper();

  private final Keyring keyring;
  private final ReplayGuard replay;

  public TaskOpener(Keyring keyring, ReplayGuard replay) {
    this.keyring = keyring;
    this.replay = replay;
  }

  /** An ATS task as read by the admin tools and tests: its key is {@code ats:<id>}. */
  public Opened open(Task t) {
    return open(new SourceTask(TaskKey.of("ats", t.id()), t.status(), t.priority(), t.createdAt(), t.title(),
        t.description(), t.payload() instanceof ObjectNode o ? o : null, false, null));
  }

  public Opened open(SourceTask raw) {
    JsonNode payload = raw.payload() == null ? M.createObjectNode() : raw.payload();
    String title = raw.title() == null ? "" : raw.title();
    JsonNode pubkey = payload.get("pubkey");
    if (title.trim().toLowerCase(Locale.ROOT).equals("register") && truthy(pubkey)) {
      return new Opened.Registration(pubkey.isTextual() ? pubkey.asText() : pubkey.toString());
    }
    if (truthy(payload.get("encrypted"))) return decrypt(raw, payload);
    if (keyring.requireEncryption()) return new Opened.Rejected(ENCRYPTION_REQUIRED, false);
    return new Opened.Plain(raw.title(), raw.description(),
        payload.isObject() ? ((ObjectNode) payload).deepCopy() : M.createObjectNode());
  }

  private Opened decrypt(SourceTask raw, JsonNode outer) {
    String senderName;
    String senderKey;
    JsonNode sender = outer.get("sender");
    JsonNode from = outer.get("from");
    if (truthy(sender)) {
      senderName = sender.asText();
      var k = keyring.trusted(senderName);
      if (k.isEmpty()) return fail("Sender \"" + shown(senderName) + "\" not in trusted-keys.json");
      senderKey = k.get().publicKey();
    } else if (truthy(from)) {
      var k = keyring.trustedByPublicKey(from.asText());
      if (k.isEmpty()) {
        return fail("Public key not in trusted-keys.json (fingerprint: " + Fingerprint.of(from.asText()) + ")");
      }
      senderName = k.get().name();
      senderKey = k.get().publicKey();
    } else {
      return fail("Encrypted task missing sender/from field");
    }
    var dispatch = keyring.dispatchKeyPair();
    if (dispatch.isEmpty()) return fail("No dispatch keypair found — run: ats-dispatch keygen");
    JsonNode nonce = outer.get("nonce");
    JsonNode ciphertext = outer.get("ciphertext");
    if (nonce == null || !nonce.isTextual()) return fail("Encrypted task missing nonce");
    if (ciphertext == null || !ciphertext.isTextual()) return fail("Encrypted task missing ciphertext");

    byte[] plain;
    try {
      plain = NaclBox.open(nonce.asText(), ciphertext.asText(), senderKey, dispatch.get().secretKey());
    } catch (CryptoException e) {
      return fail(e.kind() == CryptoException.Kind.OPEN_FAILED
          ? e.getMessage() + " (sender \"" + shown(senderName) + "\")"
          : e.getMessage());
    }
    JsonNode inner;
    try {
      String text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(plain)).toString();
      inner = M.readTree(text);
    } catch (CharacterCodingException e) {
      return fail("plaintext is not UTF-8");
    } catch (IOException e) {
      return fail("plaintext is not valid JSON"); // the parser's message could quote the plaintext
    } finally {
      java.util.Arrays.fill(plain, (byte) 0);
    }
    if (inner == null || !inner.isObject()) return fail("plaintext is not a JSON object");
    JsonNode t = inner.get("title");
    JsonNode d = inner.get("description");
    JsonNode p = inner.get("payload");
    if (t != null && !t.isNull() && !t.isTextual()) return fail("plaintext title is not a string");
    if (d != null && !d.isNull() && !d.isTextual()) return fail("plaintext description is not a string");
    if (p != null && !p.isNull() && !p.isObject()) return fail("plaintext payload is not a JSON object");

    if (!replay.accept(senderKey, nonce.asText(), raw.key().toString())) {
      return fail("nonce already used by another task (replayed envelope)");
    }
    // only what the sender sealed: the outer title and description are plaintext anyone with
    // access to ATS can edit, so they never reach the agent of an encrypted task
    return new Opened.Encrypted(
        t != null && t.isTextual() ? t.asText() : "",
        d != null && d.isTextual() ? d.asText() : "",
        p != null && p.isObject() ? (ObjectNode) p : M.createObjectNode(),
        senderName, senderKey);
  }

  /**
   * The response sealed to the sender with the dispatch secret key: {@code {"nonce","ciphertext"}},
   * the {@code encrypted_response} of the outputs (§1.6).
   */
  public ObjectNode sealResponse(String response, Opened.Encrypted e) {
    KeyPair kp = keyring.dispatchKeyPair()
        .orElseThrow(() -> new KeyringException(keyring.file(Keyring.DISPATCH_KEYS)
            + " is gone: cannot seal the response (run ats-dispatch keygen)"));
    try {
      NaclBox.Sealed s = NaclBox.seal(response.getBytes(StandardCharsets.UTF_8), e.senderPublicKey(), kp.secretKey());
      ObjectNode o = M.createObjectNode();
      o.put("nonce", s.nonce());
      o.put("ciphertext", s.ciphertext());
      return o;
    } catch (CryptoException x) {
      throw new KeyringException("cannot seal the response: " + x.getMessage());
    }
  }

  private static Opened.Rejected fail(String detail) {
    return new Opened.Rejected(FAILED + detail, true);
  }

  /** A sender name as it may appear in a reason: one line, at most 64 characters. */
  private static String shown(String s) {
    String one = s.replaceAll("\\p{Cntrl}", "?");
    return one.length() > 64 ? one.substring(0, 64) + "…" : one;
  }

  /** JavaScript truthiness of a JSON value. */
  static boolean truthy(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) return false;
    if (n.isBoolean()) return n.asBoolean();
    if (n.isNumber()) return n.asDouble() != 0 && !Double.isNaN(n.asDouble());
    if (n.isTextual()) return !n.asText().isEmpty();
    return true;
  }
}
