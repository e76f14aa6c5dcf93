package dev.atsdispatch.source.board;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;

/**
 * One board file in artificer-dispatcher's JSON format ({@code {"queues": {"Todo": [card, ...],
 * ...}}}) read and changed safely by several services: every change happens under an exclusive
 * lock on a sidecar file ({@code <file>.lock}; the board itself is replaced on each write, so its
 * own inode cannot carry the lock), is made on a fresh read, and is written atomically (a
 * temporary file in the same directory, synced, renamed over the board, the directory synced). A
 * file that is not such a board is never written: the change fails with {@link Malformed}, naming
 * the problem. Thread-safe: a JVM-wide monitor per file orders this process's own writers (a
 * {@link FileLock} is held per process).
 */
final class BoardFile {
  private static final ObjectMapper M = new ObjectMapper();
  private static final Map<Path, Object> MONITORS = new java.util.concurrent.ConcurrentHashMap<>();

  /** The board file is not a board: what is wrong with it. */
  static final class Malformed extends IOException {
    Malformed(String message) {
      super(message);
    }
  }

  /** A change: gets the board (a fresh read), changes it in place, returns a value; {@code write} false leaves the file alone. */
  interface Change<T> {
    T apply(ObjectNode board) throws IOException;
  }

  private final Path file;
  private final Path lockFile;
  private final Duration lockWait;

  BoardFile(Path file, Duration lockWait) {
    this.file = file.toAbsolutePath().normalize();
    this.lockFile = this.file.resolveSibling(this.file.getFileName() + ".lock");
    this.lockWait = lockWait;
  }

  Path path() {
    return file;
  }

  /** The board as it is now (no lock: a write replaces the file whole, so a read sees one version). */
  ObjectNode read() throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new Malformed("the board file " + file + " does not exist");
    }
    JsonNode n;
    try {
      n = M.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new Malformed("the board file " + file + " is not JSON (" + e.getOriginalMessage() + ")");
    }
    if (n == null || !n.isObject() || !n.path("queues").isObject()) {
      throw new Malformed("the board file " + file + " has no \"queues\" object");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = n.get("queues").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> q = it.next();
      if (!q.getValue().isArray()) throw new Malformed("queue \"" + q.getKey() + "\" of " + file + " is not a list");
      for (JsonNode card : q.getValue()) {
        if (!card.isObject() || !card.hasNonNull("id")) {
          throw new Malformed("queue \"" + q.getKey() + "\" of " + file + " holds a card without an id");
        }
      }
    }
    return (ObjectNode) n;
  }

  /** Runs {@code change} on a fresh read under the lock and writes the board back atomically. */
  <T> T update(Change<T> change) throws IOException {
    Object monitor = MONITORS.computeIfAbsent(file, k -> new Object());
    synchronized (monitor) {
      try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock lock = acquire(ch)) {
        ObjectNode board = read();
        T result = change.apply(board);
        write(board);
        return result;
      }
    }
  }

  private FileLock acquire(FileChannel ch) throws IOException {
    long end = System.nanoTime() + lockWait.toNanos();
    while (true) {
      try {
        FileLock l = ch.tryLock();
        if (l != null) return l;
      } catch (OverlappingFileLockException e) {
        // another channel of this JVM holds it (the monitor makes that rare): wait as for another process
      }
      if (System.nanoTime() - end > 0) throw new IOException("the board's lock " + lockFile + " is held by another process");
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted waiting for the board's lock");
      }
    }
  }

  private void write(ObjectNode board) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    byte[] bytes = M.writerWithDefaultPrettyPrinter().writeValueAsBytes(board);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(bytes));
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.deleteIfExists(tmp);
      throw new IOException("the board's directory cannot take an atomic rename: " + e.getMessage());
    }
    try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // some file systems cannot sync a directory; the rename is done
    }
  }

  // ---- cards ---------------------------------------------------------------------------------

  /** Where a card is: its queue's name and its index there; null if on no queue. */
  record Place(String queue, int index, ObjectNode card) {}

  static Place find(ObjectNode board, String id) {
    for (Iterator<Map.Entry<String, JsonNode>> it = board.get("queues").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> q = it.next();
      ArrayNode cards = (ArrayNode) q.getValue();
      for (int i = 0; i < cards.size(); i++) {
        if (cards.get(i).path("id").asText().equals(id)) return new Place(q.getKey(), i, (ObjectNode) cards.get(i));
      }
    }
    return null;
  }

  /** Moves the card to the end of {@code target} (made if missing). */
  static void move(ObjectNode board, Place p, String target) {
    ObjectNode queues = (ObjectNode) board.get("queues");
    ((ArrayNode) queues.get(p.queue())).remove(p.index());
    JsonNode t = queues.get(target);
    ArrayNode to = t != null && t.isArray() ? (ArrayNode) t : queues.putArray(target);
    to.add(p.card());
  }

  static ArrayNode queue(ObjectNode board, String name) {
    JsonNode q = board.get("queues").get(name);
    return q != null && q.isArray() ? (ArrayNode) q : M.createArrayNode();
  }
}
