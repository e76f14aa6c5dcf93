package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class SettingsTest {
  @TempDir Path dir;

  Settings load(Path file, Map<String, String> flags, Map<String, String> env) {
    return Settings.load(file, flags, env, AtsSettings.Flags.NONE, dir, dir);
  }

  @Test
  void defaultsAreTheDocumentedOnes() {
    Settings s = load(null, Map.of(), Map.of());
    assertEquals("ada-dispatch", s.service().channel());
    assertEquals("cli", s.transport());
    assertEquals(Duration.ofMinutes(30), s.service().lease());
    assertEquals(4, s.service().concurrency());
    assertEquals(List.of("claude", "-p"), s.service().agentCommand());
    assertEquals(Duration.ofMinutes(60), s.service().agentTimeout());
    assertNull(s.service().noOutputTimeout());
    assertEquals(Map.of("gpu", 1), s.service().slots());
    assertEquals("default", s.sources().get("lease"));
  }

  @Test
  void flagBeatsEnvBeatsFile() throws Exception {
    Path f = dir.resolve("a.toml");
    Files.writeString(f, "concurrency = 2\nlease = \"10m\"\nchannel = \"from-file\"\n"
        + "[agent]\ncommand = [\"my-agent\", \"--flag\", \"{input}\"]\nno_output_timeout = \"5m\"\n"
        + "[agent.env]\nAPI_KEY = \"s3cret\"\n[slots]\ngpu = 2\nfpga = 1\n");
    Settings s = load(f, Map.of("concurrency", "8"), Map.of("ATS_DISPATCH_LEASE", "1h", "ATS_DISPATCH_CONCURRENCY", "5"));
    assertEquals(8, s.service().concurrency());
    assertEquals("flag", s.sources().get("concurrency"));
    assertEquals(Duration.ofHours(1), s.service().lease());
    assertEquals("env ATS_DISPATCH_LEASE", s.sources().get("lease"));
    assertEquals("from-file", s.service().channel());
    assertEquals(List.of("my-agent", "--flag", "{input}"), s.service().agentCommand());
    assertEquals(Duration.ofMinutes(5), s.service().noOutputTimeout());
    assertEquals(Map.of("API_KEY", "s3cret"), s.service().extraEnv());
    assertEquals(Map.of("gpu", 2, "fpga", 1), s.service().slots());
    String shown = Settings.mask(s.values().get("agent.env"));
    assertFalse(shown.contains("s3cret"), shown);
    assertTrue(shown.contains("API_KEY"), shown);
  }

  @Test
  void badValuesNameTheirKey() throws Exception {
    assertEquals("concurrency: must be from 1 to 1024",
        assertThrows(Settings.InvalidSetting.class, () -> load(null, Map.of("concurrency", "0"), Map.of())).getMessage());
    String lease = assertThrows(Settings.InvalidSetting.class,
        () -> load(null, Map.of(), Map.of("ATS_DISPATCH_LEASE", "forever"))).getMessage();
    assertTrue(lease.startsWith("lease: not a duration") && lease.contains("env ATS_DISPATCH_LEASE"), lease);
    assertTrue(assertThrows(Settings.InvalidSetting.class,
        () -> load(null, Map.of("transport", "grpc"), Map.of())).getMessage().startsWith("transport: must be one of cli, http"));
    Path f = dir.resolve("bad.toml");
    Files.writeString(f, "concurency = 3\n");
    assertTrue(assertThrows(Settings.InvalidSetting.class, () -> load(f, Map.of(), Map.of()))
        .getMessage().startsWith("concurency: unknown key"));
    Files.writeString(f, "concurrency = [\n");
    assertTrue(assertThrows(Settings.InvalidSetting.class, () -> load(f, Map.of(), Map.of()))
        .getMessage().startsWith("config: cannot read"));
    assertTrue(assertThrows(Settings.InvalidSetting.class, () -> load(null,
        Map.of("state_dir", dir.resolve("keys/state").toString(), "keys_dir", dir.resolve("keys").toString()), Map.of()))
        .getMessage().startsWith("state_dir: must not contain or be inside keys_dir"));
  }

  @Test
  void durations() {
    assertEquals(Duration.ofMillis(500), Settings.duration("500ms"));
    assertEquals(Duration.ofMinutes(90), Settings.duration("1h30m"));
    assertEquals(Duration.ofMinutes(30), Settings.duration("PT30M"));
    assertThrows(IllegalArgumentException.class, () -> Settings.duration("30"));
    assertThrows(IllegalArgumentException.class, () -> Settings.duration("10 s"));
  }

  @Test
  void agentCommandFromAFlagIsWordsOrJson() {
    assertEquals(List.of("claude", "-p"), load(null, Map.of("agent.command", "claude -p"), Map.of()).service().agentCommand());
    assertEquals(List.of("sh", "-c", "echo a b"),
        load(null, Map.of("agent.command", "[\"sh\",\"-c\",\"echo a b\"]"), Map.of()).service().agentCommand());
  }

  @Test
  void statusPortIsOnByDefaultOnLoopbackAndCanBeTurnedOff() {
    Settings d = load(null, Map.of(), Map.of());
    assertEquals(7879, d.statusPort().getAsInt());
    assertEquals("127.0.0.1", d.statusHost());
    assertEquals("http://127.0.0.1:7879", d.statusUrl());
    for (String off : new String[] {"off", "", " OFF "}) {
      Settings s = load(null, Map.of(), Map.of("ATS_DISPATCH_STATUS_PORT", off));
      assertTrue(s.statusPort().isEmpty(), "'" + off + "'");
      assertNull(s.statusUrl());
    }
    assertEquals(0, load(null, Map.of(), Map.of("ATS_DISPATCH_STATUS_PORT", "0")).statusPort().getAsInt());
    assertEquals("http://127.0.0.1:9100", load(null, Map.of(),
        Map.of("ATS_DISPATCH_STATUS_PORT", "9100", "ATS_DISPATCH_STATUS_HOST", "0.0.0.0")).statusUrl());
    assertEquals("http://[::1]:9100", load(null, Map.of(),
        Map.of("ATS_DISPATCH_STATUS_PORT", "9100", "ATS_DISPATCH_STATUS_HOST", "::")).statusUrl());
    for (String bad : new String[] {"70000", "-1", "http"}) {
      var e = assertThrows(Settings.InvalidSetting.class,
          () -> load(null, Map.of(), Map.of("ATS_DISPATCH_STATUS_PORT", bad)));
      assertTrue(e.getMessage().startsWith("status.port: "), e.getMessage());
    }
    var e = assertThrows(Settings.InvalidSetting.class,
        () -> load(null, Map.of(), Map.of("ATS_DISPATCH_STATUS_HOST", " ")));
    assertTrue(e.getMessage().startsWith("status.host: "), e.getMessage());
  }

  @Test
  void stateRetentionIsADurationOfAtLeastAnHour() throws Exception {
    Settings d = load(null, Map.of(), Map.of());
    assertEquals(Duration.ofDays(7), d.service().stateRetention());
    assertEquals("7d", d.values().get("state_retention"));
    Path f = dir.resolve("r.toml");
    Files.writeString(f, "state_retention = \"3d\"\n");
    assertEquals(Duration.ofDays(3), load(f, Map.of(), Map.of()).service().stateRetention());
    Settings env = load(f, Map.of(), Map.of("ATS_DISPATCH_STATE_RETENTION", "36h"));
    assertEquals(Duration.ofHours(36), env.service().stateRetention());
    assertEquals("env ATS_DISPATCH_STATE_RETENTION", env.sources().get("state_retention"));
    Settings flag = load(f, Map.of("state_retention", "1h"), Map.of("ATS_DISPATCH_STATE_RETENTION", "36h"));
    assertEquals(Duration.ofHours(1), flag.service().stateRetention());
    assertEquals("flag", flag.sources().get("state_retention"));
    assertEquals("state_retention: must be at least 1h", assertThrows(Settings.InvalidSetting.class,
        () -> load(null, Map.of("state_retention", "59m"), Map.of())).getMessage());
    String bad = assertThrows(Settings.InvalidSetting.class,
        () -> load(null, Map.of(), Map.of("ATS_DISPATCH_STATE_RETENTION", "a week"))).getMessage();
    assertTrue(bad.startsWith("state_retention: not a duration"), bad);
  }

  @Test
  void theStateRetentionFlagReachesTheSettings() {
    SettingsOptions o = new SettingsOptions();
    picocli.CommandLine cl = new picocli.CommandLine(o);
    cl.parseArgs("--state-retention", "2d", "--state-dir", dir.resolve("st").toString(),
        "--keys-dir", dir.resolve("k").toString());
    Settings s = o.load();
    assertEquals(Duration.ofDays(2), s.service().stateRetention());
    assertEquals("flag", s.sources().get("state_retention"));
  }

  @Test
  void agentHomeIsTheAgentsHomeAndARelativeOneIsRefused() throws Exception {
    Settings s = load(null, Map.of(), Map.of("ATS_DISPATCH_AGENT_HOME", "/srv/agent-home",
        "ATS_DISPATCH_AGENT_ENV", "{HOME = \"/elsewhere\", X = \"1\"}"));
    assertEquals(java.nio.file.Path.of("/srv/agent-home"), s.agentHome());
    assertEquals("/srv/agent-home", s.service().extraEnv().get("HOME"), "agent.home wins over agent.env");
    assertEquals("1", s.service().extraEnv().get("X"));
    assertEquals(null, load(null, Map.of(), Map.of()).agentHome());
    Settings.InvalidSetting e = org.junit.jupiter.api.Assertions.assertThrows(Settings.InvalidSetting.class,
        () -> load(null, Map.of(), Map.of("ATS_DISPATCH_AGENT_HOME", "agent-home")));
    assertTrue(e.getMessage().contains("agent.home") && e.getMessage().contains("not an absolute path"), e.getMessage());
  }

  @Test
  void aRelativeAgentProgramIsMadeAbsoluteOnceAgainstTheStartDirectory() throws Exception {
    // dir is the start directory here, not the JVM's working directory
    assertEquals(List.of(dir.resolve("agent.sh").toString(), "-x"),
        load(null, Map.of("agent.command", "./bin/../agent.sh -x"), Map.of()).service().agentCommand());
    assertEquals(List.of(dir.resolve("bin/agent").toString()),
        load(null, Map.of(), Map.of("ATS_DISPATCH_AGENT_COMMAND", "[\"bin/agent\"]")).service().agentCommand());
    assertEquals(List.of(dir.getParent().resolve("up.sh").toString()),
        load(null, Map.of("agent.command", "../up.sh"), Map.of()).service().agentCommand());
    // a bare name stays a PATH lookup; an absolute path and the other arguments stay as given
    assertEquals(List.of("claude", "./not-a-program"),
        load(null, Map.of("agent.command", "claude ./not-a-program"), Map.of()).service().agentCommand());
    assertEquals(List.of("/opt/x/../agent"), Settings.absoluteProgram(List.of("/opt/x/../agent"), dir));
    assertEquals("./agent.sh", load(null, Map.of("agent.command", "./agent.sh"), Map.of()).values().get("agent.command"),
        "config show's agent.command is the value as given");
  }

  @Test
  void theAgentProgramSaysWhereItWasFound() throws Exception {
    Path script = dir.resolve("agent.sh");
    Files.writeString(script, "#!/bin/sh\n");
    Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    Map<String, String> env = Map.of("PATH", "/nonexistent:/bin:/usr/bin");

    Settings.AgentProgram rel = load(null, Map.of("agent.command", "./agent.sh"), Map.of()).agentProgram(env);
    assertEquals(script, rel.path());
    assertEquals("./agent.sh resolved against " + dir, rel.how());

    Settings.AgentProgram missing = load(null, Map.of("agent.command", "./missing.sh"), Map.of()).agentProgram(env);
    assertNull(missing.path());
    assertTrue(missing.how().contains("not found") && missing.how().contains(dir.resolve("missing.sh").toString())
        && missing.how().contains("resolved against " + dir), missing.how());

    Settings.AgentProgram onPath = load(null, Map.of("agent.command", "sh -c true"), Map.of()).agentProgram(env);
    assertTrue(onPath.path().isAbsolute() && onPath.path().getFileName().toString().equals("sh"), onPath.toString());
    assertEquals("found on PATH", onPath.how());
    Settings.AgentProgram notOnPath = load(null, Map.of("agent.command", "no-such-agent-4711"), Map.of()).agentProgram(env);
    assertNull(notOnPath.path());
    assertTrue(notOnPath.how().contains("not found on PATH"), notOnPath.how());

    assertEquals("as given", load(null, Map.of("agent.command", script.toString()), Map.of()).agentProgram(env).how());
  }
}
