package dev.atsdispatch.bench;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The trivial agent every executor under test runs, and the reader of what it records. The
 * script (bash) takes {@code $EPOCHREALTIME} as its first act, reads stdin to EOF, prints a short
 * response, and appends {@code <epoch-ns> start|end <key> <ATS_TASK_ID or ->} to one log file,
 * each line with a single write. The key is the task title ({@code bench-<kind>-<n>}) taken from
 * {@code ATS_TASK_TITLE} or, for executors that do not set it, from the prompt. Lifecycle: create
 * in a fresh directory, {@link #selfCheck()}, then {@link #poll()} (or the await methods) while
 * workloads run.
 */
final class RecordingAgent {
  private static final String SCRIPT = """
      #!/bin/bash
      # ats-dispatch bench agent: records start/end times (epoch ns), reads the prompt, answers.
      t0=${EPOCHREALTIME/[.,]/}
      IFS= read -r -d '' input || true
      key=${ATS_TASK_TITLE:-}
      if [[ ! $key =~ ^bench-[a-z]+-[0-9]+$ ]]; then
        if [[ $input =~ (bench-[a-z]+-[0-9]+) ]]; then key=${BASH_REMATCH[1]}; else key=unknown; fi
      fi
      printf '%s000 start %s %s\\n' "$t0" "$key" "${ATS_TASK_ID:--}" >> '@LOG@'
      # a hold task keeps its slot until the harness makes the release file (the pending workload)
      if [[ $key == bench-hold-* ]]; then while [[ ! -e '@LOG@.release' ]]; do sleep 0.5; done; fi
      printf 'ok %s\\n' "$key"
      printf '%s000 end %s %s\\n' "${EPOCHREALTIME/[.,]/}" "$key" "${ATS_TASK_ID:--}" >> '@LOG@'
      """;

  private final Path script;
  private final Path log;
  private final Map<String, Long> starts = new HashMap<>();
  private final Map<String, Long> ends = new HashMap<>();
  private final Map<String, Integer> runs = new HashMap<>();
  private final Map<String, String> taskIds = new HashMap<>();
  private long offset;
  private int duplicateRuns;

  /** Writes the script and its (empty) log in {@code dir/agent/}, a directory of their own (for a sandbox bind). */
  RecordingAgent(Path dir) {
    Path own = dir.resolve("agent");
    this.script = own.resolve("bench-agent.sh");
    this.log = own.resolve("agent.log");
    if (dir.toString().contains("'")) throw new IllegalArgumentException("no quotes in " + dir);
    try {
      Files.createDirectories(own);
      Files.writeString(script, SCRIPT.replace("@LOG@", log.toString()));
      Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
      Files.writeString(log, "");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The directory the agent writes its records in: the one path an agent in a sandbox must write. */
  Path dir() {
    return log.getParent();
  }

  Path script() {
    return script;
  }

  /** Lets every hold task end (they poll for this file twice a second). */
  void releaseHolds() {
    try {
      Files.writeString(Path.of(log + ".release"), "");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The current wall time in epoch nanoseconds (the clock the agent's timestamps use). */
  static long now() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  /** Runs the script once by hand and checks that it answered and recorded both lines. */
  void selfCheck() throws IOException, InterruptedException {
    Process p = new ProcessBuilder(script.toString()).redirectErrorStream(true).start();
    p.getOutputStream().write("<task-title>\nbench-selfcheck-0\n</task-title>\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.equals("ok bench-selfcheck-0\n")) {
      throw new IllegalStateException("bench agent self-check failed (bash 5 needed): " + out.strip());
    }
    poll();
    Long s = starts.get("bench-selfcheck-0");
    Long e = ends.get("bench-selfcheck-0");
    long now = now();
    if (s == null || e == null || e < s || Math.abs(now - e) > 10_000_000_000L) {
      throw new IllegalStateException("bench agent self-check: bad records in " + log);
    }
  }

  /** Reads the lines appended since the last call. */
  synchronized void poll() {
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
      long len = f.length();
      if (len <= offset) return;
      byte[] buf = new byte[(int) (len - offset)];
      f.seek(offset);
      f.readFully(buf);
      int last = -1;
      for (int i = 0; i < buf.length; i++) {
        if (buf[i] != '\n') continue;
        line(new String(buf, last + 1, i - last - 1, StandardCharsets.UTF_8));
        last = i;
      }
      offset += last + 1;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void line(String l) {
    String[] f = l.split(" ");
    if (f.length < 3) return;
    long t = Long.parseLong(f[0]);
    if (f[1].equals("start")) {
      if (starts.putIfAbsent(f[2], t) != null) duplicateRuns++;
      if (f.length > 3) taskIds.putIfAbsent(f[2], f[3]);
      runs.merge(f[2], 1, Integer::sum);
    } else if (f[1].equals("end")) {
      ends.put(f[2], t);
    }
  }

  synchronized Long start(String key) {
    return starts.get(key);
  }

  /** The ATS_TASK_ID the first run of {@code key} saw, or null. */
  synchronized String taskId(String key) {
    return taskIds.get(key);
  }

  synchronized Long end(String key) {
    return ends.get(key);
  }

  /** Starts recorded beyond the first, per key: tasks that ran more than once. */
  synchronized int duplicateRuns() {
    return duplicateRuns;
  }

  synchronized int ended(List<String> keys) {
    int n = 0;
    for (String k : keys) if (ends.containsKey(k)) n++;
    return n;
  }

  /** Waits for the start record of {@code key}; returns its time or throws after {@code timeout}. */
  long awaitStart(String key, Duration timeout) throws InterruptedException {
    await(() -> start(key) != null, timeout, "no agent start for " + key);
    return start(key);
  }

  void await(BooleanSupplier done, Duration timeout, String what) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (true) {
      poll();
      if (done.getAsBoolean()) return;
      if (System.nanoTime() > end) throw new BenchFailure(what + " within " + timeout.toSeconds() + " s");
      Thread.sleep(1);
    }
  }
}
