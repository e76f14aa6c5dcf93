package dev.atsdispatch.dispatch;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The retention policy of the state directory (config {@code state_retention}, default 7 days):
 * removes the directory of a task (its ledger, attempt logs and working directory) once nothing
 * has been written to its ledger for that long and nothing of it is pending: no agent running,
 * no result in the outbox, not held by the engine. Runs on a timer thread, hourly and once at
 * start; the engine's own memory is bounded separately.
 */
final class Retention {
  private static final Logger log = LoggerFactory.getLogger(Retention.class);

  private Retention() {}

  /** Removes what has aged out, keeping the tasks in {@code active} and those with a result on its way. */
  static int sweep(StateDir state, Duration keep, Instant now, java.util.Collection<dev.atsdispatch.source.TaskKey> active) {
    Set<Path> held = new java.util.HashSet<>();
    for (dev.atsdispatch.source.TaskKey k : active) held.add(state.taskDir(k));
    return sweep(state, keep, now, dir -> held.contains(dir) || resultPending(state, dir));
  }

  private static boolean resultPending(StateDir state, Path dir) {
    Path ledger = dir.resolve("events.jsonl");
    if (!Files.exists(ledger)) return false;
    try {
      return new TaskLedger(dir).summary().resultPending();
    } catch (RuntimeException e) {
      return true; // unreadable: keep it for a person to look at
    }
  }

  /** Removes what has aged out; {@code busy} says whether a task directory is still in use. */
  static int sweep(StateDir state, Duration keep, Instant now, Predicate<Path> busy) {
    int removed = 0;
    Set<Path> running = new java.util.HashSet<>();
    for (StateDir.Running r : state.running()) running.add(state.taskDir(r.key()));
    for (Path dir : state.taskDirs()) {
      try {
        Path ledger = dir.resolve("events.jsonl");
        Instant last = Files.exists(ledger) ? Files.getLastModifiedTime(ledger).toInstant()
            : Files.getLastModifiedTime(dir).toInstant();
        if (Duration.between(last, now).compareTo(keep) < 0) continue;
        if (running.contains(dir) || busy.test(dir)) continue;
        deleteTree(dir);
        removed++;
      } catch (IOException | RuntimeException e) {
        log.warn("state: cannot remove {}: {}", dir, e.toString());
      }
    }
    if (removed > 0) log.info("state: removed {} task directories older than {}", removed, keep);
    return removed;
  }

  private static void deleteTree(Path dir) throws IOException {
    Files.walkFileTree(dir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
        Files.delete(f);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        if (e != null) throw e;
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
