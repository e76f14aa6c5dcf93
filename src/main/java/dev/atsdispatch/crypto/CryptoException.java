package dev.atsdispatch.crypto;

/**
 * A box that could not be sealed or opened, typed so callers can tell malformed input from a box
 * that failed to open. Messages name the field and the problem, never key bytes or plaintext.
 */
public final class CryptoException extends Exception {
  /** What was wrong. */
  public enum Kind {
    /** A key, nonce or ciphertext is not standard base64. */
    BAD_BASE64,
    /** The nonce does not decode to 24 bytes. */
    BAD_NONCE_LENGTH,
    /** A public or secret key does not decode to 32 bytes. */
    BAD_KEY_LENGTH,
    /** The box did not open: wrong key, or the nonce or ciphertext was changed. */
    OPEN_FAILED
  }

  private final Kind kind;

  public CryptoException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
