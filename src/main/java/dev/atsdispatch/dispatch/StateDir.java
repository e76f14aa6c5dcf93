package dev.atsdispatch.dispatch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The service's state directory (design.md §3): per-task ledgers, attempt logs and working
 * directories, the outboxes, and {@code service.lock}, held for the life of the service so that
 * only one service uses a state directory at a time.
 */
public final class StateDir implements AutoCloseable {
  private final Path root;
  private final ConcurrentHashMap<Long, TaskLedger> ledgers = new ConcurrentHashMap<>();
  private FileChannel lockChannel;
  private FileLock lock;

  public StateDir(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /** Takes the single-instance lock; throws IllegalStateException naming the holder's file. */
  public synchronized void lock() {
    try {
      Files.createDirectories(root);
      // agent output and results live here: owner only
      Files.setPosixFilePermissions(root, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
      lockChannel = FileChannel.open(root.resolve("service.lock"), StandardOpenOption.CREATE,
          StandardOpenOption.WRITE);
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
  }

  public Path taskDir(long taskId) {
    return root.resolve("tasks").resolve(Long.toString(taskId));
  }

  public TaskLedger ledger(long taskId) {
    return ledgers.computeIfAbsent(taskId, id -> new TaskLedger(taskDir(id)));
  }

  public Path workDir(long taskId) {
    return taskDir(taskId).resolve("work");
  }

  public Path stdoutLog(long taskId, int attempt) {
    return taskDir(taskId).resolve("attempt-" + attempt + ".stdout.log");
  }

  public Path stderrLog(long taskId, int attempt) {
    return taskDir(taskId).resolve("attempt-" + attempt + ".stderr.log");
  }

  public Outbox outbox(String kind) {
    return new Outbox(root.resolve("outbox").resolve(kind));
  }

  /** Ids of every task this state directory has a ledger for. */
  public java.util.List<Long> knownTasks() {
    Path tasks = root.resolve("tasks");
    if (!Files.isDirectory(tasks)) return java.util.List.of();
    try (var s = Files.list(tasks)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d{1,18}"))
          .map(Long::parseLong).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + tasks, e);
    }
  }

  @Override
  public synchronized void close() {
    try {
      if (lock != null) lock.release();
      if (lockChannel != null) lockChannel.close();
    } catch (IOException e) {
      // released with the process anyway
    }
  }
}
