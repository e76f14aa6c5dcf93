package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Real processes: shell scripts that hang, ignore SIGTERM, fork grandchildren and flood output. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
final class ProcessAgentRunnerTest {
  static final Map<String, String> ENV = Map.of("PATH", "/usr/local/bin:/usr/bin:/bin", "LANG", "C.UTF-8");
  @TempDir Path dir;

  AgentSpec spec(List<String> cmd, String prompt, Duration timeout, Duration noOutput, Duration grace) {
    return new AgentSpec(cmd, prompt, dir.resolve("work"), ENV, dir.resolve("logs/a.stdout.log"),
        dir.resolve("logs/a.stderr.log"), timeout, noOutput, grace, 64 * 1024, 4096, null);
  }

  AgentSpec sh(String script, String prompt) {
    return spec(List.of("sh", "-c", script), prompt, Duration.ofSeconds(30), null, Duration.ofSeconds(2));
  }

  /**
   * Whether a process still runs. A killed process reparented to PID 1 stays a zombie until PID 1
   * reaps it (this sandbox's PID 1 is slow to), and ProcessHandle counts zombies as alive.
   */
  static boolean running(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      char state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state != 'Z' && state != 'X';
    } catch (IOException e) {
      return false;
    }
  }

  static AgentResult run(AgentRunner r, AgentSpec s) throws Exception {
    return r.start(s).result().get(30, TimeUnit.SECONDS);
  }

  @Test
  void promptGoesToStdinAndStdoutIsTheResponse() throws Exception {
    AgentResult r = run(new ProcessAgentRunner(), sh("cat", "  hello\nwörld  \n"));
    assertTrue(r.succeeded());
    assertEquals("hello\nwörld", r.response());
    assertFalse(r.responseTruncated());
    assertEquals(AgentResult.Outcome.EXITED, r.outcome());
  }

  /** Every line reaches the listener, in order per stream, a long one in pieces of the cap; the response is untouched. */
  @Test
  void linesReachTheListenerWholeAndLongOnesInPieces() throws Exception {
    List<String> out = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    List<String> err = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    AgentSpec s = sh("i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done; "
        + "head -c 2500000 /dev/zero | tr '\\0' x; echo; printf 'crlf\\r\\n'; printf 'no newline'; echo oops >&2", "")
        .withLines((stream, line) -> (stream.equals("stdout") ? out : err).add(line));
    AgentResult r = run(new ProcessAgentRunner(), s);
    assertTrue(r.succeeded());
    assertEquals(3000 + 3 + 2, out.size(), "lines: " + out.size());
    for (int i = 0; i < 3000; i++) assertEquals("line " + i, out.get(i));
    assertEquals(1 << 20, out.get(3000).length());
    assertEquals(1 << 20, out.get(3001).length());
    assertEquals(2_500_000 - 2 * (1 << 20), out.get(3002).length());
    assertEquals("crlf", out.get(3003));
    assertEquals("no newline", out.get(3004));
    assertEquals(List.of("oops"), err);
    assertTrue(r.response().startsWith("line 0\nline 1\n"), "the response is stdout as before");
  }

  @Test
  void aRelativeCommandRunsTheFileItWasCheckedAgainst() throws Exception {
    // checked against the service's working directory; the agent runs in its own work directory
    Path rel = Path.of("target", "rel-agent-" + ProcessHandle.current().pid() + ".sh");
    java.nio.file.Files.createDirectories(rel.getParent());
    java.nio.file.Files.writeString(rel, "#!/bin/sh\necho ran from \"$PWD\"\n");
    java.nio.file.Files.setPosixFilePermissions(rel, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    try {
      AgentResult r = run(new ProcessAgentRunner(), spec(List.of(rel.toString()), "", Duration.ofSeconds(20), null,
          Duration.ofSeconds(1)));
      assertTrue(r.succeeded(), r.toString());
      assertEquals("ran from " + dir.resolve("work").toRealPath(), r.response());
    } finally {
      java.nio.file.Files.deleteIfExists(rel);
    }
  }

  @Test
  void inputPlaceholderIsSubstitutedAndStdinClosed() throws Exception {
    // cat on stdin would hang if stdin were left open
    AgentSpec s = spec(List.of("sh", "-c", "cat; printf '[%s]' \"$1\"", "sh", "prompt={input}"),
        "the 'task' $HOME", Duration.ofSeconds(20), null, Duration.ofSeconds(1));
    AgentResult r = run(new ProcessAgentRunner(), s);
    assertEquals("[prompt=the 'task' $HOME]", r.response());
  }

  @Test
  void agentThatReadsStdinToEofDoesNotHang() throws Exception {
    AgentResult r = run(new ProcessAgentRunner(), sh("wc -c", "x".repeat(200_000)));
    assertEquals("200000", r.response());
  }

  @Test
  void agentStartedWithASpawnedCallbackRunsOnlyAfterItReturnsAndKeepsTheRecordedPid() throws Exception {
    Path flag = dir.resolve("started");
    long[] seen = {-1, -1};
    RunningAgent a = new ProcessAgentRunner().start(sh("echo $$ > " + flag + "; cat", "the prompt"), (pgid, startMs) -> {
      seen[0] = pgid;
      seen[1] = startMs;
      try {
        Thread.sleep(300); // a slow marker write: the agent must not have started meanwhile
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      assertTrue(running(pgid), "the spawned process waits");
      assertFalse(Files.exists(flag), "the agent ran before the callback returned");
    });
    AgentResult r = a.result().get(30, TimeUnit.SECONDS);
    assertEquals("the prompt", r.response(), "the whole prompt reaches the agent past the gate");
    assertEquals(a.pid(), seen[0]);
    assertEquals(Long.toString(a.pid()), Files.readString(flag).strip(), "the agent is the recorded process");
    assertTrue(seen[1] > 0, "start time recorded");
  }

  @Test
  void agentWhoseSpawnedCallbackFailsNeverRuns() throws Exception {
    Path flag = dir.resolve("started");
    long[] pid = {-1};
    assertThrows(IllegalStateException.class, () -> new ProcessAgentRunner().start(
        sh("echo ran > " + flag, ""), (pgid, startMs) -> {
          pid[0] = pgid;
          throw new IllegalStateException("cannot write the marker");
        }));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (running(pid[0]) && System.nanoTime() < end) Thread.sleep(20);
    assertFalse(running(pid[0]), "the gated process is killed");
    assertFalse(Files.exists(flag), "the agent ran although it was never recorded");
  }

  @Test
  void aLongPromptArrivesWholeWithCharactersOnEverySliceBoundary() throws Exception {
    // the prompt goes out in slices of 64 Ki characters: a surrogate pair and 2- and 3-byte
    // characters sit across each boundary, and the bytes must match one whole encoding
    StringBuilder b = new StringBuilder();
    while (b.length() < 5 * 65536) {
      b.append("a".repeat(65536 - 1 - (b.length() % 65536))).append("\uD83D\uDE00").append("é€");
    }
    String prompt = b.toString();
    Path copy = dir.resolve("copy");
    AgentResult r = run(new ProcessAgentRunner(), sh("cat > " + copy + "; echo done", prompt));
    assertEquals("done", r.response());
    assertArrayEquals(prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8), Files.readAllBytes(copy));
  }

  @Test
  void agentThatIgnoresStdinDoesNotBreakOnAFullPipe() throws Exception {
    AgentResult r = run(new ProcessAgentRunner(), sh("echo ignored", "y".repeat(2_000_000)));
    assertTrue(r.succeeded());
    assertEquals("ignored", r.response());
  }

  @Test
  void nonZeroExitKeepsTheStderrTailAndBothLogs() throws Exception {
    AgentResult r = run(new ProcessAgentRunner(),
        sh("echo out; i=0; while [ $i -lt 2000 ]; do echo line$i >&2; i=$((i+1)); done; echo oops >&2; exit 3", ""));
    assertEquals(AgentResult.Outcome.EXITED, r.outcome());
    assertEquals(3, r.exitCode());
    assertFalse(r.succeeded());
    assertTrue(r.stderrTail().endsWith("line1999\noops\n"), r.stderrTail());
    assertTrue(r.stderrTail().length() <= 4096);
    String err = Files.readString(dir.resolve("logs/a.stderr.log"));
    assertTrue(err.startsWith("line0\nline1\n"));
    assertTrue(err.endsWith("oops\n"));
    assertEquals("out\n", Files.readString(dir.resolve("logs/a.stdout.log")));
  }

  @Test
  void runsInItsOwnDirectoryWithOnlyTheGivenEnvironment() throws Exception {
    AgentResult r = run(new ProcessAgentRunner(), sh("pwd; env | sort", ""));
    List<String> lines = r.response().lines().toList();
    assertEquals(dir.resolve("work").toRealPath().toString(), lines.get(0));
    // sh adds PWD (and may add SHLVL); nothing of the service's own environment leaks in
    for (String l : lines.subList(1, lines.size())) {
      String k = l.substring(0, l.indexOf('='));
      assertTrue(List.of("PATH", "LANG", "PWD", "SHLVL", "_").contains(k), "leaked: " + l);
    }
  }

  @Test
  void wallClockTimeoutTermsTheGroup() throws Exception {
    AgentSpec s = spec(List.of("sh", "-c", "sleep 30"), "", Duration.ofMillis(300), null, Duration.ofSeconds(5));
    long t0 = System.nanoTime();
    AgentResult r = run(new ProcessAgentRunner(), s);
    assertEquals(AgentResult.Outcome.TIMED_OUT, r.outcome());
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos(), "TERM should have sufficed");
  }

  @Test
  void timeoutIsATimeoutEvenWhenTheAgentExitsZeroOnTerm() throws Exception {
    AgentSpec s = spec(List.of("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"), "",
        Duration.ofMillis(300), null, Duration.ofSeconds(5));
    AgentResult r = run(new ProcessAgentRunner(), s);
    assertEquals(AgentResult.Outcome.TIMED_OUT, r.outcome());
    assertEquals(0, r.exitCode());
    assertFalse(r.succeeded());
  }

  @Test
  void agentIgnoringTermWithGrandchildHoldingThePipesIsKilledEntirely() throws Exception {
    Path pids = dir.resolve("pids");
    // The child ignores TERM; a grandchild (also ignoring TERM) holds stdout/stderr open; a
    // great-grandchild escapes into its own session.
    String script = "trap '' TERM; (trap '' TERM; sleep 120) & echo $! > " + pids
        + "; setsid sh -c 'trap \"\" TERM; sleep 120' & echo $! >> " + pids
        + "; echo started; while :; do sleep 0.05; done";
    AgentSpec s = spec(List.of("sh", "-c", script), "", Duration.ofSeconds(1), null, Duration.ofMillis(500));
    long t0 = System.nanoTime();
    RunningAgent a = new ProcessAgentRunner().start(s);
    AgentResult r = a.result().get(30, TimeUnit.SECONDS);
    long took = System.nanoTime() - t0;
    assertEquals(AgentResult.Outcome.TIMED_OUT, r.outcome());
    assertEquals("started", r.response());
    assertTrue(took < Duration.ofSeconds(10).toNanos(), "took " + took / 1_000_000 + " ms");
    List<Long> spawned = Files.readAllLines(pids).stream().map(Long::parseLong).toList();
    assertEquals(2, spawned.size());
    for (long pid : spawned) {
      assertFalse(running(pid), "pid " + pid + " survived");
    }
    assertTrue(ProcessGroups.members(a.pid()).isEmpty());
  }

  @Test
  void leftoversOfAnAgentThatExitedAreReaped() throws Exception {
    Path pids = dir.resolve("pids");
    AgentResult r = run(new ProcessAgentRunner(),
        sh("sleep 120 > /dev/null 2>&1 & echo $! > " + pids + "; echo done", ""));
    assertTrue(r.succeeded());
    long pid = Long.parseLong(Files.readString(pids).trim());
    assertFalse(running(pid), "pid " + pid + " survived");
  }

  @Test
  void fiftyMegabytesOfOutputAreCappedInMemoryAndKeptInFull() throws Exception {
    long size = 50L * 1024 * 1024;
    AgentResult r = run(new ProcessAgentRunner(), sh("head -c " + size + " /dev/zero | tr '\\0' a", ""));
    assertTrue(r.succeeded());
    assertTrue(r.responseTruncated());
    assertEquals(64 * 1024, r.response().length());
    assertEquals(size, r.stdoutBytes());
    assertEquals(size, Files.size(dir.resolve("logs/a.stdout.log")));
  }

  @Test
  void truncationNeverSplitsAUtf8Character() throws Exception {
    // 'é' is two bytes: after one ASCII byte, the 64 KiB cap falls in the middle of one
    AgentResult r = run(new ProcessAgentRunner(), sh("printf a; i=0; s=''; while [ $i -lt 100 ]; do s=\"$s\"éééééééééé; i=$((i+1)); done; "
        + "j=0; while [ $j -lt 40 ]; do printf %s \"$s\"; j=$((j+1)); done", ""));
    assertTrue(r.responseTruncated());
    assertEquals(32 * 1024, r.response().length()); // 'a' + 32767 whole 'é'
    assertTrue(r.response().substring(1).chars().allMatch(c -> c == 'é'));
  }

  @Test
  void stopKillsTheAgentPromptly() throws Exception {
    RunningAgent a = new ProcessAgentRunner().start(sh("trap '' TERM; sleep 60", ""));
    Thread.sleep(200);
    long t0 = System.nanoTime();
    a.stop("task cancelled", Duration.ofMillis(300));
    a.stop("ignored second reason", Duration.ofMillis(300));
    AgentResult r = a.result().get(10, TimeUnit.SECONDS);
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(2).toNanos());
    assertEquals(AgentResult.Outcome.STOPPED, r.outcome());
    assertEquals("task cancelled", r.stopReason());
    assertFalse(r.succeeded());
  }

  @Test
  void timeoutsFollowTheClockSeam() throws Exception {
    FakeClock clock = new FakeClock();
    ProcessAgentRunner runner = new ProcessAgentRunner(clock, Duration.ofMillis(20));
    // Timeout of an hour: only the fake clock moving makes it fire.
    AgentSpec s = spec(List.of("sh", "-c", "sleep 60"), "", Duration.ofHours(1), null, Duration.ofMillis(200));
    RunningAgent a = runner.start(s);
    Thread.sleep(300);
    assertFalse(a.result().isDone());
    clock.advance(Duration.ofMinutes(61));
    AgentResult r = a.result().get(10, TimeUnit.SECONDS);
    assertEquals(AgentResult.Outcome.TIMED_OUT, r.outcome());
    assertTrue(r.durationMs() >= 61 * 60 * 1000, "duration comes from the clock seam");
  }

  @Test
  void noOutputTimeoutFiresOnlyWhenSilent() throws Exception {
    FakeClock clock = new FakeClock();
    ProcessAgentRunner runner = new ProcessAgentRunner(clock, Duration.ofMillis(20));
    AgentSpec s = spec(List.of("sh", "-c", "echo hi; sleep 60"), "", Duration.ofHours(5),
        Duration.ofMinutes(10), Duration.ofMillis(200));
    RunningAgent a = runner.start(s);
    Thread.sleep(300);
    clock.advance(Duration.ofMinutes(9));
    Thread.sleep(200);
    assertFalse(a.result().isDone());
    clock.advance(Duration.ofMinutes(2));
    AgentResult r = a.result().get(10, TimeUnit.SECONDS);
    assertEquals(AgentResult.Outcome.NO_OUTPUT, r.outcome());
    assertNull(r.stopReason());
  }

  @Test
  void missingCommandFailsToStartWithAClearMessage() {
    IOException e = assertThrows(IOException.class, () -> new ProcessAgentRunner().start(
        spec(List.of("no-such-agent-binary", "-p"), "", Duration.ofSeconds(5), null, Duration.ofSeconds(1))));
    assertTrue(e.getMessage().contains("no-such-agent-binary"), e.getMessage());
  }

  @Test
  void systemClockIsTheDefault() {
    assertTrue(Clock.SYSTEM.nanoTime() > 0);
  }
}
