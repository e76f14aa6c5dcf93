package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import dev.atsdispatch.testing.Wait;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gates started ahead of their agents, with real processes: the agent a ready gate runs sees
 * exactly what a freshly forked one sees (arguments, environment, directory, session), whatever
 * the task text holds; it runs only after the marker callback; and no gate outlives its runner.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
final class ReadyGatesTest {
  /** Task text that would be shell syntax if it were ever read as such. */
  static final String HOSTILE = "it's \"quoted\" $(touch pwned) `touch pwned2` ; exit 3 \\ \\n\nline two\n\t'\"'\"' $HOME ${PATH} * ?"
      + " ünïcödé \u2028 end";
  @TempDir Path dir;
  final List<ProcessAgentRunner> runners = new ArrayList<>();

  @AfterEach
  void closeRunners() {
    runners.forEach(ProcessAgentRunner::close);
  }

  ProcessAgentRunner runner(int ready) {
    ProcessAgentRunner r = new ProcessAgentRunner().keepingGatesReady(ready);
    runners.add(r);
    return r;
  }

  /** A script that prints its pid, session, directory, arguments and environment, NUL-separated. */
  Path reporter() throws IOException {
    Path s = dir.resolve("report.sh");
    Files.writeString(s, "#!/bin/sh\n"
        + "printf 'pid=%s\\0' \"$$\"\n"
        + "printf 'sid=%s\\0' \"$(cut -d' ' -f6 /proc/$$/stat)\"\n"
        + "printf 'pwd=%s\\0' \"$(pwd -P)\"\n"
        + "for a in \"$@\"; do printf 'arg=%s\\0' \"$a\"; done\n"
        + "env -0 | sort -z\n"
        + "cat >/dev/null\n");
    Files.setPosixFilePermissions(s, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    return s;
  }

  AgentSpec spec(Path program, List<String> args, Map<String, String> env, String work) {
    List<String> argv = new ArrayList<>();
    argv.add(program.toString());
    argv.addAll(args);
    return new AgentSpec(argv, "the prompt", dir.resolve(work), env, null, null, Duration.ofSeconds(30), null,
        Duration.ofSeconds(2), 1 << 20, 4096, null);
  }

  static Map<String, String> env() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
    env.put("LANG", "C.UTF-8");
    env.put("ATS_TASK_TITLE", HOSTILE);
    env.put("ATS_TASK_ID", "42");
    env.put("EMPTY", "");
    return env;
  }

  record Seen(long pgid, long startMs, String report) {}

  Seen run(ProcessAgentRunner r, AgentSpec spec) throws Exception {
    long[] marked = {-1, -1};
    RunningAgent a = r.start(spec, (pgid, startMs) -> {
      marked[0] = pgid;
      marked[1] = startMs;
    });
    AgentResult res = a.result().get(30, TimeUnit.SECONDS);
    assertTrue(res.succeeded(), res.toString());
    assertEquals(a.pid(), marked[0]);
    return new Seen(marked[0], marked[1], res.response());
  }

  static List<String> fields(String report) {
    return List.of(report.split("\0"));
  }

  @Test
  void anAgentThroughAReadyGateSeesExactlyWhatAForkedGateGivesIt() throws Exception {
    Path p = reporter();
    List<String> args = List.of(HOSTILE, "", "-n", "'", "a\nb", "$(id)");
    ProcessAgentRunner ahead = runner(1);
    Wait.until("ahead.readyGates() == 1", () -> ahead.readyGates() == 1);
    Seen viaReady = run(ahead, spec(p, args, env(), "w1"));
    Seen viaFork = run(runner(0), spec(p, args, env(), "w1"));
    List<String> a = fields(viaReady.report());
    List<String> b = fields(viaFork.report());
    // the same but for the pid and session, which are each run's own
    assertEquals(b.subList(2, b.size()), a.subList(2, a.size()));
    assertTrue(a.contains("arg=" + HOSTILE), a.toString());
    assertTrue(a.contains("ATS_TASK_TITLE=" + HOSTILE), a.toString());
    assertTrue(a.contains("arg=a\nb"), a.toString());
    assertTrue(a.contains("pwd=" + dir.resolve("w1").toRealPath()), a.toString());
    assertFalse(a.stream().anyMatch(f -> f.startsWith("OLDPWD=")), a.toString());
    assertFalse(Files.exists(dir.resolve("w1/pwned")) || Files.exists(dir.resolve("w1/pwned2")), "task text ran as shell");
    // the agent is the recorded process: pid, leader of its own session and group
    assertEquals("pid=" + viaReady.pgid(), a.get(0));
    assertEquals("sid=" + viaReady.pgid(), a.get(1));
    assertTrue(viaReady.startMs() > 0);
  }

  @Test
  void aReadyGateRunsNothingBeforeTheMarkerCallbackReturns() throws Exception {
    ProcessAgentRunner r = runner(1);
    Wait.until("r.readyGates() == 1", () -> r.readyGates() == 1);
    Path flag = dir.resolve("started");
    Path script = dir.resolve("flag.sh");
    Files.writeString(script, "#!/bin/sh\necho $$ > " + flag + "\ncat\n");
    Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    RunningAgent a = r.start(spec(script, List.of(), env(), "w"), (pgid, startMs) -> {
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      assertTrue(ProcessAgentRunnerTest.running(pgid), "the gate waits");
      assertFalse(Files.exists(flag), "the agent ran before the callback returned");
    });
    assertEquals("the prompt", a.result().get(30, TimeUnit.SECONDS).response());
    assertEquals(Long.toString(a.pid()), Files.readString(flag).strip());
  }

  @Test
  void aMarkerThatFailsEndsTheReadyGateWithNothingRun() throws Exception {
    ProcessAgentRunner r = runner(1);
    Wait.until("r.readyGates() == 1", () -> r.readyGates() == 1);
    Path flag = dir.resolve("ran");
    long[] pid = {-1};
    assertThrows(IllegalStateException.class, () -> r.start(
        new AgentSpec(List.of("sh", "-c", "echo ran > " + flag), "", dir.resolve("w"), env(), null, null,
            Duration.ofSeconds(30), null, Duration.ofSeconds(1), 1024, 1024, null),
        (pgid, startMs) -> {
          pid[0] = pgid;
          throw new IllegalStateException("cannot write the marker");
        }));
    Wait.until("!ProcessAgentRunnerTest.running(pid[0])", () -> !ProcessAgentRunnerTest.running(pid[0]));
    assertFalse(Files.exists(flag));
  }

  @Test
  void aReadyGateKilledWhileItWaitedIsReplacedByAForkedOne() throws Exception {
    ProcessAgentRunner r = runner(1);
    Wait.until("r.readyGates() == 1", () -> r.readyGates() == 1);
    long gate = ProcessHandle.current().descendants()
        .filter(h -> h.info().arguments().map(x -> List.of(x).contains("ats-dispatch-gate")).orElse(false))
        .mapToLong(ProcessHandle::pid).findFirst().orElseThrow();
    ProcessGroups.signal(gate, "KILL");
    Wait.until("!ProcessAgentRunnerTest.running(gate)", () -> !ProcessAgentRunnerTest.running(gate));
    Seen s = run(r, spec(reporter(), List.of("x"), env(), "w"));
    assertNotEquals(gate, s.pgid());
    assertTrue(fields(s.report()).contains("arg=x"));
  }

  @Test
  void aValueTheOsCannotPassFailsAsWithAForkedGate() throws Exception {
    ProcessAgentRunner r = runner(1);
    Wait.until("r.readyGates() == 1", () -> r.readyGates() == 1);
    Map<String, String> env = env();
    env.put("ATS_TASK_TITLE", "a\0b");
    IOException x = assertThrows(IOException.class, () -> r.start(spec(reporter(), List.of(), env, "w"), (g, s) -> {}));
    assertFalse(x.getMessage().contains("a\0b"));
    assertEquals(1, r.readyGates(), "the ready gate was not used up");
  }

  @Test
  void aNameThatIsNoShellNameGoesThroughAForkedGateAsBefore() throws Exception {
    ProcessAgentRunner r = runner(1);
    Wait.until("a gate ready", () -> r.readyGates() == 1);
    Map<String, String> env = env();
    env.put("odd-name.x", "v"); // no shell name: an export would fail, so this agent gets a gate of its own
    assertNull(ReadyGates.line(dir, env, List.of("x"), false));
    List<String> viaReady = fields(run(r, spec(reporter(), List.of(), env, "w")).report());
    List<String> viaFork = fields(run(runner(0), spec(reporter(), List.of(), env, "w")).report());
    assertEquals(viaFork.subList(2, viaFork.size()), viaReady.subList(2, viaReady.size()));
    assertEquals(1, r.readyGates(), "the ready gate was not used up");
  }

  @Test
  void closingTheRunnerEndsItsReadyGatesAndAGateWhoseServiceDiedRunsNothing() throws Exception {
    ProcessAgentRunner r = runner(2);
    Wait.until("r.readyGates() == 2", () -> r.readyGates() == 2);
    List<ProcessHandle> gates = ProcessHandle.current().descendants()
        .filter(h -> h.info().arguments().map(x -> List.of(x).contains("ats-dispatch-gate")).orElse(false)).toList();
    assertEquals(2, gates.size());
    r.close();
    for (ProcessHandle g : gates) {
      Wait.until("!ProcessAgentRunnerTest.running(g.pid())", () -> !ProcessAgentRunnerTest.running(g.pid()));
    }
    assertEquals(0, r.readyGates());
  }

  @Test
  void aGateWhoseStdinClosesExitsWithoutRunningItsLine() throws Exception {
    Process p = new ProcessBuilder("/bin/sh", "-c", ReadyGates.SCRIPT, "ats-dispatch-gate").start();
    p.getOutputStream().close();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    assertEquals(125, p.exitValue());
  }

  @Test
  void theLineQuotesEveryWord() {
    StringBuilder b = new StringBuilder();
    ReadyGates.quote(b, "a'b\nc");
    assertEquals("'a'\\''b'\"$nl\"'c'", b.toString());
    byte[] line = ReadyGates.line(Path.of("/w"), Map.of("K", "v"), List.of("prog", "x y"), true);
    assertEquals("export 'K=v'; cd -P -- '/w' || exit 126; unset OLDPWD; trap '' TERM; exec 'prog' 'x y'\n",
        new String(line, StandardCharsets.UTF_8));
  }
}
