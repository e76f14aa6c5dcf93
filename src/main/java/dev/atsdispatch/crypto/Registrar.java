package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.Clock;

/**
 * The registration flow of reference-behaviour.md §1.5 as pure logic over the {@link Keyring}: the
 * caller claims, then completes with the outputs or fails with the reason, and notifies the admin
 * when told to. Registration is unauthenticated, so a flood must not crowd out the admin or a
 * real sender (issue 12, finding 6): the dispatcher's own key is refused and a trusted key answered
 * without touching the pending list; a key already waiting is not stored, counted or announced
 * twice; a new key takes a token from a bucket of {@code max_registrations_per_hour} that refills
 * continuously (full at start, kept in memory for the life of the service), and without one it is
 * refused; at {@code max_pending_registrations} new requests are refused (defect 8). Thread-safe:
 * {@link #handle} is serialised.
 */
public final class Registrar {
  public static final String PENDING_MESSAGE =
      "Registration request submitted. Admin has been notified. You will be approved shortly.";
  public static final String OWN_KEY = "Registration refused: this is the dispatcher's own public key";
  private static final ObjectMapper M = new ObjectMapper();
  private static final double HOUR_NANOS = 3_600e9;

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

  /**
   * Fail with {@code reason}, nothing stored: the dispatcher's own key, over the rate, or too many
   * waiting already.
   */
  public record Refused(String reason) implements Result {}

  private final Keyring keyring;
  private final Clock clock;
  private double tokens = -1; // the bucket starts full
  private long refilledAt;

  public Registrar(Keyring keyring) {
    this(keyring, Clock.SYSTEM);
  }

  public Registrar(Keyring keyring, Clock clock) {
    this.keyring = keyring;
    this.clock = clock;
  }

  /** Handles {@code register} with {@code payload.pubkey}; {@code taskIdAsReceived} is stored as is. */
  public synchronized Result handle(String pubkey, JsonNode taskIdAsReceived) {
    String fp = Fingerprint.of(pubkey);
    try {
      NaclBox.checkPublicKey(pubkey);
    } catch (CryptoException e) {
      return new Invalid("Invalid public key: " + e.getMessage(), fp);
    }
    if (keyring.dispatchKeyPair().map(kp -> kp.publicKey().equals(pubkey)).orElse(false)) return new Refused(OWN_KEY);
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
    var waiting = keyring.pending().get(fp);
    boolean repeat = waiting != null && waiting.pubkey().equals(pubkey);
    int perHour = keyring.maxRegistrationsPerHour();
    if (!repeat && !take(perHour)) {
      return new Refused("Registration refused: too many new registration requests (at most " + perHour
          + " an hour); try again later");
    }
    Keyring.PendingResult r = keyring.addPending(pubkey, taskIdAsReceived);
    if (r == Keyring.PendingResult.FULL) {
      if (!repeat) tokens = Math.min(perHour, tokens + 1); // nothing was taken in
      return new Refused("Registration refused: " + keyring.maxPending()
          + " registrations are already waiting for approval; try again later");
    }
    ObjectNode out = M.createObjectNode();
    out.put("status", "pending_approval");
    out.put("fingerprint", fp);
    out.put("message", PENDING_MESSAGE);
    return new PendingApproval(out, r == Keyring.PendingResult.ADDED, fp);
  }

  /** A token from the bucket of {@code perHour}, refilled at {@code perHour} an hour; false when empty. */
  private boolean take(int perHour) {
    long now = clock.nanoTime();
    if (tokens < 0) tokens = perHour;
    tokens = Math.min(perHour, tokens + (now - refilledAt) * (perHour / HOUR_NANOS));
    refilledAt = now;
    if (tokens < 1 - 1e-9) return false; // a float sum of exact refills may fall short by a rounding
    tokens -= 1;
    return true;
  }
}
