package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable queue of things not yet acknowledged by their receiver, one JSON file each under
 * {@code state/outbox/<kind>/}, written atomically. An entry is deleted only after delivery
 * succeeded (or was refused for good), so a crash or an ATS outage never loses a result. A file
 * that is not a JSON object is moved aside into {@code bad/} (kept for a human, with a warning)
 * rather than blocking the others. The {@code .*.tmp} files of an {@link AtomicFiles} write cut
 * short by a crash are never read; {@link #pending()} deletes those older than an hour, which no
 * write in progress can be. Thread-safe.
 */
public final class Outbox {
  private static final ObjectMapper M = new ObjectMapper();
  private static final Logger log = LoggerFactory.getLogger(Outbox.class);
  static final String BAD = "bad";
  static final Duration STALE_TEMP = Duration.ofHours(1);

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

  /** Every pending entry, oldest file name first; an unparsable file is moved into {@code bad/}. */
  public synchronized List<Entry> pending() {
    List<Entry> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) return out;
    try {
      removeStaleTempFiles();
      for (Path f : entryFiles()) {
        byte[] bytes;
        try {
          bytes = Files.readAllBytes(f);
        } catch (NoSuchFileException gone) {
          continue; // removed since the listing
        }
        JsonNode n;
        try {
          n = M.readTree(bytes);
        } catch (JsonProcessingException e) {
          n = null;
        }
        if (n instanceof ObjectNode o) {
          String name = f.getFileName().toString();
          out.add(new Entry(f, name.substring(0, name.length() - 5), o));
        } else {
          moveAside(f);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read outbox " + dir, e);
    }
    return out;
  }

  /** The number of entries, counted by name: no file is read. */
  public synchronized int size() {
    if (!Files.isDirectory(dir)) return 0;
    try {
      return entryFiles().size();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list outbox " + dir, e);
    }
  }

  private List<Path> entryFiles() throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
      ds.forEach(files::add);
    }
    files.sort(null);
    return files;
  }

  private void moveAside(Path f) throws IOException {
    Path bad = dir.resolve(BAD);
    dev.atsdispatch.files.OwnerOnly.createDirectories(bad);
    Path to = bad.resolve(f.getFileName());
    for (int i = 1; Files.exists(to); i++) to = bad.resolve(f.getFileName() + "." + i);
    try {
      Files.move(f, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(f, to);
    }
    AtomicFiles.syncDirectory(bad);
    AtomicFiles.syncDirectory(dir);
    log.warn("outbox entry {} is not a JSON object; moved it to {}", f, to);
  }

  private void removeStaleTempFiles() throws IOException {
    Instant before = Instant.now().minus(STALE_TEMP);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".*.tmp")) {
      for (Path t : ds) {
        try {
          if (Files.getLastModifiedTime(t).toInstant().isBefore(before) && Files.deleteIfExists(t)) {
            log.info("removed {}, left by a write cut short", t);
          }
        } catch (NoSuchFileException gone) {
          // finished or removed meanwhile
        }
      }
    }
  }

  private static String safe(String key) {
    if (!key.matches("[A-Za-z0-9._-]{1,200}")) throw new IllegalArgumentException("bad outbox key: " + key);
    return key;
  }
}
