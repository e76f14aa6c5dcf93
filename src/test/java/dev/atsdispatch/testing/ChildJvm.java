package dev.atsdispatch.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ats-dispatch} (dev.atsdispatch.cli.Main), or another main class, started as a separate JVM
 * with the test JVM's classpath, its stdout and stderr going to files (so a chatty child never blocks on a full pipe).
 * Tests must {@link #kill()} (or close) every one they start.
 */
public final class ChildJvm implements AutoCloseable {
  private final Process process;
  private final Path stdout;
  private final Path stderr;

  private ChildJvm(Process process, Path stdout, Path stderr) {
    this.process = process;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /** The classpath the test JVM runs with; fails if it is a manifest-only jar. */
  public static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    if (cp == null || cp.isBlank()) cp = System.getProperty("java.class.path");
    boolean hasClasses = false;
    for (String e : cp.split(File.pathSeparator)) {
      if (e.replace('\\', '/').endsWith("target/classes")) hasClasses = true;
    }
    if (!hasClasses || !cp.contains("picocli")) {
      throw new IllegalStateException("test classpath lacks target/classes or the dependency jars: " + cp);
    }
    return cp;
  }

  /**
   * Starts {@code Main args} with the current environment plus {@code env} (a null value removes
   * a variable), in {@code dir}, logging to {@code dir/<name>.stdout|stderr}.
   */
  public static ChildJvm start(Path dir, String name, Map<String, String> env, List<String> args) {
    return start(dir, name, env, "256m", "dev.atsdispatch.cli.Main", args);
  }

  /** Starts any {@code mainClass} on the test classpath with {@code -Xmx<maxHeap>}, as above. */
  public static ChildJvm start(Path dir, String name, Map<String, String> env, String maxHeap,
      String mainClass, List<String> args) {
    return start(dir, name, env, List.of("-Xmx" + maxHeap), mainClass, args);
  }

  /**
   * Starts {@code mainClass} with these JVM options (e.g. {@code -Xmx256m}, {@code -Xlog:gc:file=...},
   * {@code -XX:+ExitOnOutOfMemoryError}; without an {@code -Xmx} the JVM's default applies), as above.
   */
  public static ChildJvm start(Path dir, String name, Map<String, String> env, List<String> jvmOptions,
      String mainClass, List<String> args) {
    return start(dir, name, env, jvmOptions, mainClass, args, null);
  }

  /** Starts {@code Main args} as {@link #start(Path, String, Map, List)} does, under this umask (e.g. "022"). */
  public static ChildJvm startUnderUmask(Path dir, String name, String umask, Map<String, String> env, List<String> args) {
    return start(dir, name, env, List.of("-Xmx256m"), "dev.atsdispatch.cli.Main", args, umask);
  }

  private static ChildJvm start(Path dir, String name, Map<String, String> env, List<String> jvmOptions,
      String mainClass, List<String> args, String umask) {
    List<String> cmd = new ArrayList<>();
    if (umask != null) cmd.addAll(List.of("/bin/sh", "-c", "umask " + umask + " && exec \"$0\" \"$@\""));
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xshare:auto");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(classpath());
    cmd.add(mainClass);
    cmd.addAll(args);
    Path out = dir.resolve(name + ".stdout");
    Path err = dir.resolve(name + ".stderr");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    // The child must not pick up ATS_* / ATS_DISPATCH_* settings from whoever runs the tests.
    pb.environment().keySet().removeIf(k -> k.startsWith("ATS_"));
    env.forEach((k, v) -> {
      if (v == null) pb.environment().remove(k); else pb.environment().put(k, v);
    });
    try {
      return new ChildJvm(pb.start(), out, err);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Process process() {
    return process;
  }

  public long pid() {
    return process.pid();
  }

  public String stdout() {
    return read(stdout);
  }

  public String stderr() {
    return read(stderr);
  }

  /** Non-blank stderr lines. */
  public List<String> stderrLines() {
    return stderr().lines().filter(l -> !l.isBlank()).toList();
  }

  private static String read(Path p) {
    try {
      return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits for the process to exit; returns its exit code or fails with its output. */
  public int waitFor(Duration d) throws InterruptedException {
    if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("still running after " + d + "\nstdout:\n" + stdout() + "\nstderr:\n" + stderr());
    }
    return process.exitValue();
  }

  /** Waits until stdout matches {@code regex} (find); returns the match. */
  public Matcher awaitStdout(String regex, Duration d) throws InterruptedException {
    Pattern p = Pattern.compile(regex);
    long end = System.nanoTime() + d.toNanos();
    while (true) {
      Matcher m = p.matcher(stdout());
      if (m.find()) return m;
      if (!process.isAlive()) {
        throw new AssertionError("exited (" + process.exitValue() + ") before printing /" + regex
            + "/\nstdout:\n" + stdout() + "\nstderr:\n" + stderr());
      }
      if (System.nanoTime() > end) {
        throw new AssertionError("no /" + regex + "/ within " + d + "\nstdout:\n" + stdout() + "\nstderr:\n" + stderr());
      }
      Thread.sleep(25);
    }
  }

  /** kill -9, and waits until it is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    if (!process.isAlive()) return;
    try {
      kill();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Whether {@code pid} is a live process: it exists in /proc and is not a zombie (a zombie has
   * been killed, merely not reaped by whoever inherited it).
   */
  public static boolean alive(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String state = stat.substring(stat.lastIndexOf(')') + 2).split(" ")[0];
      return !state.equals("Z") && !state.equals("X");
    } catch (IOException e) {
      return false;
    }
  }

  /** Pids of live (non-zombie) processes in process group {@code pgid}. */
  public static List<Long> groupMembers(long pgid) {
    List<Long> out = new ArrayList<>();
    try (var procs = Files.newDirectoryStream(Path.of("/proc"))) {
      for (Path p : procs) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) continue;
        String stat;
        try {
          stat = Files.readString(p.resolve("stat"));
        } catch (IOException e) {
          continue;
        }
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        if (f[0].equals("Z") || f[0].equals("X")) continue;
        if (Long.parseLong(f[2]) == pgid) out.add(Long.parseLong(name));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** Kills whatever is left of process group {@code pgid} (test clean-up only). */
  public static void killGroup(long pgid) {
    if (pgid <= 1) return;
    for (long pid : groupMembers(pgid)) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
  }
}
