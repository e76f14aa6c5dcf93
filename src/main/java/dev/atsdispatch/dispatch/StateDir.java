package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import dev.atsdispatch.files.OwnerOnly;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service's state directory (design.md §3): per-task ledgers, attempt logs and working
 * directories under {@code tasks/<source>/<id>/}, the outboxes, one marker per running agent in
 * {@code running/} (so start-up reads only those, however long the history), the instance id,
 * and {@code service.lock}, held for the life of the service so that only one service uses a
 * state directory at a time. Thread-safe.
 */
public final class StateDir implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StateDir.class);
  private final Path root;
  /**
   * One ledger object per task while anyone holds it, so its cached summary is the only one. An
   * entry whose ledger was collected is removed at the next look-up (through {@link #collected}),
   * so the map holds only ledgers in use and those the collector has not got to yet.
   */
  private final ConcurrentHashMap<TaskKey, LedgerRef> ledgers = new ConcurrentHashMap<>();
  private final ReferenceQueue<TaskLedger> collected = new ReferenceQueue<>();

  private static final class LedgerRef extends WeakReference<TaskLedger> {
    final TaskKey key;

    LedgerRef(TaskKey key, TaskLedger ledger, ReferenceQueue<TaskLedger> q) {
      super(ledger, q);
      this.key = key;
    }
  }

  private FileChannel lockChannel;
  private FileLock lock;

  private final StartJournal journal;

  public StateDir(Path root) {
    this.root = root.toAbsolutePath().normalize();
    this.journal = new StartJournal(this.root);
  }

  /** The durable record of attempts about to start (see {@link StartJournal}). */
  public StartJournal journal() {
    return journal;
  }

  public Path root() {
    return root;
  }

  /**
   * Takes the single-instance lock; throws IllegalStateException naming the holder's file. Agent
   * output and results live here, so a missing directory is made 0700 and an existing one that
   * others can reach is refused (never chmod'ed: it may be shared, like {@code /tmp}).
   */
  public synchronized void lock() {
    String open = OwnerOnly.problem(root);
    if (open != null) throw new IllegalStateException("state directory: " + open);
    try {
      OwnerOnly.createDirectories(root);
      lockChannel = OwnerOnly.open(root.resolve("service.lock"), StandardOpenOption.WRITE);
      try {
        lock = lockChannel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        lockChannel.close();
        throw new IllegalStateException("another ats-dispatch service is using the state directory "
            + root + " (" + root.resolve("service.lock") + " is locked)");
      }
      lockChannel.truncate(0);
      lockChannel.write(java.nio.ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes()));
      lockChannel.force(true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lock state directory " + root, e);
    }
    StartJournal.recover(this); // before anything reads a ledger's strikes
  }

  /**
   * This service's own identity, made once and kept in {@code instance-id}: services that share
   * an actor name still claim as distinct actors.
   */
  public synchronized String instanceId() {
    Path f = root.resolve("instance-id");
    try {
      if (Files.exists(f)) {
        String id = Files.readString(f, StandardCharsets.UTF_8).strip();
        if (id.matches("[a-z0-9]{4,32}")) return id;
      }
      byte[] b = new byte[4];
      new SecureRandom().nextBytes(b);
      String id = HexFormat.of().formatHex(b);
      AtomicFiles.write(f, (id + "\n").getBytes(StandardCharsets.UTF_8), AtomicFiles.OWNER_ONLY);
      return id;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or write " + f, e);
    }
  }

  /**
   * Moves task directories written by the release before task keys ({@code tasks/<number>/})
   * under {@code tasks/<source>/}; before each move, reads its ledger the way that release did
   * (lines it could not parse, such as one torn by a crash and joined by the next append, are
   * skipped: they are dropped from the ledger and kept aside in {@code events.jsonl.unparsable})
   * and writes the running markers for agents it left running. Runs once: a directory already
   * moved is not seen again; one cut short by a crash is simply done again.
   */
  public synchronized int migrateLegacy(String source) {
    Path tasks = root.resolve("tasks");
    if (!Files.isDirectory(tasks)) return 0;
    int moved = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks, p -> p.getFileName().toString().matches("\\d{1,18}"))) {
      for (Path old : ds) {
        TaskKey key = new TaskKey(source, old.getFileName().toString());
        Path target = taskDir(key);
        if (Files.exists(target)) {
          log.warn("state: {} and {} both exist; keeping the new one", old, target);
          continue;
        }
        keepParsableLines(old.resolve("events.jsonl"));
        for (long[] g : new TaskLedger(old).summary().agentGroups()) markRunning(key, g[0], g[1]);
        OwnerOnly.createDirectories(target.getParent());
        Files.move(old, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        moved++;
      }
      if (moved > 0) AtomicFiles.syncDirectory(tasks);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot move the old task directories under " + tasks, e);
    }
    if (moved > 0) log.info("state: moved {} task directories of the previous release under tasks/{}/", moved, source);
    return moved;
  }

  /** Rewrites a ledger of the previous release without the lines its reader skipped (if any). */
  private static void keepParsableLines(Path ledger) throws IOException {
    if (!Files.isRegularFile(ledger)) return;
    StringBuilder kept = new StringBuilder();
    StringBuilder dropped = new StringBuilder();
    int n = 0;
    for (String line : new String(Files.readAllBytes(ledger), StandardCharsets.UTF_8).split("\n", -1)) {
      if (line.isBlank()) continue;
      boolean ok;
      try {
        ok = LEGACY.readTree(line) instanceof com.fasterxml.jackson.databind.node.ObjectNode;
      } catch (IOException e) {
        ok = false;
      }
      if (ok) {
        kept.append(line).append('\n');
      } else {
        dropped.append(line).append('\n');
        n++;
      }
    }
    if (n == 0) return;
    Path aside = ledger.resolveSibling("events.jsonl.unparsable");
    AtomicFiles.write(aside, dropped.toString().getBytes(StandardCharsets.UTF_8), AtomicFiles.OWNER_ONLY);
    AtomicFiles.write(ledger, kept.toString().getBytes(StandardCharsets.UTF_8), AtomicFiles.OWNER_ONLY);
    log.warn("state: {} had {} line(s) the previous release skipped (torn by a crash); moved them to {}", ledger, n, aside);
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper LEGACY = new com.fasterxml.jackson.databind.ObjectMapper();

  public Path taskDir(TaskKey key) {
    return root.resolve("tasks").resolve(key.source()).resolve(key.fileName());
  }

  public TaskLedger ledger(TaskKey key) {
    for (Reference<? extends TaskLedger> r; (r = collected.poll()) != null; ) {
      LedgerRef gone = (LedgerRef) r;
      ledgers.remove(gone.key, gone); // a newer entry for the key stays
    }
    TaskLedger[] found = new TaskLedger[1]; // held strongly until it is returned
    ledgers.compute(key, (k, r) -> {
      TaskLedger l = r == null ? null : r.get();
      if (l == null) {
        l = new TaskLedger(taskDir(k));
        r = new LedgerRef(k, l, collected);
      }
      found[0] = l;
      return r;
    });
    return found[0];
  }

  /**
   * Creates what an attempt of {@code key} writes to (its ledger, durably, and its working
   * directory) ahead of the attempt, and returns the ledger; callers keep it so the work is not
   * lost to the collector.
   */
  public TaskLedger prepare(TaskKey key) {
    TaskLedger l = ledger(key);
    l.prepare();
    try {
      OwnerOnly.createDirectories(workDir(key));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + workDir(key), e);
    }
    return l;
  }

  public Path workDir(TaskKey key) {
    return taskDir(key).resolve("work");
  }

  public Path stdoutLog(TaskKey key, int attempt) {
    return stdoutLog(key, attempt, false);
  }

  public Path stderrLog(TaskKey key, int attempt) {
    return stderrLog(key, attempt, false);
  }

  /** An attempt's stdout log; a sealed one ({@link dev.atsdispatch.crypto.SealedLog}) ends in {@code .sealed}. */
  public Path stdoutLog(TaskKey key, int attempt, boolean sealed) {
    return taskDir(key).resolve("attempt-" + attempt + ".stdout." + (sealed ? "sealed" : "log"));
  }

  public Path stderrLog(TaskKey key, int attempt, boolean sealed) {
    return taskDir(key).resolve("attempt-" + attempt + ".stderr." + (sealed ? "sealed" : "log"));
  }

  public Outbox outbox(String kind) {
    return new Outbox(root.resolve("outbox").resolve(kind));
  }

  /** An agent of this task runs as process group {@code pgid} (started at {@code startMs}). */
  public record Running(TaskKey key, long pgid, long startMs) {}

  public void markRunning(TaskKey key, long pgid, long startMs) {
    // the fourth line names the service that owns it, for the orphan guard. One write into the
    // file, neither renamed into place nor fsync'd: the agent is held at its gate until this has
    // returned, so a service that dies before the write is whole leaves an agent that exits at its
    // gate (stdin closed) and an unreadable marker that the next start removes; and the marker
    // only has to survive the service's death, not the machine's, since a power loss ends the
    // agent too
    byte[] line = (key + "\n" + pgid + "\n" + startMs + "\n" + ProcessHandle.current().pid() + "\n")
        .getBytes(StandardCharsets.UTF_8);
    Path target = marker(key);
    try {
      try {
        writeMarker(target, line);
      } catch (java.nio.file.NoSuchFileException e) { // the first marker, or the directory was removed
        OwnerOnly.createDirectories(target.getParent());
        writeMarker(target, line);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the running marker of " + key, e);
    }
  }

  private static void writeMarker(Path target, byte[] line) throws IOException {
    try (var out = OwnerOnly.open(target, java.nio.file.StandardOpenOption.WRITE,
        java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
      out.write(java.nio.ByteBuffer.wrap(line));
    }
  }

  public void clearRunning(TaskKey key) {
    try {
      Files.deleteIfExists(marker(key));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the running marker of " + key, e);
    }
  }

  /** Agents recorded as running (by this or an earlier incarnation); unreadable markers are skipped. */
  public List<Running> running() {
    List<Running> out = new ArrayList<>();
    Path dir = root.resolve("running");
    if (!Files.isDirectory(dir)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.run")) {
      for (Path f : ds) {
        try {
          List<String> l = Files.readAllLines(f, StandardCharsets.UTF_8);
          out.add(new Running(TaskKey.parse(l.get(0)), Long.parseLong(l.get(1)), Long.parseLong(l.get(2))));
        } catch (IOException | RuntimeException e) {
          log.warn("state: unreadable running marker {} ({}); removing it", f, e.toString());
          Files.deleteIfExists(f);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
    return out;
  }

  public Path runningDir() {
    return root.resolve("running");
  }

  private Path marker(TaskKey key) {
    return runningDir().resolve(key.source() + "-" + key.fileName() + ".run");
  }

  /** Every task directory of every source, for the retention sweep. */
  List<Path> taskDirs() {
    List<Path> out = new ArrayList<>();
    Path tasks = root.resolve("tasks");
    if (!Files.isDirectory(tasks)) return out;
    try (DirectoryStream<Path> sources = Files.newDirectoryStream(tasks, Files::isDirectory)) {
      for (Path s : sources) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(s, Files::isDirectory)) {
          ds.forEach(out::add);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + tasks, e);
    }
    return out;
  }

  @Override
  public synchronized void close() {
    journal.close();
    try {
      if (lock != null) lock.release();
      if (lockChannel != null) lockChannel.close();
    } catch (IOException e) {
      // released with the process anyway
    }
  }
}
