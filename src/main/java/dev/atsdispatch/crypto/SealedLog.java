package dev.atsdispatch.crypto;

import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An attempt log kept sealed at rest: what the agent of an encrypted task wrote, each chunk in a
 * sealed box ({@code crypto_box_seal}) to the dispatcher's own public key, so the file alone (a
 * stolen disk, a backup of the state directory) tells nothing but sizes; {@code ats-dispatch logs}
 * opens it with the dispatcher's secret key. The writer keeps no key that opens it and buffers
 * nothing: each {@code write} is one record, so a crash loses at most the record being written.
 *
 * <p>Format: the 8 bytes {@code ATSDSL1\n}, then records of a 4-byte big-endian length and that
 * many bytes of sealed box, whose plaintext is an 8-byte big-endian sequence number (0, 1, ...)
 * and the chunk. The numbers make a dropped, repeated or reordered record an error, not a silent
 * gap. The writer is used by one thread (the pipe's drain); the reader is stateless.
 */
public final class SealedLog {
  static final byte[] MAGIC = "ATSDSL1\n".getBytes(StandardCharsets.US_ASCII);
  /** Largest chunk one record holds; a bigger write is split. */
  static final int MAX_CHUNK = 1 << 20;

  private SealedLog() {}

  /** Seals what is written to {@code out} for {@code publicKeyB64}; the header is written at once. */
  public static OutputStream writer(OutputStream out, String publicKeyB64) throws IOException {
    try {
      NaclBox.key(publicKeyB64, "log key");
    } catch (CryptoException e) {
      throw new IOException("cannot seal the log: " + e.getMessage(), e);
    }
    out.write(MAGIC);
    return new Writer(out, publicKeyB64);
  }

  private static final class Writer extends FilterOutputStream {
    private final String key;
    private long seq;

    Writer(OutputStream out, String key) {
      super(out);
      this.key = key;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        int n = Math.min(len, MAX_CHUNK);
        byte[] plain = new byte[8 + n];
        ByteBuffer.wrap(plain).putLong(seq);
        System.arraycopy(b, off, plain, 8, n);
        byte[] sealed;
        try {
          sealed = NaclBox.sealAnonymous(plain, 0, plain.length, key);
        } catch (CryptoException e) {
          throw new IOException("cannot seal the log: " + e.getMessage(), e);
        } finally {
          Arrays.fill(plain, (byte) 0);
        }
        byte[] record = new byte[4 + sealed.length];
        ByteBuffer.wrap(record).putInt(sealed.length).put(sealed);
        out.write(record); // one write per record: nothing of it waits in a buffer
        seq++;
        off += n;
        len -= n;
      }
    }
  }

  /** Why a sealed log could not be read to its end; what came before was already copied. */
  public static final class BrokenLog extends IOException {
    BrokenLog(String message) {
      super(message);
    }
  }

  /** True when {@code head} (a file's first bytes) starts like a sealed log. */
  public static boolean looksSealed(byte[] head) {
    return head.length >= MAGIC.length && Arrays.equals(Arrays.copyOf(head, MAGIC.length), MAGIC);
  }

  /**
   * Opens every record of {@code in} with {@code keys} and copies the plaintext to {@code out}, in
   * order, one record in memory at a time. Throws {@link BrokenLog} for a file that is not a
   * sealed log, a record that does not open (another key, or changed), a record out of sequence,
   * or a last record cut short (the service stopped while writing it); the records before it have
   * been copied by then. Returns the number of plaintext bytes copied.
   */
  public static long copy(InputStream in, KeyPair keys, OutputStream out) throws IOException {
    byte[] magic = in.readNBytes(MAGIC.length);
    if (!looksSealed(magic)) throw new BrokenLog("not a sealed log (no ATSDSL1 header)");
    long expected = 0;
    long copied = 0;
    byte[] len = new byte[4];
    while (true) {
      int got = in.readNBytes(len, 0, 4);
      if (got == 0) return copied;
      if (got < 4) throw new BrokenLog("the log ends inside a record header after " + expected + " record(s)");
      int n = ByteBuffer.wrap(len).getInt();
      if (n < NaclBox.SEAL_BYTES + 8 || n > MAX_CHUNK + 8 + NaclBox.SEAL_BYTES) {
        throw new BrokenLog("record " + expected + " has an impossible length (" + n + " bytes)");
      }
      byte[] sealed = in.readNBytes(n);
      if (sealed.length < n) {
        throw new BrokenLog("the last record (" + expected + ") is cut short: the service stopped while writing it");
      }
      byte[] plain;
      try {
        plain = NaclBox.openAnonymous(sealed, keys.publicKey(), keys.secretKey());
      } catch (CryptoException e) {
        throw new BrokenLog("record " + expected + " does not open with this dispatcher's key (" + e.getMessage() + ")");
      }
      try {
        long seq = ByteBuffer.wrap(plain).getLong();
        if (seq != expected) {
          throw new BrokenLog("record " + expected + " carries sequence number " + seq + ": records were dropped or reordered");
        }
        out.write(plain, 8, plain.length - 8);
        copied += plain.length - 8;
        expected++;
      } finally {
        Arrays.fill(plain, (byte) 0);
      }
    }
  }

  /** The whole plaintext of a small sealed log (tests, tails); see {@link #copy}. */
  public static byte[] readAll(InputStream in, KeyPair keys) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    copy(in, keys, b);
    return b.toByteArray();
  }
}
