package dev.atsdispatch.crypto;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.dispatch.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The seen-nonce record that stops a captured envelope from running twice (defect 5): each
 * accepted (sender, nonce) pair is bound to the task that used it, a key such as {@code ats:123}.
 *
 * <p>It is an index on disk, one small file per pair, so memory and start-up time stay flat however
 * long the history: {@code <dir>/seen/ab/<h>}, where {@code h} is the SHA-256 hex of the
 * length-prefixed sender and nonce (so no two pairs share a name) and {@code ab} its first byte.
 * One level of 256 shards keeps directories small (4,000 entries each at a million pairs) while
 * every shard soon exists, so an accept costs two fsyncs (the file, its shard), not the three or
 * four of a deeper tree whose leaves are mostly new. The file holds the task key and a newline. It
 * is created with CREATE_NEW (an atomic existence check) and fsync'd with its directory (and the
 * parent of a new shard) before {@link #accept} returns; a lookup is one file read, behind a small
 * LRU cache. A file without its newline was torn by a crash before its accept returned, so no task
 * used it: it counts as unseen and is rewritten. Files are 0600, directories 0700. Entries are
 * never dropped: nonces are random, so a pair seen once is never legitimately seen on another task.
 *
 * <p>The release before this one kept {@code <dir>/seen.jsonl}, one {@code {"sender","nonce","task"}}
 * line per pair with a numeric ATS task id. At construction such a file is imported, streaming (its
 * torn last line cut off, the first record of a pair winning, each entry fsync'd: a one-time cost
 * of about one fsync per line), then renamed to {@code seen.jsonl.migrated}; an import cut short
 * is simply redone.
 *
 * <p>One instance per directory (the service's state lock sees to that); thread-safe, accept is
 * serialised on the instance.
 */
public final class ReplayGuard implements AutoCloseable {
  static final String LEGACY = "seen.jsonl";
  static final String INDEX = "seen";
  static final int CACHE = 4096;
  private static final Logger log = LoggerFactory.getLogger(ReplayGuard.class);
  private static final ObjectMapper M = new ObjectMapper();
  private static final FileAttribute<Set<PosixFilePermission>> FILE =
      PosixFilePermissions.asFileAttribute(AtomicFiles.OWNER_ONLY);

  private final Path dir;
  private final Path index;
  private final Map<String, String> cache;
  private boolean closed;

  public ReplayGuard(Path dir) {
    this(dir, CACHE);
  }

  ReplayGuard(Path dir, int cacheSize) {
    this.dir = dir;
    this.index = dir.resolve(INDEX);
    this.cache = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
        return size() > cacheSize;
      }
    };
    try {
      Set<Path> toSync = new LinkedHashSet<>();
      createDirectories(index, toSync);
      for (Path d : toSync) AtomicFiles.syncDirectory(d);
      migrate();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the replay record " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * True when the pair is new (it is then recorded durably for {@code taskKey}) or was recorded for
   * this same task (a task opened again, after a restart or a deferral, still opens); false when
   * it was already used by another task.
   */
  public synchronized boolean accept(String sender, String nonceB64, String taskKey) {
    Objects.requireNonNull(sender);
    Objects.requireNonNull(nonceB64);
    if (taskKey == null || taskKey.isEmpty() || taskKey.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("bad task key: " + taskKey);
    }
    if (closed) throw new IllegalStateException("the replay record " + dir + " is closed");
    String h = hash(sender, nonceB64);
    try {
      String prior = lookup(h);
      if (prior == null) {
        Set<Path> toSync = new LinkedHashSet<>();
        prior = record(h, taskKey, toSync);
        for (Path d : toSync) AtomicFiles.syncDirectory(d);
      }
      return prior.equals(taskKey);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot record a nonce in " + index + ": " + e.getMessage(), e);
    }
  }

  /** The number of pairs recorded. Reads the whole index: for tests and diagnostics. */
  public synchronized int size() {
    try (Stream<Path> s = Files.walk(index)) {
      int n = 0;
      for (Path f : (Iterable<Path>) s::iterator) {
        if (Files.isRegularFile(f) && read(f) != null) n++;
      }
      return n;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + index, e);
    }
  }

  /** Pairs held in memory. */
  synchronized int cached() {
    return cache.size();
  }

  private String lookup(String h) throws IOException {
    String k = cache.get(h);
    if (k == null) {
      k = read(entry(h));
      if (k != null) cache.put(h, k);
    }
    return k;
  }

  /**
   * Binds the pair to {@code key} unless an entry is there already, and returns the key the pair
   * is bound to; the directories to sync before relying on it are added to {@code toSync}.
   */
  private String record(String h, String key, Set<Path> toSync) throws IOException {
    Path f = entry(h);
    createDirectories(f.getParent(), toSync);
    byte[] bytes = (key + "\n").getBytes(StandardCharsets.UTF_8);
    while (true) {
      try (FileChannel ch = FileChannel.open(f, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), FILE)) {
        try {
          ByteBuffer b = ByteBuffer.wrap(bytes);
          while (b.hasRemaining()) ch.write(b);
          ch.force(true);
        } catch (IOException e) {
          Files.deleteIfExists(f);
          throw e;
        }
        break;
      } catch (FileAlreadyExistsException e) {
        String prior = read(f);
        if (prior != null) {
          cache.put(h, prior);
          return prior;
        }
        Files.deleteIfExists(f); // torn by a crash: never accepted
      }
    }
    toSync.add(f.getParent());
    cache.put(h, key);
    return key;
  }

  /** The task key in an entry file; null when there is none or it was torn. */
  private static String read(Path f) throws IOException {
    byte[] b;
    try {
      b = Files.readAllBytes(f);
    } catch (NoSuchFileException e) {
      return null;
    }
    if (b.length < 2 || b[b.length - 1] != '\n') return null;
    return new String(b, 0, b.length - 1, StandardCharsets.UTF_8);
  }

  private static void createDirectories(Path d, Set<Path> toSync) throws IOException {
    List<Path> created = AtomicFiles.createDirectories(d);
    for (Path c : created) toSync.add(c.getParent());
  }

  private Path entry(String h) {
    return index.resolve(h.substring(0, 2)).resolve(h);
  }

  private static String hash(String sender, String nonce) {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    String s = sender.length() + ":" + sender + nonce; // every char, none lost to an encoding
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      md.update((byte) (c >> 8));
      md.update((byte) c);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** Imports {@code seen.jsonl} of the previous release, if there is one. */
  private void migrate() throws IOException {
    Path legacy = dir.resolve(LEGACY);
    if (!Files.exists(legacy)) return;
    try (FileChannel ch = FileChannel.open(legacy, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      AtomicFiles.cutTornLine(ch);
    }
    log.info("importing the seen nonces of {} into {} (once)", legacy, index);
    Set<Path> toSync = new LinkedHashSet<>();
    int n = 0;
    try (InputStream in = Files.newInputStream(legacy); JsonParser p = M.getFactory().createParser(in)) {
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        if (t != JsonToken.START_OBJECT) throw corrupt(legacy, "a line is not an object", null);
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
        if (sender == null || nonce == null) throw corrupt(legacy, "an entry lacks sender or nonce", null);
        record(hash(sender, nonce), "ats:" + task, toSync); // keeps what an earlier line or try recorded
        n++;
      }
    } catch (JsonProcessingException e) {
      throw corrupt(legacy, e.getOriginalMessage(), e);
    }
    for (Path d : toSync) AtomicFiles.syncDirectory(d);
    Path done = dir.resolve(LEGACY + ".migrated");
    try {
      Files.move(legacy, done, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(legacy, done, StandardCopyOption.REPLACE_EXISTING);
    }
    AtomicFiles.syncDirectory(dir);
    log.info("imported {} seen nonces from {} into {}; the old file is now {}", n, legacy, index, done);
  }

  private static IOException corrupt(Path f, String why, Exception cause) {
    return new IOException(f + " is corrupt (" + why.lines().findFirst().orElse("")
        + "); fix or remove the bad line", cause);
  }

  @Override
  public synchronized void close() {
    closed = true;
    cache.clear();
  }
}
