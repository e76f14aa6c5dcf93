package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code ats-dispatch run} and {@code config show} as separate processes: exit codes, output, signals. */
@Timeout(60)
final class RunCommandTest {
  @TempDir Path dir;
  final List<ChildJvm> jvms = new ArrayList<>();
  final List<Long> groups = new ArrayList<>();
  DevServer server;

  @AfterEach
  void stopAll() {
    jvms.forEach(ChildJvm::close);
    groups.forEach(ChildJvm::killGroup);
    if (server != null) server.close();
  }

  ChildJvm start(Map<String, String> env, String... args) {
    Map<String, String> e = new HashMap<>(env);
    e.putIfAbsent("HOME", dir.toString());
    e.putIfAbsent("ATS_DISPATCH_STATUS_PORT", "0");
    // these agents write pid files next to the test and are watched by their outer pids:
    // no sandbox (AgentSandboxTest runs the service under bwrap)
    e.putIfAbsent("ATS_DISPATCH_AGENT_SANDBOX", "none");
    ChildJvm j = ChildJvm.start(dir, "run-" + jvms.size(), e, List.of(args));
    jvms.add(j);
    return j;
  }

  /** Runs to completion; returns the process for its exit code and output. */
  ChildJvm run(Map<String, String> env, String... args) throws InterruptedException {
    ChildJvm j = start(env, args);
    j.waitFor(Duration.ofSeconds(30));
    return j;
  }

  String state() {
    return dir.resolve("state").toString();
  }

  Path script(String name, String body) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    return p;
  }

  @Test
  void embeddedDemoRunsOneTaskAndExitsZero() throws Exception {
    ChildJvm j = run(Map.of("ATS_DISPATCH_EMBEDDED_PORT", "0"),
        "run", "--embedded", "--agent", "cat", "--demo", "--state-dir", state());
    assertEquals(0, j.process().exitValue(), j.stderr());
    Matcher m = Pattern.compile("(?m)^demo: task #(\\d+) completed$").matcher(j.stdout());
    assertTrue(m.find(), j.stdout());
    // cat echoes the prompt: the outputs printed are the task's real result
    assertTrue(j.stdout().contains("<task-title>\\nSay hello\\n</task-title>"), j.stdout());
    assertTrue(Files.exists(dir.resolve("state/tasks/ats/" + m.group(1) + "/attempt-1.stdout.log")));
  }

  @Test
  void invalidSettingsExitTwoWithOneLineNamingTheKey() throws Exception {
    Path toml = dir.resolve("bad.toml");
    Files.writeString(toml, "concurrency = 2\nbogus_key = 1\n");
    record Case(Map<String, String> env, List<String> args, String key) {}
    List<Case> cases = List.of(
        new Case(Map.of(), List.of("--concurrency", "0"), "concurrency"),
        new Case(Map.of("ATS_DISPATCH_LEASE", "forever"), List.of(), "lease"),
        new Case(Map.of("ATS_DISPATCH_LEASE", "1s"), List.of(), "lease"),
        new Case(Map.of(), List.of("--config", toml.toString()), "bogus_key"),
        new Case(Map.of(), List.of("--transport", "carrier-pigeon"), "transport"),
        new Case(Map.of("ATS_DISPATCH_TELEGRAM_TOKEN_FILE", dir.resolve("no-token").toString()), List.of(),
            "telegram.token"));
    List<ChildJvm> runs = new ArrayList<>();
    for (Case c : cases) {
      List<String> args = new ArrayList<>(List.of("run", "--agent", "cat", "--state-dir", state()));
      args.addAll(c.args());
      runs.add(start(c.env(), args.toArray(String[]::new)));
    }
    for (int i = 0; i < cases.size(); i++) {
      ChildJvm j = runs.get(i);
      Case c = cases.get(i);
      assertEquals(2, j.waitFor(Duration.ofSeconds(30)), c + ": " + j.stderr());
      List<String> err = j.stderrLines();
      assertEquals(1, err.size(), c + ": " + err);
      assertTrue(err.get(0).startsWith("ats-dispatch: invalid setting " + c.key() + ":"), c + ": " + err);
      assertEquals("", j.stdout());
      assertFalse(Files.exists(dir.resolve("state/service.lock")), "nothing started for " + c);
    }
  }

  @Test
  void preflightFailuresExitOneWithOneLine() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Path keys = dir.resolve("open-keys");
    new dev.atsdispatch.crypto.Keyring(keys).ensureDispatchKeyPair();
    Files.setPosixFilePermissions(keys.resolve("dispatch-keys.json"), PosixFilePermissions.fromString("rw-r--r--"));
    record Case(List<String> args, List<String> mentions) {}
    List<Case> cases = List.of(
        new Case(List.of("--agent", dir.resolve("no-such-agent").toString(), "--transport", "http", "--url", server.url()),
            List.of("no-such-agent", "agent.command")),
        new Case(List.of("--agent", "cat", "--transport", "http", "--url", "http://127.0.0.1:1"),
            List.of("not reachable", "127.0.0.1:1")),
        new Case(List.of("--agent", "cat", "--transport", "cli", "--ats-bin", dir.resolve("no-such-ats").toString(),
            "--url", server.url()), List.of("no-such-ats", "ats_bin")),
        new Case(List.of("--agent", "cat", "--transport", "http", "--url", server.url(), "--keys-dir", keys.toString()),
            List.of("dispatch-keys.json", "group or others", "chmod 600 " + keys.resolve("dispatch-keys.json"))));
    List<ChildJvm> runs = new ArrayList<>();
    for (Case c : cases) {
      List<String> args = new ArrayList<>(List.of("run", "--state-dir", state()));
      args.addAll(c.args());
      runs.add(start(Map.of(), args.toArray(String[]::new)));
    }
    for (int i = 0; i < cases.size(); i++) {
      ChildJvm j = runs.get(i);
      Case c = cases.get(i);
      assertEquals(1, j.waitFor(Duration.ofSeconds(30)), c + ": " + j.stderr());
      List<String> err = j.stderrLines();
      assertEquals(1, err.size(), c + ": " + err);
      assertTrue(err.get(0).startsWith("ats-dispatch: preflight failed: "), err.get(0));
      for (String m : c.mentions()) assertTrue(err.get(0).contains(m), "'" + m + "' in: " + err.get(0));
    }
    // the missing ats binary is not reported as a missing agent
    assertFalse(runs.get(2).stderr().contains("agent command"), runs.get(2).stderr());
    assertEquals(0, Http.JSON.readTree(new Http(server.url()).get("/tasks/stats").text())
        .path("stats").path("total").asInt(), "preflight failures touch nothing");
  }

  @Test
  void sigtermStopsAnAgentThatIgnoresTermWithinDrainPlusGrace() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    Http http = new Http(server.url(), "human", "tester", "Tester");
    Path pid = dir.resolve("agent.pid");
    Path agent = script("stubborn.sh",
        "trap '' TERM\nsleep 600 &\necho \"$$ $!\" > " + pid + ".tmp\nmv " + pid + ".tmp " + pid + "\nwait");
    ChildJvm j = start(Map.of("ATS_DISPATCH_DRAIN", "1s", "ATS_DISPATCH_AGENT_GRACE", "1s"),
        "run", "--transport", "http", "--url", server.url(), "--agent", agent.toString(),
        "--state-dir", state(), "--actor-id", "sigterm-test");
    long id = http.create("Ignores TERM", "ada-dispatch");
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!Files.exists(pid) || !ledgerHas(id, "agent_started")) {
      assertTrue(j.process().isAlive(), j.stderr());
      assertTrue(System.nanoTime() < end, "agent did not start: " + j.stderr());
      Thread.sleep(25);
    }
    String[] pids = Files.readString(pid).trim().split(" ");
    long pgid = Long.parseLong(pids[0]);
    long child = Long.parseLong(pids[1]);
    groups.add(pgid);
    assertTrue(ChildJvm.alive(pgid) && ChildJvm.alive(child));

    long t0 = System.nanoTime();
    j.process().destroy(); // SIGTERM
    j.waitFor(Duration.ofSeconds(1 + 1 + 5));
    long tookMs = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(tookMs < 7000, "took " + tookMs + " ms");
    assertTrue(tookMs >= 1000, "the drain was skipped: " + tookMs + " ms");
    assertEquals(List.of(), ChildJvm.groupMembers(pgid), "the agent's process group is gone");
    assertFalse(ChildJvm.alive(child));

    JsonNode t = http.get("/tasks/" + id).task();
    assertEquals("pending", t.path("status").asText(), "interrupted, not failed, and given back: " + t);
    assertTrue(t.path("assignee_id").isNull() || t.path("assignee_id").isMissingNode(), t.toString());
    String ledger = Files.readString(dir.resolve("state/tasks/ats/" + id + "/events.jsonl"));
    assertTrue(ledger.contains("\"outcome\":\"interrupted\",\"strike\":false"), ledger);
    assertTrue(ledger.contains("\"event\":\"released\""), ledger);
  }

  /** Issue 12, finding 2: task text in a plain log line cannot start a line of its own. */
  @Test
  void plainLogLinesEscapeTaskTextThatWouldForgeALine() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http http = new Http(server.url(), "human", "tester", "Tester");
    String forged = "12:00:00.000 INFO  Engine: forged";
    Path agent = script("ok.sh", "cat > /dev/null; echo ok");
    ChildJvm j = start(Map.of(), "run", "--log-format", "plain", "--log-level", "debug", "--transport", "http",
        "--url", server.url(), "--agent", agent.toString(), "--state-dir", state(), "--actor-id", "plain-log");
    // NUL, newline, and the line breaks JSON quoting leaves alone (NEL, LINE SEPARATOR) but log viewers honour
    String evil = "x\u0000\n" + forged + "\u0085" + forged + "\u2028" + forged;
    // the sender of an envelope is quoted in the refusal, which the log reports
    Http.Resp r = http.post("/tasks", Http.JSON.createObjectNode().put("title", evil).put("channel", "ada-dispatch")
        .set("payload", Http.JSON.createObjectNode().put("encrypted", true).put("sender", evil)
            .put("nonce", "AAAA").put("ciphertext", "AAAA")));
    long id = r.task().path("id").asLong();
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!http.get("/tasks/" + id).task().path("status").asText().equals("failed")) {
      assertTrue(System.nanoTime() < end && j.process().isAlive(), j.stderr());
      Thread.sleep(50);
    }
    j.process().destroy();
    j.waitFor(Duration.ofSeconds(15));
    String err = j.stderr();
    assertTrue(err.contains("forged"), "the text was logged (escaped), or this test proves nothing: " + err);
    for (String line : err.split("\n")) assertFalse(line.startsWith(forged), "a forged line: " + line);
    assertFalse(err.contains("\u0000"), "a NUL reached the log");
    assertFalse(err.contains("\u0085") || err.contains("\u2028"), "a line break reached the log: " + err);
  }

  boolean ledgerHas(long id, String event) throws IOException {
    Path f = dir.resolve("state/tasks/ats/" + id + "/events.jsonl");
    return Files.exists(f) && Files.readString(f).contains("\"event\":\"" + event + "\"");
  }

  @Test
  void configShowPrintsEveryKeyWithItsSourceAndEnvBeatsFile() throws Exception {
    Path toml = dir.resolve("dispatch.toml");
    Files.writeString(toml, "concurrency = 7\nlease = \"10m\"\n\n[agent]\ntimeout = \"5m\"\n");
    ChildJvm j = run(Map.of("ATS_DISPATCH_LEASE", "20m"), "config", "show", "--config", toml.toString(),
        "--channel", "from-flag");
    assertEquals(0, j.process().exitValue(), j.stderr());
    Map<String, String[]> shown = new LinkedHashMap<>();
    Pattern line = Pattern.compile("^(\\S+)\\s+= (.*?)\\s+# (.+)$");
    for (String l : j.stdout().lines().toList()) {
      Matcher m = line.matcher(l);
      if (m.matches()) shown.put(m.group(1), new String[] {m.group(2), m.group(3)});
    }
    for (Settings.Key k : Settings.KEYS) {
      assertTrue(shown.containsKey(k.name()), "config show lacks " + k.name() + ":\n" + j.stdout());
    }
    assertEquals(List.of("7", toml.toString()), List.of(shown.get("concurrency")));
    assertEquals(List.of("20m", "env ATS_DISPATCH_LEASE"), List.of(shown.get("lease")));
    assertEquals(List.of("5m", toml.toString()), List.of(shown.get("agent.timeout")));
    assertEquals(List.of("from-flag", "flag"), List.of(shown.get("channel")));
    assertEquals(List.of("3", "default"), List.of(shown.get("max_attempts")));
  }

  @Test
  void configShowPrintsWhatTheAgentProgramResolvesTo() throws Exception {
    // the child starts in dir: ./agent.sh is taken from there
    script("agent.sh", "echo hi");
    Path start = dir.toRealPath();
    ChildJvm j = run(Map.of(), "config", "show", "--agent", "./agent.sh -v", "--keys-dir", dir.resolve("keys").toString());
    assertEquals(0, j.process().exitValue(), j.stderr());
    assertTrue(j.stdout().lines().anyMatch(l -> l.matches("agent\\.program\\s+= " + Pattern.quote(start.resolve("agent.sh").toString())
        + "\\s+# " + Pattern.quote("./agent.sh resolved against " + start))), j.stdout());
    assertTrue(j.stdout().lines().anyMatch(l -> l.matches("agent\\.command\\s+= \\./agent\\.sh -v\\s+# flag")), j.stdout());

    JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        run(Map.of(), "config", "show", "--json", "--agent", "./agent.sh", "--keys-dir", dir.resolve("keys").toString()).stdout());
    assertEquals(start.resolve("agent.sh").toString(), json.path("agent").path("program").asText());
    assertEquals("./agent.sh resolved against " + start, json.path("agent").path("found").asText());
    assertEquals(List.of(), HelpTextTest.undocumented(json, "config show"));

    ChildJvm missing = run(Map.of(), "config", "show", "--agent", "./missing.sh", "--keys-dir", dir.resolve("keys").toString());
    assertTrue(missing.stdout().lines().anyMatch(l -> l.startsWith("agent.program") && l.contains("= not found")
        && l.contains(start.resolve("missing.sh").toString()) && l.contains("resolved against " + start)), missing.stdout());
  }
}
