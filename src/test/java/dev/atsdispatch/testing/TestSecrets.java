package dev.atsdispatch.testing;

import java.security.SecureRandom;
import java.util.Base64;

/** Secrets made at test time, so that nothing secret-looking is committed with the tests. */
public final class TestSecrets {
  private static final SecureRandom RANDOM = new SecureRandom();

  private TestSecrets() {}

  /** A value shaped like a Telegram bot token ({@code <digits>:<35 url-safe characters>}). */
  public static String botToken() {
    return (100_000 + RANDOM.nextInt(900_000)) + ":" + random(26).substring(0, 35);
  }

  /** {@code bytes} random bytes, base64url without padding. */
  public static String random(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
