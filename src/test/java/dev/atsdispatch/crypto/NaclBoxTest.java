package dev.atsdispatch.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** Java-to-Java boxes through libsodium, and every way opening can fail, each told apart. */
final class NaclBoxTest {
  final KeyPair alice = NaclBox.generateKeyPair();
  final KeyPair ada = NaclBox.generateKeyPair();

  @Test
  void fingerprintIsOverTheBase64TextNotTheBytes() {
    assertEquals("51643eac9777b63a", Fingerprint.of("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assertEquals(16, Fingerprint.of(alice.publicKey()).length());
    assertEquals(alice.fingerprint(), Fingerprint.of(alice.publicKey()));
  }

  @Test
  void keypairsAre32ByteKeysInPaddedBase64AndToStringHidesTheSecret() throws Exception {
    assertEquals(32, Base64.getDecoder().decode(alice.publicKey()).length);
    assertEquals(32, Base64.getDecoder().decode(alice.secretKey()).length);
    assertTrue(alice.publicKey().endsWith("="));
    assertNotEquals(alice.publicKey(), ada.publicKey());
    assertFalse(alice.toString().contains(alice.secretKey()));
    assertEquals(alice.publicKey(), NaclBox.publicKeyOf(alice.secretKey()));
  }

  @Test
  void roundTripBothDirectionsWithFreshNonces() throws Exception {
    byte[] msg = "{\"title\":\"hé ✓\"}".getBytes(StandardCharsets.UTF_8);
    NaclBox.Sealed a = NaclBox.seal(msg, ada.publicKey(), alice.secretKey());
    NaclBox.Sealed b = NaclBox.seal(msg, ada.publicKey(), alice.secretKey());
    assertNotEquals(a.nonce(), b.nonce());
    assertEquals(24, Base64.getDecoder().decode(a.nonce()).length);
    assertEquals(msg.length + 16, Base64.getDecoder().decode(a.ciphertext()).length);
    assertArrayEquals(msg, NaclBox.open(a.nonce(), a.ciphertext(), alice.publicKey(), ada.secretKey()));
    NaclBox.Sealed back = NaclBox.seal("reply".getBytes(StandardCharsets.UTF_8), alice.publicKey(), ada.secretKey());
    assertEquals("reply", new String(NaclBox.open(back.nonce(), back.ciphertext(), ada.publicKey(),
        alice.secretKey()), StandardCharsets.UTF_8));
    NaclBox.Sealed empty = NaclBox.seal(new byte[0], ada.publicKey(), alice.secretKey());
    assertEquals(0, NaclBox.open(empty.nonce(), empty.ciphertext(), alice.publicKey(), ada.secretKey()).length);
  }

  @Test
  void failuresAreTypedAndNameNoSecret() throws Exception {
    NaclBox.Sealed s = NaclBox.seal("secret plan".getBytes(StandardCharsets.UTF_8), ada.publicKey(), alice.secretKey());
    KeyPair mallory = NaclBox.generateKeyPair();
    assertKind(CryptoException.Kind.OPEN_FAILED, "wrong key or tampered data",
        () -> NaclBox.open(s.nonce(), s.ciphertext(), mallory.publicKey(), ada.secretKey()));
    byte[] c = Base64.getDecoder().decode(s.ciphertext());
    c[c.length - 1] ^= 1;
    assertKind(CryptoException.Kind.OPEN_FAILED, "wrong key or tampered data",
        () -> NaclBox.open(s.nonce(), NaclBox.b64(c), alice.publicKey(), ada.secretKey()));
    byte[] n = Base64.getDecoder().decode(s.nonce());
    n[0] ^= 1;
    assertKind(CryptoException.Kind.OPEN_FAILED, "wrong key or tampered data",
        () -> NaclBox.open(NaclBox.b64(n), s.ciphertext(), alice.publicKey(), ada.secretKey()));
    assertKind(CryptoException.Kind.OPEN_FAILED, "shorter than the 16-byte tag",
        () -> NaclBox.open(s.nonce(), NaclBox.b64(new byte[15]), alice.publicKey(), ada.secretKey()));
    assertKind(CryptoException.Kind.BAD_BASE64, "nonce is not valid base64",
        () -> NaclBox.open("!!not base64!!", s.ciphertext(), alice.publicKey(), ada.secretKey()));
    assertKind(CryptoException.Kind.BAD_BASE64, "ciphertext is not valid base64",
        () -> NaclBox.open(s.nonce(), "%%%", alice.publicKey(), ada.secretKey()));
    assertKind(CryptoException.Kind.BAD_NONCE_LENGTH, "nonce must be 24 bytes, got 12",
        () -> NaclBox.open(NaclBox.b64(new byte[12]), s.ciphertext(), alice.publicKey(), ada.secretKey()));
    assertKind(CryptoException.Kind.BAD_KEY_LENGTH, "sender public key must be 32 bytes, got 31",
        () -> NaclBox.open(s.nonce(), s.ciphertext(), NaclBox.b64(new byte[31]), ada.secretKey()));
    CryptoException e = assertKind(CryptoException.Kind.BAD_KEY_LENGTH, "recipient secret key must be 32 bytes",
        () -> NaclBox.open(s.nonce(), s.ciphertext(), alice.publicKey(), "c2VjcmV0"));
    assertFalse(e.getMessage().contains("c2VjcmV0"));
    assertKind(CryptoException.Kind.BAD_KEY_LENGTH, "recipient public key must be 32 bytes",
        () -> NaclBox.seal(new byte[1], NaclBox.b64(new byte[33]), alice.secretKey()));
  }

  @Test
  void publicKeysMustBeCanonicalPaddedBase64Of32Bytes() throws Exception {
    NaclBox.checkPublicKey(alice.publicKey());
    assertKind(CryptoException.Kind.BAD_KEY_LENGTH, "expected 32 bytes, got 31",
        () -> NaclBox.checkPublicKey(NaclBox.b64(new byte[31])));
    assertKind(CryptoException.Kind.BAD_BASE64, "not valid base64", () -> NaclBox.checkPublicKey("a b"));
    assertKind(CryptoException.Kind.BAD_BASE64, "not canonical",
        () -> NaclBox.checkPublicKey(alice.publicKey().replace("=", "")));
    assertKind(CryptoException.Kind.BAD_BASE64, "empty", () -> NaclBox.checkPublicKey(""));
  }

  interface Call {
    void run() throws CryptoException;
  }

  static CryptoException assertKind(CryptoException.Kind kind, String text, Call c) {
    CryptoException e = assertThrows(CryptoException.class, c::run);
    assertEquals(kind, e.kind(), e.getMessage());
    assertTrue(e.getMessage().contains(text), e.getMessage());
    return e;
  }
}
