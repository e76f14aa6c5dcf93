package dev.atsdispatch.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Sealed attempt logs: what goes in comes out with the key only, and damage is named, not skipped. */
final class SealedLogTest {
  static final KeyPair KEYS = NaclBox.generateKeyPair();

  static byte[] sealed(byte[]... writes) throws IOException {
    ByteArrayOutputStream file = new ByteArrayOutputStream();
    try (OutputStream w = SealedLog.writer(file, KEYS.publicKey())) {
      for (byte[] b : writes) w.write(b);
    }
    return file.toByteArray();
  }

  static byte[] open(byte[] file, KeyPair keys) throws IOException {
    return SealedLog.readAll(new ByteArrayInputStream(file), keys);
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void whatIsWrittenComesBackInOrderAndTheFileHoldsNoneOfItInTheClear() throws IOException {
    byte[] file = sealed(bytes("first secret-line\n"), bytes(""), bytes("second secret-line\n"), new byte[] {0, (byte) 0xff});
    assertTrue(SealedLog.looksSealed(file));
    assertFalse(new String(file, StandardCharsets.ISO_8859_1).contains("secret-line"));
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    expected.writeBytes(bytes("first secret-line\nsecond secret-line\n"));
    expected.writeBytes(new byte[] {0, (byte) 0xff});
    assertArrayEquals(expected.toByteArray(), open(file, KEYS));
  }

  @Test
  void aWriteLargerThanOneRecordIsSplitAndComesBackWhole() throws IOException {
    byte[] big = new byte[SealedLog.MAX_CHUNK * 2 + 12345];
    new Random(7).nextBytes(big);
    byte[] file = sealed(big);
    int records = 0;
    ByteBuffer b = ByteBuffer.wrap(file, SealedLog.MAGIC.length, file.length - SealedLog.MAGIC.length);
    while (b.hasRemaining()) {
      int n = b.getInt();
      b.position(b.position() + n);
      records++;
    }
    assertEquals(3, records);
    assertArrayEquals(big, open(file, KEYS));
  }

  @Test
  void anotherKeyOpensNothing() throws IOException {
    byte[] file = sealed(bytes("x"));
    SealedLog.BrokenLog e = assertThrows(SealedLog.BrokenLog.class, () -> open(file, NaclBox.generateKeyPair()));
    assertTrue(e.getMessage().contains("record 0 does not open with this dispatcher's key"), e.getMessage());
  }

  @Test
  void aChangedByteIsReportedAtItsRecordAfterTheRecordsBeforeIt() throws IOException {
    byte[] file = sealed(bytes("one\n"), bytes("two\n"));
    file[file.length - 1] ^= 1;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SealedLog.BrokenLog e = assertThrows(SealedLog.BrokenLog.class,
        () -> SealedLog.copy(new ByteArrayInputStream(file), KEYS, out));
    assertTrue(e.getMessage().startsWith("record 1 does not open"), e.getMessage());
    assertEquals("one\n", out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void droppedOrReorderedRecordsAreNamed() throws IOException {
    byte[] one = sealed(bytes("a"), bytes("b"));
    int header = SealedLog.MAGIC.length;
    int first = 4 + ByteBuffer.wrap(one, header, 4).getInt();
    // the second record alone after the header: sequence 1 where 0 was expected
    byte[] dropped = new byte[one.length - first];
    System.arraycopy(one, 0, dropped, 0, header);
    System.arraycopy(one, header + first, dropped, header, one.length - header - first);
    SealedLog.BrokenLog e = assertThrows(SealedLog.BrokenLog.class, () -> open(dropped, KEYS));
    assertTrue(e.getMessage().contains("carries sequence number 1: records were dropped or reordered"), e.getMessage());
  }

  @Test
  void aLastRecordCutShortIsNamedAndWhatCameBeforeIsKept() throws IOException {
    byte[] file = sealed(bytes("kept\n"), bytes("lost in the crash\n"));
    byte[] cut = Arrays.copyOf(file, file.length - 5);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SealedLog.BrokenLog e = assertThrows(SealedLog.BrokenLog.class,
        () -> SealedLog.copy(new ByteArrayInputStream(cut), KEYS, out));
    assertTrue(e.getMessage().contains("the last record (1) is cut short"), e.getMessage());
    assertEquals("kept\n", out.toString(StandardCharsets.UTF_8));
    byte[] cutHeader = Arrays.copyOf(file, SealedLog.MAGIC.length + 2);
    assertTrue(assertThrows(SealedLog.BrokenLog.class, () -> open(cutHeader, KEYS)).getMessage()
        .contains("ends inside a record header"));
  }

  @Test
  void aFileThatIsNotASealedLogOrHasAnImpossibleLengthIsRefused() throws IOException {
    assertTrue(assertThrows(SealedLog.BrokenLog.class, () -> open(bytes("plain text log\n"), KEYS)).getMessage()
        .contains("not a sealed log"));
    byte[] huge = Arrays.copyOf(SealedLog.MAGIC, SealedLog.MAGIC.length + 4);
    ByteBuffer.wrap(huge, SealedLog.MAGIC.length, 4).putInt(Integer.MAX_VALUE);
    assertTrue(assertThrows(SealedLog.BrokenLog.class, () -> open(huge, KEYS)).getMessage()
        .contains("impossible length"));
    assertArrayEquals(new byte[0], open(sealed(), KEYS), "an empty log is a header only");
  }

  @Test
  void aBadKeyIsRefusedBeforeAnythingIsWritten() {
    ByteArrayOutputStream file = new ByteArrayOutputStream();
    IOException e = assertThrows(IOException.class, () -> SealedLog.writer(file, "bm90IGEga2V5"));
    assertTrue(e.getMessage().contains("cannot seal the log"), e.getMessage());
    assertEquals(0, file.size());
  }
}
