package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.files.OwnerOnly;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.WireTime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable record of attempts that are starting, {@code state/starting.jsonl}: one line and
 * one fdatasync of a file that already exists before each agent starts. A task's own ledger is
 * often new at that moment, and a new file is durable only after its directory and that
 * directory's parent are synced too: three flushes on the pickup's path where this needs one.
 * The ledger gets the same record at once, unforced, and makes it durable with the attempt's
 * next record, just after the spawn; the journal's line is then {@link #settle settled}.
 *
 * <p>{@link #recover} runs at start-up, under the state directory's lock: a line whose attempt
 * is missing from its ledger (power lost between the two) is written there, durably, so the
 * attempt still counts as a strike. The file is cut to nothing whenever no line is unsettled,
 * so it holds only the attempts of the last few milliseconds; a line torn by a crash (no
 * newline) never had its agent started and is ignored. Thread-safe: records are appended under
 * the instance's lock, by whichever runner thread starts an attempt.
 */
public final class StartJournal implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StartJournal.class);
  private static final ObjectMapper M = new ObjectMapper();
  static final String FILE = "starting.jsonl";

  /** One recorded start, until it is settled. */
  public record Entry(long seq) {}

  /** Settled lines the file may hold beside unsettled ones before it is rewritten with the unsettled only. */
  static final int COMPACT_AFTER = 64;

  private final Path file;
  private FileChannel ch;
  private long size;
  private long seq;
  /** The unsettled lines, oldest first, kept to rewrite the file without the settled ones. */
  private final Map<Long, byte[]> unsettled = new LinkedHashMap<>();
  private int settledInFile;

  StartJournal(Path stateRoot) {
    this.file = stateRoot.resolve(FILE);
  }

  /** Records that attempt {@code attempt} of {@code key} starts; durable when it returns. */
  public synchronized Entry record(TaskKey key, int attempt, String instance, Instant at) {
    ObjectNode n = M.createObjectNode();
    n.put("ts", WireTime.format(at));
    n.put("source", key.source()).put("id", key.id()).put("attempt", attempt).put("instance", instance);
    byte[] line = (n.toString() + "\n").getBytes(StandardCharsets.UTF_8);
    try {
      if (ch == null) open();
      ByteBuffer b = ByteBuffer.wrap(line);
      long pos = size;
      while (b.hasRemaining()) pos += ch.write(b, pos);
      ch.force(false);
      size = pos;
    } catch (IOException e) {
      closeQuietly(); // reopened, and the torn line cut, by the next record
      throw new UncheckedIOException("cannot record the start of " + key + " in " + file, e);
    }
    Entry e = new Entry(++seq);
    unsettled.put(e.seq(), line);
    return e;
  }

  /**
   * The attempt's own ledger now holds its start durably: the line is no longer needed (a second
   * settle of one entry is a no-op). The file
   * is emptied when no line is unsettled, and rewritten with the unsettled ones only after
   * {@value #COMPACT_AFTER} settled lines (a start whose ledger cannot be synced stays, and the
   * file stays small), so it never holds an old start whose task retention may have removed.
   */
  public synchronized void settle(Entry e) {
    if (unsettled.remove(e.seq()) == null || ch == null) return;
    try {
      if (unsettled.isEmpty()) {
        if (size > 0) ch.truncate(0); // need not be durable: a settled line found at start-up is already in its ledger
        size = 0;
        settledInFile = 0;
      } else if (++settledInFile >= COMPACT_AFTER) {
        compact();
      }
    } catch (IOException x) {
      log.error("cannot cut or rewrite {}: {}", file, x.getMessage());
      closeQuietly(); // reopened (its size read again) by the next record
    }
  }

  /** The file again, with the unsettled lines only: written aside, synced, renamed over it. */
  private void compact() throws IOException {
    Path tmp = file.resolveSibling(FILE + ".tmp");
    long n = 0;
    try (FileChannel out = OwnerOnly.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      for (byte[] line : unsettled.values()) {
        ByteBuffer b = ByteBuffer.wrap(line);
        while (b.hasRemaining()) n += out.write(b, n);
      }
      out.force(true);
    }
    closeQuietly();
    settledInFile = 0; // after a failure too: the next try comes after as many settled lines again
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      d.force(true); // strict: later records go to the new file, which must be the one its name finds
    }
    open();
  }

  /** Whether the entry is still waiting for its ledger. */
  public synchronized boolean unsettled(Entry e) {
    return unsettled.containsKey(e.seq());
  }

  /** Lines recorded and not settled. */
  synchronized int unsettled() {
    return unsettled.size();
  }

  private void open() throws IOException {
    boolean created = !Files.exists(file);
    ch = OwnerOnly.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    size = AtomicFiles.cutTornLine(ch);
    if (created) {
      ch.force(true);
      AtomicFiles.syncDirectory(file.getParent()); // the file's own entry, once: later records need only its data
    }
  }

  /**
   * Puts every start the journal holds and its ledger lacks into that ledger, durably, then
   * empties the journal. Returns how many were missing. Call before anything reads a ledger.
   */
  static int recover(StateDir state) {
    Path file = state.root().resolve(FILE);
    if (!Files.exists(file)) return 0;
    List<JsonNode> lines;
    try {
      lines = TaskLedger.jsonLines(file); // a torn last line never had its agent started
    } catch (LedgerCorruptException x) {
      throw LedgerCorruptException.startJournal(file, x.line(), x.getCause());
    }
    int missing = 0;
    int lineNo = 0;
    List<JsonNode> kept = new java.util.ArrayList<>();
    for (JsonNode e : lines) {
      lineNo++;
      Instant ts = null;
      try {
        ts = e.path("ts").isTextual() ? WireTime.parse(e.get("ts").asText()) : null;
      } catch (RuntimeException bad) {
        // named below
      }
      if (ts == null || !e.path("source").isTextual() || !e.path("id").isTextual()
          || !e.path("attempt").canConvertToInt() || !e.path("instance").isTextual()) {
        throw LedgerCorruptException.startJournal(file, lineNo, null);
      }
      TaskKey key = new TaskKey(e.get("source").asText(), e.get("id").asText());
      int attempt = e.get("attempt").asInt();
      String instance = e.get("instance").asText();
      TaskLedger ledger = state.ledger(key);
      List<JsonNode> events;
      try {
        events = ledger.events();
      } catch (LedgerCorruptException x) {
        log.error("task {}: attempt {} had started and its ledger is corrupt ({}); the start stays in {} until "
            + "the ledger is fixed", key, attempt, x.getMessage(), FILE);
        kept.add(e);
        continue;
      }
      boolean there = false;
      for (JsonNode ev : events) {
        if (ev.path("event").asText().equals("attempt_started") && ev.path("attempt").asInt() == attempt
            && ev.path("instance").asText().equals(instance)) {
          there = true;
          break;
        }
      }
      if (!there) {
        ledger.append("attempt_started", M.createObjectNode().put("attempt", attempt).put("instance", instance)
            .put("recovered", true), ts);
        log.warn("task {}: attempt {} had started but its ledger lost the record (a crash or power loss); "
            + "restored from {}", key, attempt, FILE);
        missing++;
      } else {
        ledger.sync(); // present but perhaps never forced (a kill -9 between the two)
      }
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(0);
      long pos = 0;
      for (JsonNode e : kept) {
        ByteBuffer b = ByteBuffer.wrap((e.toString() + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) pos += ch.write(b, pos);
      }
      ch.force(true);
    } catch (IOException x) {
      throw new UncheckedIOException("cannot empty " + file, x);
    }
    return missing;
  }

  private void closeQuietly() {
    try {
      if (ch != null) ch.close();
    } catch (IOException ignored) {
      // reopened by the next record
    }
    ch = null;
  }

  @Override
  public synchronized void close() {
    closeQuietly();
  }
}
