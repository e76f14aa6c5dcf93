package dev.atsdispatch.crypto;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The JavaScript ats-dispatch's key fingerprint (reference-behaviour.md §1.2): the first 16 hex
 * characters of SHA-256 over the UTF-8 bytes of the base64 <em>text</em> exactly as stored, not
 * over the decoded key. Kept for compatibility, though it is only 64 bits.
 */
public final class Fingerprint {
  private Fingerprint() {}

  public static String of(String base64Text) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(base64Text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(h, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
