package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One task's append-only history in {@code state/tasks/<id>/events.jsonl}: attempts started and
 * finished, reports, resets. Every {@link #append} is fsync'd before it returns; the first durable
 * append of an instance also syncs the file's directory, and the parents of any directories it
 * created, so a new ledger survives a power loss too. The one exception is an attempt's start:
 * written with {@link #appendUnforced} and made durable first in the {@link StartJournal} (one
 * fdatasync of a file that exists, where a new ledger needs three before its line is safe), then
 * here with the attempt's next record, so it is still counted after any crash. Strikes are the attempts started, minus those
 * that finished without counting (graceful shutdown, lease lost, cancelled), since the last reset.
 *
 * <p>A crash mid-append can only tear the last line (it then lacks its newline): that line is
 * ignored, and cut off by the next append. Any other unparsable line is corruption and a
 * {@link LedgerCorruptException}: an attempt record is never silently lost.
 *
 * <p>{@link #summary()} reads the file once, then keeps the summary current in memory on each
 * append. That assumes this instance is the file's only writer, which holds in the service:
 * {@link StateDir} keeps one ledger per task and {@code service.lock} one service per state
 * directory. Thread-safe (all methods synchronize on the instance).
 */
public final class TaskLedger {
  private static final ObjectMapper M = new ObjectMapper();

  /**
   * What the ledger says about the task now. {@code spent}: the cost and turns its finished
   * attempts reported since the last reset (what its budget counts).
   */
  public record Summary(int attempts, int strikes, boolean reported, boolean resultPending,
      String lastOutcome, List<long[]> agentGroups, Instant resetAt, Budget.Spent spent) {}

  private final Path file;
  private final Consumer<Path> syncDirectory;
  private boolean directorySynced;
  private boolean prepared;
  /** Lines written by {@link #appendUnforced} and not yet forced to the disk. */
  private boolean unforced;
  /** Why a sync failed; from then on {@link #sync} fails too. */
  private IOException syncFailed;
  /** Directories this instance made whose entries in their parents are not synced yet. */
  private final List<Path> unsyncedDirs = new ArrayList<>();
  /** The summary so far, once the file has been read; null before that or after a failed append. */
  private Tally tally;

  TaskLedger(Path dir) {
    this(dir, AtomicFiles::syncDirectory);
  }

  TaskLedger(Path dir, Consumer<Path> syncDirectory) {
    this.file = dir.resolve("events.jsonl");
    this.syncDirectory = syncDirectory;
  }

  public Path file() {
    return file;
  }

  public synchronized void append(String event, ObjectNode fields, Instant at) {
    write(event, fields, at, true);
  }

  /**
   * Writes the event without waiting for the disk: every reader sees it at once, and it survives
   * a kill -9 of the service, but only the next {@link #append} or {@link #sync} makes it survive
   * a power loss. For a record whose durability something else gives before anything depends on
   * it ({@link StartJournal}: an attempt's start).
   */
  public synchronized void appendUnforced(String event, ObjectNode fields, Instant at) {
    write(event, fields, at, false);
  }

  /**
   * Makes every line written so far, and the file's directory entries, durable; a no-op when they
   * are. Once a sync of this instance failed it fails for good: the kernel reports a lost write
   * once, so a later sync that succeeds proves nothing about the lines before it.
   */
  public synchronized void sync() {
    if (syncFailed != null) throw new UncheckedIOException("cannot sync " + file + " (it failed before)", syncFailed);
    if (!unforced && directorySynced) return;
    try {
      if (Files.exists(file)) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
          ch.force(false);
        }
      }
      unforced = false;
      if (!directorySynced) syncDirectories();
    } catch (IOException e) {
      syncFailed = e;
      throw new UncheckedIOException("cannot sync " + file, e);
    } catch (UncheckedIOException e) {
      syncFailed = e.getCause();
      throw e;
    }
  }

  private void write(String event, ObjectNode fields, Instant at, boolean force) {
    ObjectNode n = M.createObjectNode();
    n.put("ts", WireTime.format(at));
    n.put("event", event);
    if (fields != null) n.setAll(fields);
    byte[] line = (n.toString() + "\n").getBytes(StandardCharsets.UTF_8);
    long before = -1;
    try {
      unsyncedDirs.addAll(AtomicFiles.createDirectories(file.getParent()));
      try (FileChannel ch = dev.atsdispatch.files.OwnerOnly.open(file, StandardOpenOption.READ,
          StandardOpenOption.WRITE)) {
        try {
          before = AtomicFiles.cutTornLine(ch);
          ByteBuffer b = ByteBuffer.wrap(line);
          long pos = before;
          while (b.hasRemaining()) pos += ch.write(b, pos);
          if (force) ch.force(false);
        } catch (IOException e) {
          if (force) syncFailed = e;
          tally = null; // read the file again rather than guess what it holds
          try {
            if (before >= 0) ch.truncate(before); // no half line for the next one to join
          } catch (IOException ignored) {
            // the next append cuts the torn line off
          }
          throw e;
        }
      }
      if (force) {
        unforced = false;
        if (!directorySynced) {
          try {
            syncDirectories();
          } catch (UncheckedIOException x) {
            syncFailed = x.getCause();
            throw x;
          }
        }
      } else {
        unforced = true;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot record " + event + " in " + file, e);
    }
    if (tally != null) tally.add(n);
  }

  /**
   * The file's directory and the two above it ({@code tasks/<source>/<id>}, {@code tasks/<source>},
   * {@code tasks}: whoever made them, perhaps an instance that was collected before it synced
   * anything), and the parents of any other directories this instance made, synced once.
   */
  private void syncDirectories() {
    java.util.Set<Path> dirs = new java.util.LinkedHashSet<>();
    for (Path d = file.getParent(); d != null && dirs.size() < 3; d = d.getParent()) dirs.add(d);
    for (Path d : unsyncedDirs) if (d.getParent() != null) dirs.add(d.getParent());
    for (Path d : dirs) syncDirectory.accept(d);
    unsyncedDirs.clear();
    directorySynced = true;
  }

  /**
   * Makes the ledger's file (empty if new) and its directories exist, so that the first append
   * only writes. Never changes what the ledger holds; they become durable with the first durable
   * append (whose syncs of the new directories are then off the agent's start: see
   * {@link StartJournal}). The engine calls it while the claim is on its way.
   */
  public synchronized void prepare() {
    if (directorySynced || prepared) return;
    try {
      unsyncedDirs.addAll(AtomicFiles.createDirectories(file.getParent()));
      try (FileChannel ch = dev.atsdispatch.files.OwnerOnly.open(file, StandardOpenOption.WRITE)) {
        // created (0600) or already there
      }
      prepared = true;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + file, e);
    }
  }

  /** Every recorded event, in order; a torn last line is left out. */
  public synchronized List<JsonNode> events() {
    return jsonLines(file);
  }

  /**
   * The JSON objects of a file of JSON lines, in order; none if there is no file. What follows
   * the last newline is a line torn by a crash mid-append and is left out; any other line that is
   * not a JSON object (blank lines aside) is a {@link LedgerCorruptException}.
   */
  static List<JsonNode> jsonLines(Path file) {
    List<JsonNode> out = new ArrayList<>();
    if (!Files.exists(file)) return out;
    byte[] all;
    try {
      all = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    int lineNo = 0;
    for (int start = 0, nl; (nl = indexOf(all, (byte) '\n', start)) >= 0; start = nl + 1) {
      lineNo++;
      if (new String(all, start, nl - start, StandardCharsets.UTF_8).isBlank()) continue;
      JsonNode e;
      try {
        e = M.readTree(all, start, nl - start);
      } catch (IOException x) {
        throw new LedgerCorruptException(file, lineNo, x);
      }
      if (e == null || !e.isObject()) throw new LedgerCorruptException(file, lineNo, null);
      out.add(e);
    }
    return out;
  }

  private static int indexOf(byte[] a, byte b, int from) {
    for (int i = from; i < a.length; i++) if (a[i] == b) return i;
    return -1;
  }

  public synchronized Summary summary() {
    if (tally == null) {
      Tally t = new Tally();
      for (JsonNode e : events()) t.add(e);
      tally = t;
    }
    return tally.snapshot();
  }

  /** The summary being built, one event at a time. */
  private static final class Tally {
    int attempts;
    int strikes;
    boolean reported;
    boolean queued;
    String last;
    Instant resetAt;
    Budget.Spent spent = Budget.Spent.NOTHING;
    final List<long[]> groups = new ArrayList<>();

    void add(JsonNode e) {
      switch (e.path("event").asText()) {
        case "attempt_started" -> {
          attempts = Math.max(attempts, e.path("attempt").asInt());
          strikes++;
          reported = false;
          queued = false;
        }
        case "agent_started" -> groups.add(new long[] {e.path("pgid").asLong(), e.path("start_ms").asLong(-1)});
        case "attempt_finished" -> {
          if (!e.path("strike").asBoolean(true)) strikes = Math.max(0, strikes - 1);
          last = e.path("outcome").asText(null);
          spent = spent.plus(e.path("cost_usd").isNumber() ? e.get("cost_usd").asDouble() : null,
              e.path("num_turns").isNumber() ? e.get("num_turns").asInt() : null);
          long pgid = e.path("pgid").asLong();
          groups.removeIf(g -> g[0] == pgid);
        }
        case "result_queued" -> queued = true;
        case "reported", "report_refused", "terminal_seen" -> {
          reported = true;
          queued = false;
        }
        case "reset" -> {
          strikes = 0;
          spent = Budget.Spent.NOTHING;
          try {
            resetAt = WireTime.parse(e.path("ts").asText());
          } catch (RuntimeException x) {
            resetAt = null;
          }
          reported = false;
          queued = false;
        }
        default -> {
          // other events are informational
        }
      }
    }

    /** A copy the caller may keep and change (and walk while appending). */
    Summary snapshot() {
      List<long[]> g = new ArrayList<>(groups.size());
      for (long[] a : groups) g.add(a.clone());
      return new Summary(attempts, strikes, reported, queued, last, g, resetAt, spent);
    }
  }
}
