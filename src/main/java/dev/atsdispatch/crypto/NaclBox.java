package dev.atsdispatch.crypto;

import com.goterl.lazysodium.LazySodiumJava;
import com.goterl.lazysodium.SodiumJava;
import java.util.Arrays;
import java.util.Base64;

/**
 * NaCl {@code crypto_box} through libsodium (Lazysodium): X25519, HSalsa20, XSalsa20-Poly1305,
 * byte-compatible with tweetnacl's {@code nacl.box} (reference-behaviour.md §1.3): 24-byte
 * nonce, ciphertext = 16-byte tag then the encrypted bytes, standard base64 with padding. The
 * native library is loaded once, on first use; all methods are thread-safe. Decoded secret keys
 * are wiped after use.
 */
public final class NaclBox {
  public static final int KEY_BYTES = 32;
  public static final int NONCE_BYTES = 24;
  public static final int TAG_BYTES = 16;

  /** A sealed message: base64 nonce and ciphertext, as the envelope and outputs carry them. */
  public record Sealed(String nonce, String ciphertext) {}

  private NaclBox() {}

  private static final class Sodium {
    static final LazySodiumJava LAZY = new LazySodiumJava(new SodiumJava());
  }

  private static LazySodiumJava sodium() {
    return Sodium.LAZY;
  }

  /** A fresh random keypair. */
  public static KeyPair generateKeyPair() {
    byte[] pk = new byte[KEY_BYTES];
    byte[] sk = new byte[KEY_BYTES];
    try {
      if (!sodium().cryptoBoxKeypair(pk, sk)) throw new IllegalStateException("crypto_box_keypair failed");
      return new KeyPair(b64(pk), b64(sk));
    } finally {
      Arrays.fill(sk, (byte) 0);
    }
  }

  /** Seals {@code plaintext} for the holder of {@code theirPublicB64}, with a fresh random nonce. */
  public static Sealed seal(byte[] plaintext, String theirPublicB64, String mySecretB64) throws CryptoException {
    byte[] nonce = new byte[NONCE_BYTES];
    sodium().getSodium().randombytes_buf(nonce, NONCE_BYTES);
    return new Sealed(b64(nonce), seal(plaintext, nonce, theirPublicB64, mySecretB64));
  }

  /** Seals with a given nonce (test vectors only: a nonce must never be reused). */
  static String seal(byte[] plaintext, byte[] nonce, String theirPublicB64, String mySecretB64)
      throws CryptoException {
    byte[] pk = key(theirPublicB64, "recipient public key");
    byte[] sk = key(mySecretB64, "sender secret key");
    try {
      byte[] c = new byte[plaintext.length + TAG_BYTES];
      if (!sodium().cryptoBoxEasy(c, plaintext, plaintext.length, nonce, pk, sk)) {
        throw new CryptoException(CryptoException.Kind.BAD_KEY_LENGTH, "crypto_box_easy refused the keys");
      }
      return b64(c);
    } finally {
      Arrays.fill(sk, (byte) 0);
    }
  }

  /**
   * Opens a box sealed for {@code mySecretB64} by the holder of {@code theirPublicB64}. Malformed
   * base64, a nonce that is not 24 bytes and a key that is not 32 bytes are reported as such,
   * before any attempt to open.
   */
  public static byte[] open(String nonceB64, String ciphertextB64, String theirPublicB64, String mySecretB64)
      throws CryptoException {
    byte[] nonce = decode(nonceB64, "nonce");
    if (nonce.length != NONCE_BYTES) {
      throw new CryptoException(CryptoException.Kind.BAD_NONCE_LENGTH,
          "nonce must be " + NONCE_BYTES + " bytes, got " + nonce.length);
    }
    byte[] c = decode(ciphertextB64, "ciphertext");
    byte[] pk = key(theirPublicB64, "sender public key");
    byte[] sk = key(mySecretB64, "recipient secret key");
    try {
      if (c.length < TAG_BYTES) {
        throw new CryptoException(CryptoException.Kind.OPEN_FAILED,
            "ciphertext is shorter than the " + TAG_BYTES + "-byte tag");
      }
      byte[] m = new byte[c.length - TAG_BYTES];
      if (!sodium().cryptoBoxOpenEasy(m, c, c.length, nonce, pk, sk)) {
        throw new CryptoException(CryptoException.Kind.OPEN_FAILED, "wrong key or tampered data");
      }
      return m;
    } finally {
      Arrays.fill(sk, (byte) 0);
    }
  }

  /** Bytes a sealed box ({@link #sealAnonymous}) adds: an ephemeral public key and the tag. */
  public static final int SEAL_BYTES = 48;

  /**
   * {@code crypto_box_seal}: seals {@code plaintext} for the holder of {@code theirPublicB64} with a
   * fresh ephemeral key, so only that secret key opens it and nothing names the writer.
   */
  public static byte[] sealAnonymous(byte[] plaintext, int offset, int length, String theirPublicB64)
      throws CryptoException {
    byte[] pk = key(theirPublicB64, "recipient public key");
    byte[] m = offset == 0 && length == plaintext.length ? plaintext : Arrays.copyOfRange(plaintext, offset, offset + length);
    byte[] c = new byte[length + SEAL_BYTES];
    try {
      if (!sodium().cryptoBoxSeal(c, m, length, pk)) {
        throw new CryptoException(CryptoException.Kind.BAD_KEY_LENGTH, "crypto_box_seal refused the key");
      }
      return c;
    } finally {
      if (m != plaintext) Arrays.fill(m, (byte) 0);
    }
  }

  /** Opens a {@link #sealAnonymous} box with the recipient's key pair. */
  public static byte[] openAnonymous(byte[] sealed, String myPublicB64, String mySecretB64) throws CryptoException {
    if (sealed.length < SEAL_BYTES) {
      throw new CryptoException(CryptoException.Kind.OPEN_FAILED, "sealed box is shorter than its " + SEAL_BYTES + " bytes of overhead");
    }
    byte[] pk = key(myPublicB64, "recipient public key");
    byte[] sk = key(mySecretB64, "recipient secret key");
    try {
      byte[] m = new byte[sealed.length - SEAL_BYTES];
      if (!sodium().cryptoBoxSealOpen(m, sealed, sealed.length, pk, sk)) {
        throw new CryptoException(CryptoException.Kind.OPEN_FAILED, "wrong key or tampered data");
      }
      return m;
    } finally {
      Arrays.fill(sk, (byte) 0);
    }
  }

  /** The public key that belongs to a secret key (to check that a stored pair matches). */
  public static String publicKeyOf(String secretB64) throws CryptoException {
    byte[] sk = key(secretB64, "secret key");
    try {
      byte[] pk = new byte[KEY_BYTES];
      if (!sodium().cryptoScalarMultBase(pk, sk)) {
        throw new CryptoException(CryptoException.Kind.BAD_KEY_LENGTH, "crypto_scalarmult_base refused the key");
      }
      return b64(pk);
    } finally {
      Arrays.fill(sk, (byte) 0);
    }
  }

  /** Standard base64 with padding, as tweetnacl-util's encodeBase64. */
  public static String b64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }

  /** Decodes standard base64; {@code what} names the field in the error. */
  public static byte[] decode(String b64, String what) throws CryptoException {
    if (b64 == null) throw new CryptoException(CryptoException.Kind.BAD_BASE64, what + " is missing");
    try {
      return Base64.getDecoder().decode(b64);
    } catch (IllegalArgumentException e) {
      throw new CryptoException(CryptoException.Kind.BAD_BASE64, what + " is not valid base64");
    }
  }

  /** Decodes a 32-byte key. */
  public static byte[] key(String b64, String what) throws CryptoException {
    byte[] k = decode(b64, what);
    if (k.length != KEY_BYTES) {
      Arrays.fill(k, (byte) 0);
      throw new CryptoException(CryptoException.Kind.BAD_KEY_LENGTH,
          what + " must be " + KEY_BYTES + " bytes, got " + k.length);
    }
    return k;
  }

  /**
   * Checks a public key as the key files and the JavaScript version store it: canonical standard
   * base64 (with padding) of exactly 32 bytes. The canonical form matters because fingerprints and
   * {@code from} lookups compare the text, not the bytes. Messages are details to follow
   * "Invalid public key: " ({@code expected 32 bytes, got N}, {@code not valid base64}, ...).
   */
  public static void checkPublicKey(String b64) throws CryptoException {
    if (b64 == null || b64.isEmpty()) throw new CryptoException(CryptoException.Kind.BAD_BASE64, "empty");
    byte[] k;
    try {
      k = Base64.getDecoder().decode(b64);
    } catch (IllegalArgumentException e) {
      throw new CryptoException(CryptoException.Kind.BAD_BASE64, "not valid base64");
    }
    if (k.length != KEY_BYTES) {
      throw new CryptoException(CryptoException.Kind.BAD_KEY_LENGTH,
          "expected " + KEY_BYTES + " bytes, got " + k.length);
    }
    if (!b64(k).equals(b64)) {
      throw new CryptoException(CryptoException.Kind.BAD_BASE64,
          "not canonical base64 (standard alphabet with '=' padding)");
    }
  }
}
