package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The registration flow of reference-behaviour.md §1.5 as pure logic over the {@link Keyring}: the
 * caller claims, then completes with the outputs or fails with the reason, and notifies the admin
 * when told to. A key already waiting is not stored twice and not announced twice; at
 * {@code max_pending_registrations} new requests are refused (defect 8). Thread-safe.
 */
public final class Registrar {
  public static final String PENDING_MESSAGE =
      "Registration request submitted. Admin has been notified. You will be approved shortly.";
  private static final ObjectMapper M = new ObjectMapper();

  /** What to do with a registration task. */
  public sealed interface Result permits Invalid, AlreadyRegistered, PendingApproval, Refused {}

  /**
   * The key is not canonical base64 of 32 bytes: fail with {@code reason}
   * ({@code Invalid public key: <detail>}); no callback. {@code fingerprint} is of the text, for
   * the admin notice ("Registration REJECTED — invalid key format").
   */
  public record Invalid(String reason, String fingerprint) implements Result {}

  /** Already trusted: complete with {@code outputs} (status, name, ada_public_key, message); no notice. */
  public record AlreadyRegistered(ObjectNode outputs, String name) implements Result {}

  /**
   * Stored as pending: complete with {@code outputs} (status, fingerprint, message); tell the admin
   * only when {@code notifyAdmin} (false for a key that was already waiting).
   */
  public record PendingApproval(ObjectNode outputs, boolean notifyAdmin, String fingerprint) implements Result {}

  /** Too many registrations wait already: fail with {@code reason}; nothing stored, no notice. */
  public record Refused(String reason) implements Result {}

  private final Keyring keyring;

  public Registrar(Keyring keyring) {
    this.keyring = keyring;
  }

  /** Handles {@code register} with {@code payload.pubkey}; {@code taskIdAsReceived} is stored as is. */
  public Result handle(String pubkey, JsonNode taskIdAsReceived) {
    String fp = Fingerprint.of(pubkey);
    try {
      NaclBox.checkPublicKey(pubkey);
    } catch (CryptoException e) {
      return new Invalid("Invalid public key: " + e.getMessage(), fp);
    }
    var existing = keyring.trustedByPublicKey(pubkey);
    if (existing.isPresent()) {
      String name = existing.get().name();
      ObjectNode out = M.createObjectNode();
      out.put("status", "already_registered");
      out.put("name", name);
      out.put("ada_public_key", keyring.ensureDispatchKeyPair().publicKey());
      out.put("message", "Key already registered as \"" + name + "\".");
      return new AlreadyRegistered(out, name);
    }
    Keyring.PendingResult r = keyring.addPending(pubkey, taskIdAsReceived);
    if (r == Keyring.PendingResult.FULL) {
      return new Refused("Registration refused: " + keyring.maxPending()
          + " registrations are already waiting for approval; try again later");
    }
    ObjectNode out = M.createObjectNode();
    out.put("status", "pending_approval");
    out.put("fingerprint", fp);
    out.put("message", PENDING_MESSAGE);
    return new PendingApproval(out, r == Keyring.PendingResult.ADDED, fp);
  }
}
