package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/systemd: the unit passes {@code systemd-analyze verify} (with ExecStart pointed at a
 * script that exists here), and its stop timeout, paths and environment agree with the settings.
 */
@Timeout(60)
final class SystemdUnitTest {
  static final Path UNIT = Path.of("deploy/systemd/ats-dispatch.service");
  static final Path ENV_EXAMPLE = Path.of("deploy/systemd/ats-dispatch.env.example");

  @TempDir Path dir;

  record Verified(int exit, String output) {}

  /** The unit with its ExecStart executable replaced by a script in the temp dir, verified. */
  Verified verify(String unitText) throws Exception {
    Path java = dir.resolve("java");
    Files.writeString(java, "#!/bin/sh\nexit 0\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
    String exec = exec(unitText);
    String rewritten = unitText.replace("ExecStart=" + exec.split(" ")[0], "ExecStart=" + java);
    Path unit = dir.resolve("ats-dispatch.service");
    Files.writeString(unit, rewritten);
    Process p = new ProcessBuilder("systemd-analyze", "verify", "--man=no", unit.toString())
        .redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "systemd-analyze verify did not finish");
    // only what it says about our unit counts; a host may have complaints about its own units
    String ours = out.lines().filter(l -> l.contains("ats-dispatch")).reduce("", (a, b) -> a + b + "\n");
    return new Verified(p.exitValue(), ours);
  }

  static String exec(String unitText) {
    return values(unitText, "ExecStart").get(0);
  }

  static List<String> values(String unitText, String key) {
    List<String> out = new ArrayList<>();
    for (String l : unitText.lines().toList()) {
      if (l.startsWith(key + "=")) out.add(l.substring(key.length() + 1).trim());
    }
    return out;
  }

  static String value(String unitText, String key) {
    List<String> v = values(unitText, key);
    assertEquals(1, v.size(), key + " set once: " + v);
    return v.get(0);
  }

  /** Environment= lines as a map (quotes around a whole assignment removed). */
  static Map<String, String> environment(String unitText) {
    Map<String, String> env = new LinkedHashMap<>();
    for (String v : values(unitText, "Environment")) {
      String a = v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1).replace("\\\"", "\"") : v;
      int eq = a.indexOf('=');
      env.put(a.substring(0, eq), a.substring(eq + 1));
    }
    return env;
  }

  @Test
  void theUnitPassesSystemdAnalyzeVerify() throws Exception {
    String unit = Files.readString(UNIT);
    assertEquals("/usr/bin/java", exec(unit).split(" ")[0]);
    assertTrue(exec(unit).contains(" -jar /opt/ats-dispatch/ats-dispatch.jar run --config /etc/ats-dispatch/"),
        exec(unit));
    Verified v = verify(unit);
    assertEquals(0, v.exit(), v.output());
    assertEquals("", v.output(), "no warnings about the unit");
  }

  @Test
  void verifyCatchesAnUnknownKeyAndAMissingExecutable() throws Exception {
    // the check above can fail: the same verify flags what a typo or a missing binary would be
    String unit = Files.readString(UNIT);
    Verified typo = verify(unit.replace("KillMode=mixed", "KillMode=mixed\nKilMode=mixed"));
    assertTrue(typo.output().contains("KilMode"), typo.output());
    Path missing = dir.resolve("no-such-java");
    Path unitFile = dir.resolve("missing/ats-dispatch.service");
    Files.createDirectories(unitFile.getParent());
    Files.writeString(unitFile, unit.replace("ExecStart=/usr/bin/java", "ExecStart=" + missing));
    Process p = new ProcessBuilder("systemd-analyze", "verify", "--man=no", unitFile.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    assertNotEquals(0, p.exitValue(), out);
    assertTrue(out.contains("no-such-java"), out);
  }

  @Test
  void stoppingLetsTheServiceDrainAndStopItsOwnAgents() throws IOException {
    String unit = Files.readString(UNIT);
    assertEquals("mixed", value(unit, "KillMode"), "TERM to the JVM only; KILL to the rest after the timeout");
    Duration stop = Settings.duration(value(unit, "TimeoutStopSec"));
    Duration drain = Settings.duration(default_("drain"));
    Duration grace = Settings.duration(default_("agent.grace"));
    Duration needed = drain.plus(grace).plusSeconds(5); // run exits within drain + grace + 5 s
    assertTrue(stop.compareTo(needed.plusSeconds(30)) >= 0,
        "TimeoutStopSec " + stop + " must leave a margin over drain + grace + 5s = " + needed);
    assertEquals("always", value(unit, "Restart"));
    assertTrue(Settings.duration(value(unit, "RestartSec")).toSeconds() >= 1, "restarts back off");
    assertTrue(values(unit, "StartLimitBurst").size() == 1 && values(unit, "StartLimitIntervalSec").size() == 1,
        "a start limit in [Unit]");
    assertEquals("2", value(unit, "RestartPreventExitStatus"), "an invalid setting is not retried");
    assertTrue(value(unit, "SuccessExitStatus").contains("143"));
  }

  @Test
  void hardeningAndPathsAgreeWithTheSettings() throws IOException {
    String unit = Files.readString(UNIT);
    assertEquals("ats-dispatch", value(unit, "User"));
    assertEquals("yes", value(unit, "NoNewPrivileges"));
    assertEquals("strict", value(unit, "ProtectSystem"));
    assertEquals("yes", value(unit, "PrivateTmp"));
    assertEquals("yes", value(unit, "ProtectHome"));
    List<String> stateDirs = List.of(value(unit, "StateDirectory").split("\\s+"));
    String stateRoot = "/var/lib/" + stateDirs.get(0);
    Map<String, String> env = environment(unit);
    // every ATS_DISPATCH_* variable the unit sets is one the service reads
    List<String> known = new ArrayList<>(List.of("ATS_DISPATCH_LOG_FORMAT", "ATS_DISPATCH_LOG_LEVEL"));
    Settings.KEYS.forEach(k -> known.add(k.env()));
    env.keySet().stream().filter(k -> k.startsWith("ATS_DISPATCH_"))
        .forEach(k -> assertTrue(known.contains(k), k + " is not a setting"));
    String state = env.get("ATS_DISPATCH_STATE_DIR");
    String keys = env.get("ATS_DISPATCH_KEYS_DIR");
    assertTrue(state.startsWith(stateRoot + "/"), "state under StateDirectory (writable): " + state);
    assertTrue(env.get("HOME").equals(stateRoot), "agents get a writable HOME despite ProtectHome");
    assertTrue(List.of(value(unit, "ReadWritePaths").split("\\s+")).contains(keys),
        "keys_dir writable under ProtectSystem=strict: " + keys);
    assertTrue(!keys.startsWith(stateRoot) && !keys.startsWith(env.get("HOME")), "agents work under state, never keys");
    assertEquals(value(unit, "WorkingDirectory"), stateRoot);
    // agents: sandboxed, with a HOME of their own that exists (StateDirectory) and is bound writable
    assertEquals("bwrap", env.get("ATS_DISPATCH_AGENT_SANDBOX"));
    String agentHome = env.get("ATS_DISPATCH_AGENT_HOME"); // bound writable in the sandbox
    assertEquals(stateRoot + "/agent-home", agentHome);
    assertTrue(stateDirs.contains(agentHome.substring("/var/lib/".length())), "created by systemd: " + stateDirs);
    assertTrue(!agentHome.startsWith(state) && !agentHome.startsWith(keys), "the agents' HOME holds no state or keys");
    assertTrue(value(unit, "EnvironmentFile").endsWith("/etc/ats-dispatch/ats-dispatch.env"));
  }

  @Test
  void theEnvironmentExampleHoldsOnlyAssignmentsWithPlaceholders() throws IOException {
    List<String> names = new ArrayList<>();
    for (String l : Files.readAllLines(ENV_EXAMPLE)) {
      String t = l.trim();
      if (t.isEmpty() || t.startsWith("#")) continue;
      assertTrue(t.matches("[A-Z_][A-Z0-9_]*=.*"), "not NAME=value: " + l);
      names.add(t.substring(0, t.indexOf('=')));
    }
    assertTrue(names.contains("ATS_URL"), names.toString());
    String text = Files.readString(ENV_EXAMPLE);
    assertTrue(text.contains("0600"), "says how to install it");
  }

  @Test
  void secretsAreCredentialsAndNeverInTheEnvironment() throws IOException {
    String unit = Files.readString(UNIT);
    List<String> secretEnv = new ArrayList<>();
    List<String> secretKeys = new ArrayList<>();
    for (Settings.Key k : Settings.KEYS) {
      if (!k.secret()) continue;
      secretKeys.add(k.name());
      secretEnv.add(k.env());
      secretEnv.add(k.env() + "_FILE");
    }
    List<String> ids = new ArrayList<>();
    for (String c : values(unit, "LoadCredential")) {
      String id = c.substring(0, c.indexOf(':'));
      assertTrue(secretKeys.contains(id), "a credential ats-dispatch reads is named after a secret key: " + c);
      assertEquals("/etc/ats-dispatch/credentials/" + id, c.substring(c.indexOf(':') + 1));
      ids.add(id);
    }
    assertEquals(List.of("telegram.token", "telegram.chat_id", "callback.secret"), ids);
    assertTrue(unit.contains("#LoadCredential=agent.env:/etc/ats-dispatch/credentials/agent.env"), "agent.env offered");
    for (String name : environment(unit).keySet()) assertFalse(secretEnv.contains(name), "secret in Environment=: " + name);
    for (String l : Files.readAllLines(ENV_EXAMPLE)) {
      String t = l.trim();
      if (t.isEmpty() || t.startsWith("#")) continue;
      String name = t.substring(0, t.indexOf('='));
      assertFalse(secretEnv.contains(name), "secret in the environment file: " + l);
    }
  }

  static String default_(String key) {
    return Settings.KEYS.stream().filter(k -> k.name().equals(key)).findFirst().orElseThrow().defaultValue();
  }
}
