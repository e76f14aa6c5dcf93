package dev.atsdispatch.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every process the harness starts (dev servers, services, external executors), so that each one
 * and all its descendants are killed at the end, on failure, on the overall timeout and on
 * SIGINT/SIGTERM of the harness. Also reads resident memory from /proc. Lifecycle: start
 * processes, {@link #stop} each when done, {@link #killAll()} once at the end.
 */
final class Children {
  private final List<ProcessHandle> roots = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  /** Starts {@code pb} with stdout and stderr going to {@code dir/<name>.stdout|stderr}. */
  Process start(ProcessBuilder pb, Path dir, String name) {
    if (closed) throw new BenchFailure("harness is stopping");
    pb.redirectOutput(dir.resolve(name + ".stdout").toFile()).redirectError(dir.resolve(name + ".stderr").toFile());
    try {
      Process p = pb.start();
      roots.add(p.toHandle());
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + pb.command().get(0), e);
    }
  }

  /** Waits until {@code dir/<name>.stdout} matches {@code regex}; returns the match. */
  static Matcher awaitStdout(Process p, Path dir, String name, String regex, Duration timeout)
      throws InterruptedException {
    Pattern pat = Pattern.compile(regex);
    long end = System.nanoTime() + timeout.toNanos();
    while (true) {
      Matcher m = pat.matcher(read(dir.resolve(name + ".stdout")));
      if (m.find()) return m;
      if (!p.isAlive()) {
        throw new BenchFailure(name + " exited (" + p.exitValue() + "): " + tail(dir, name));
      }
      if (System.nanoTime() > end) throw new BenchFailure(name + " not ready within " + timeout.toSeconds() + " s");
      Thread.sleep(10);
    }
  }

  /** The last lines of a child's stderr (the message of JSON log lines), for error messages. */
  static String tail(Path dir, String name) {
    List<String> lines = read(dir.resolve(name + ".stderr")).lines().filter(l -> !l.isBlank()).toList();
    List<String> out = new ArrayList<>();
    for (String l : lines.subList(Math.max(0, lines.size() - 2), lines.size())) {
      Matcher m = MESSAGE.matcher(l);
      out.add(l.startsWith("{") && m.find() ? m.group(1) : l);
    }
    return out.isEmpty() ? "(no output)" : String.join(" | ", out);
  }

  private static final Pattern MESSAGE = Pattern.compile("\"message\":\"((?:[^\"\\\\]|\\\\.)*)\"");

  private static String read(Path p) {
    try {
      return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * SIGTERM to {@code p}, up to {@code grace} for it to exit, then SIGKILL to whatever is left of
   * it and of every descendant it had (snapshotted first: its children outlive it otherwise).
   */
  void stop(Process p, Duration grace) {
    ProcessHandle h = p.toHandle();
    List<ProcessHandle> tree = new ArrayList<>(h.descendants().toList());
    h.destroy();
    try {
      p.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tree.addAll(h.descendants().toList());
    kill(h, tree);
    roots.remove(h);
  }

  /** SIGKILL to every process started here and all their descendants. */
  void killAll() {
    closed = true;
    for (ProcessHandle h : roots) kill(h, new ArrayList<>(h.descendants().toList()));
    roots.clear();
  }

  private static void kill(ProcessHandle root, List<ProcessHandle> tree) {
    for (int round = 0; round < 3; round++) {
      root.destroyForcibly();
      for (ProcessHandle d : tree) d.destroyForcibly();
      tree.addAll(root.descendants().toList());
      boolean alive = root.isAlive() || tree.stream().anyMatch(ProcessHandle::isAlive);
      if (!alive) return;
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Whether {@link #killAll()} ran: the harness is stopping (timeout, signal, end). */
  boolean closed() {
    return closed;
  }

  /** Resident memory of one process, in bytes (VmRSS), or 0 if it is gone. */
  static long rss(long pid) {
    String status = read(Path.of("/proc", Long.toString(pid), "status"));
    for (String l : status.split("\n")) {
      if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
    }
    return 0;
  }

  /**
   * Resident memory of {@code root} and its descendants, leaving out processes whose command
   * line mentions {@code exclude} (the recording agent, which is not the executor's memory) and
   * children caught between fork and exec (same command line as their parent: they share its
   * pages, and counting them would count the parent twice).
   */
  static long treeRss(ProcessHandle root, String exclude) {
    long sum = rss(root.pid());
    for (ProcessHandle d : root.descendants().toList()) {
      String cmd = cmdline(d.pid());
      if (cmd.isEmpty() || cmd.contains(exclude)) continue;
      if (d.parent().map(p -> cmdline(p.pid()).equals(cmd)).orElse(false)) continue;
      sum += rss(d.pid());
    }
    return sum;
  }

  private static String cmdline(long pid) {
    return read(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
  }
}
