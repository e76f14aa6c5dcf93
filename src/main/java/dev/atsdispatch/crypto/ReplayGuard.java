package dev.atsdispatch.crypto;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;

/**
 * The seen-nonce record that stops a captured envelope from running twice (defect 5). Each
 * accepted (sender, nonce) pair is appended to {@code <dir>/seen.jsonl} with its task id and
 * fsync'd before {@link #accept} returns, so the record survives crashes and restarts; the whole
 * file is loaded into memory when the guard is constructed (tens of thousands of entries take
 * milliseconds). A torn last line left by a crash is cut off on load. Entries are never dropped:
 * nonces are random, so a pair seen once is never legitimately seen on another task. One instance
 * per directory; thread-safe.
 */
public final class ReplayGuard implements AutoCloseable {
  static final String FILE = "seen.jsonl";
  private static final ObjectMapper M = new ObjectMapper();

  private final Path file;
  private final Map<String, Long> seen = new HashMap<>();
  private final FileChannel out;

  public ReplayGuard(Path dir) {
    this.file = dir.resolve(FILE);
    try {
      Files.createDirectories(dir);
      if (!Files.exists(file)) {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      }
      load();
      out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the replay record " + file + ": " + e.getMessage(), e);
    }
  }

  private void load() throws IOException {
    byte[] all = Files.readAllBytes(file);
    int end = all.length;
    while (end > 0 && all[end - 1] != '\n') end--;
    if (end < all.length) {
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        ch.truncate(end);
        ch.force(true);
      }
    }
    try (JsonParser p = M.getFactory().createParser(all, 0, end)) {
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        if (t != JsonToken.START_OBJECT) throw new IOException("not an object");
        String sender = null;
        String nonce = null;
        long task = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String f = p.currentName();
          p.nextToken();
          switch (f) {
            case "sender" -> sender = p.getValueAsString();
            case "nonce" -> nonce = p.getValueAsString();
            case "task" -> task = p.getValueAsLong();
            default -> p.skipChildren();
          }
        }
        if (sender == null || nonce == null) throw new IOException("an entry lacks sender or nonce");
        seen.putIfAbsent(key(sender, nonce), task);
      }
    } catch (IOException e) {
      throw new IOException(file + " is corrupt (" + e.getMessage().lines().findFirst().orElse("")
          + "); fix or remove the bad line", e);
    }
  }

  private static String key(String sender, String nonce) {
    return sender.length() + ":" + sender + nonce;
  }

  /**
   * True when the pair is new (it is then recorded durably for {@code taskId}) or was recorded for
   * this same task (a task opened again, after a restart or a deferral, still opens); false when
   * it was already used by another task.
   */
  public synchronized boolean accept(String sender, String nonceB64, long taskId) {
    String k = key(sender, nonceB64);
    Long prior = seen.get(k);
    if (prior != null) return prior == taskId;
    ObjectNode n = M.createObjectNode();
    n.put("sender", sender);
    n.put("nonce", nonceB64);
    n.put("task", taskId);
    byte[] line = (n.toString() + "\n").getBytes(StandardCharsets.UTF_8);
    long before = -1;
    try {
      before = out.size();
      ByteBuffer buf = ByteBuffer.wrap(line);
      while (buf.hasRemaining()) out.write(buf);
      out.force(false);
    } catch (IOException e) {
      try {
        if (before >= 0) out.truncate(before); // no half line for the next entry to join
      } catch (IOException ignored) {
        // the torn line is cut off at the next load
      }
      throw new UncheckedIOException("cannot record a nonce in " + file + ": " + e.getMessage(), e);
    }
    seen.put(k, taskId);
    return true;
  }

  /** The number of pairs recorded. */
  public synchronized int size() {
    return seen.size();
  }

  @Override
  public synchronized void close() {
    try {
      out.close();
    } catch (IOException e) {
      // nothing was buffered: every accepted entry was already forced to disk
    }
  }
}
