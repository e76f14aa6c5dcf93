package dev.atsdispatch.crypto;

/**
 * An X25519 keypair as the key files store it: standard base64 (with padding) of 32 raw bytes
 * each. {@link #toString()} never shows the secret key.
 */
public record KeyPair(String publicKey, String secretKey) {
  public KeyPair {
    if (publicKey == null || secretKey == null) throw new IllegalArgumentException("both keys are required");
  }

  public String fingerprint() {
    return Fingerprint.of(publicKey);
  }

  @Override
  public String toString() {
    return "KeyPair[publicKey=" + publicKey + ", secretKey=(hidden)]";
  }
}
