package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Durable queue of things not yet acknowledged by their receiver, one JSON file each under
 * {@code state/outbox/<kind>/}, written atomically. An entry is deleted only after delivery
 * succeeded (or was refused for good), so a crash or an ATS outage never loses a result.
 */
public final class Outbox {
  private static final ObjectMapper M = new ObjectMapper();

  /** One pending delivery. */
  public record Entry(Path file, String key, ObjectNode body) {}

  private final Path dir;

  public Outbox(Path dir) {
    this.dir = dir;
  }

  /** Adds (or replaces) the entry with this key. */
  public synchronized Entry put(String key, ObjectNode body) {
    Path f = dir.resolve(safe(key) + ".json");
    try {
      AtomicFiles.write(f, M.writeValueAsBytes(body), AtomicFiles.OWNER_ONLY);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write outbox entry " + f, e);
    }
    return new Entry(f, key, body);
  }

  public synchronized void remove(Entry e) {
    try {
      Files.deleteIfExists(e.file());
      AtomicFiles.syncDirectory(dir);
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot remove outbox entry " + e.file(), ex);
    }
  }

  /** Every pending entry, oldest file name first; unreadable files are reported, not dropped. */
  public synchronized List<Entry> pending() {
    List<Entry> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
      List<Path> files = new ArrayList<>();
      ds.forEach(files::add);
      files.sort(null);
      for (Path f : files) {
        JsonNode n = M.readTree(Files.readAllBytes(f));
        if (n instanceof ObjectNode o) {
          String name = f.getFileName().toString();
          out.add(new Entry(f, name.substring(0, name.length() - 5), o));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read outbox " + dir, e);
    }
    return out;
  }

  public synchronized int size() {
    return pending().size();
  }

  private static String safe(String key) {
    if (!key.matches("[A-Za-z0-9._-]{1,200}")) throw new IllegalArgumentException("bad outbox key: " + key);
    return key;
  }
}
