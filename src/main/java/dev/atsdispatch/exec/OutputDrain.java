package dev.atsdispatch.exec;

import dev.atsdispatch.crypto.SealedLog;
import dev.atsdispatch.files.OwnerOnly;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Copies one of the agent's pipes to its log file, chunk by chunk and unbuffered (nothing is lost
 * if the service dies), keeping only the first {@code headCap} bytes and the last {@code tailCap}
 * bytes in memory. With no log file (null) only memory keeps it; with {@code sealTo} (an
 * encrypted task's output, which is plaintext) each chunk is written sealed to that key. Notes the time of every chunk for the no-output timeout. Runs on its own thread
 * until the pipe closes.
 */
final class OutputDrain implements Runnable {
  private final InputStream in;
  private final Path log;
  private final String sealTo;
  private final Clock clock;
  private final AtomicLong lastOutput;
  private final byte[] head;
  private final byte[] tail;
  private int headLen;
  private long total;
  private volatile IOException logError;
  /** Told each line (cut at {@link #LINE_CAP} characters), or null. */
  private final java.util.function.Consumer<String> lines;
  private final java.io.ByteArrayOutputStream partial = new java.io.ByteArrayOutputStream();
  /** The longest line handed on whole (a structured-output event can be long); one per stream is held. */
  static final int LINE_CAP = 1 << 20;

  OutputDrain(InputStream in, Path log, String sealTo, int headCap, int tailCap, Clock clock, AtomicLong lastOutput) {
    this(in, log, sealTo, headCap, tailCap, clock, lastOutput, null);
  }

  OutputDrain(InputStream in, Path log, String sealTo, int headCap, int tailCap, Clock clock, AtomicLong lastOutput,
      java.util.function.Consumer<String> lines) {
    this.lines = lines;
    this.in = in;
    this.log = log;
    this.sealTo = sealTo;
    this.clock = clock;
    this.lastOutput = lastOutput;
    this.head = new byte[Math.max(0, headCap)];
    this.tail = new byte[Math.max(0, tailCap)];
  }

  @Override
  public void run() {
    byte[] buf = new byte[16 * 1024];
    OutputStream out = null;
    try {
      if (log != null) out = OwnerOnly.newOutputStream(log);
      if (out != null && sealTo != null) out = SealedLog.writer(out, sealTo);
    } catch (IOException e) {
      logError = e;
    }
    try {
      int n;
      while ((n = in.read(buf)) > 0) {
        lastOutput.set(clock.nanoTime());
        record(buf, n);
        if (lines != null) split(buf, n);
        if (out != null) {
          try {
            out.write(buf, 0, n);
          } catch (IOException e) {
            logError = e; // keep draining so the agent never blocks on a full pipe
            out = closeQuietly(out);
          }
        }
      }
    } catch (IOException e) {
      // the pipe was closed under us (process killed); what was read is kept
    } finally {
      if (lines != null && partial.size() > 0) emit();
      closeQuietly(out);
      try {
        in.close();
      } catch (IOException e) {
        // nothing to do
      }
    }
  }

  /** Hands on each complete line; a line longer than the cap is handed on in pieces of the cap. */
  private void split(byte[] buf, int n) {
    int from = 0;
    for (int i = 0; i < n; i++) {
      if (buf[i] == '\n') {
        partial.write(buf, from, i - from);
        emit();
        from = i + 1;
      } else if (partial.size() + (i - from) >= LINE_CAP) {
        partial.write(buf, from, i - from);
        emit();
        from = i;
      }
    }
    partial.write(buf, from, n - from);
  }

  private void emit() {
    String line = partial.toString(StandardCharsets.UTF_8);
    partial.reset();
    if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
    try {
      lines.accept(line);
    } catch (RuntimeException e) {
      // a listener's failure never stops the drain (the agent would block on a full pipe)
    }
  }

  private synchronized void record(byte[] buf, int n) {
    int toHead = Math.min(n, head.length - headLen);
    if (toHead > 0) {
      System.arraycopy(buf, 0, head, headLen, toHead);
      headLen += toHead;
    }
    if (tail.length > 0) {
      if (n >= tail.length) {
        System.arraycopy(buf, n - tail.length, tail, 0, tail.length);
      } else {
        // shift the ring left by n and append (tails are small: a few KiB)
        System.arraycopy(tail, n, tail, 0, tail.length - n);
        System.arraycopy(buf, 0, tail, tail.length - n, n);
      }
    }
    total += n;
  }

  synchronized long total() {
    return total;
  }

  synchronized boolean truncated() {
    return total > head.length;
  }

  /** The first bytes as text, cut at a UTF-8 character boundary. */
  synchronized String head() {
    int end = headLen;
    if (total > headLen && end > 0) {
      // drop a last character whose bytes run past the cap
      int i = end - 1;
      while (i > 0 && (head[i] & 0xC0) == 0x80) i--;
      int b = head[i] & 0xFF;
      int len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
      if (i + len > end) end = i;
    }
    return new String(head, 0, end, StandardCharsets.UTF_8);
  }

  /** The last bytes as text, starting at a UTF-8 character boundary. */
  synchronized String tail() {
    int len = (int) Math.min(total, tail.length);
    int start = tail.length - len;
    while (start < tail.length && (tail[start] & 0xC0) == 0x80) start++;
    return new String(tail, start, tail.length - start, StandardCharsets.UTF_8);
  }

  IOException logError() {
    return logError;
  }

  private static OutputStream closeQuietly(OutputStream o) {
    if (o != null) {
      try {
        o.close();
      } catch (IOException e) {
        // already failing
      }
    }
    return null;
  }
}
