package dev.atsdispatch.source.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** agentbus's worker config, read as agentbus reads it; string commands split as python3's shlex splits them. */
final class AgentbusConfigTest {
  @TempDir Path dir;

  Path write(String name, String toml) throws Exception {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, toml);
    return p;
  }

  String error(String toml) throws Exception {
    Path f = write("bad.toml", toml);
    return assertThrows(IllegalArgumentException.class, () -> AgentbusConfig.load(f, dir, dir)).getMessage();
  }

  @Test
  void aMinimalFileGetsAgentbussDefaults() throws Exception {
    Path f = write("agentbus.toml", "[agent]\nid = \"agent-code\"\nchat_cmd = [\"claude\", \"-p\", \"{input}\"]\n"
        + "[nats]\nurl = \"nats://127.0.0.1:4222\"\n");
    AgentbusConfig c = AgentbusConfig.load(null, dir, dir.resolve("home"));
    assertEquals(f, c.file(), "./agentbus.toml is found first");
    assertEquals(List.of("claude", "-p", "{input}"), c.chatCmd());
    assertEquals("code", c.durable());
    assertEquals("agent.code.tasks", c.taskSubject());
    assertEquals("AGENT_TASKS", c.stream());
    assertEquals("agent.main.results", c.defaultResultSubject());
    assertEquals(1800, c.taskTimeoutSeconds());
    assertEquals(1_048_576, c.maxTaskBytes());
    assertEquals(2, c.reconnectTimeWaitSeconds());
    assertEquals(-1, c.maxReconnectAttempts());
    assertEquals("", c.extraInstruction());
    assertEquals(dir.resolve("home/.agentbus/logs").toString(), c.logDir());
  }

  @Test
  void theHomeFileIsFoundWhenThereIsNoneHereAndNoneAtAllIsSaidPlainly() throws Exception {
    Path home = dir.resolve("home");
    Path cwd = Files.createDirectories(dir.resolve("cwd"));
    assertEquals("config file is required; pass --config or create ~/.agentbus/config.toml",
        assertThrows(IllegalArgumentException.class, () -> AgentbusConfig.load(null, cwd, home)).getMessage());
    Path f = write("home/.agentbus/config.toml", "[agent]\nid = \"x\"\nchat_cmd = \"pi -p {input}\"\n[nats]\nurl = \"nats://h\"\n"
        + "[worker]\ntask_timeout_seconds = \"60\"\n");
    AgentbusConfig c = AgentbusConfig.load(null, cwd, home);
    assertEquals(f, c.file());
    assertEquals(List.of("pi", "-p", "{input}"), c.chatCmd());
    assertEquals(60, c.taskTimeoutSeconds(), "int() of a string");
  }

  @Test
  void mistakesAreNamedInAgentbussWords() throws Exception {
    assertEquals("missing required config fields: agent_id, nats_url, agent_chat_cmd", error("[agent]\n"));
    assertEquals("unknown config fields: limits, timeout", error("[agent]\nid=\"a\"\ntimeout=3\n[limits]\nx=1\n"));
    assertEquals("config section [nats] must be a table", error("nats = \"nats://h\"\n"));
    assertEquals("agent_chat_cmd must include the literal {input} placeholder",
        error("[agent]\nid=\"a\"\nchat_cmd=[\"claude\",\"-p\"]\n[nats]\nurl=\"nats://h\"\n"));
    assertEquals("agent_chat_cmd must be a string or list of strings",
        error("[agent]\nid=\"a\"\nchat_cmd=[\"x\", 3]\n[nats]\nurl=\"nats://h\"\n"));
    assertEquals("missing required config fields: agent_chat_cmd", error("[agent]\nid=\"a\"\nchat_cmd=[]\n[nats]\nurl=\"nats://h\"\n"));
  }

  @Test
  void aStringCommandSplitsAsPythonsShlexSplitsIt() throws Exception {
    List<String> cases = List.of("claude -p {input}", "agent-cli run --prompt '{input}' --json",
        "a \"b c\" d\\ e 'f \"g\"' \"h \\\"i\\\" \\\\ \\$j\"", "  spaced\tout  ", "x'y'z\"w\"", "un\\'quoted");
    String script = "import shlex,sys,json\nfor c in json.load(sys.stdin): print(json.dumps(shlex.split(c)))";
    Process p = new ProcessBuilder("python3", "-c", script).start();
    p.getOutputStream().write(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(cases));
    p.getOutputStream().close();
    List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    p.waitFor(30, TimeUnit.SECONDS);
    assertEquals(cases.size(), lines.size());
    for (int i = 0; i < cases.size(); i++) {
      List<String> expected = new ArrayList<>();
      new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines.get(i)).forEach(n -> expected.add(n.asText()));
      assertEquals(expected, Shlex.split(cases.get(i)), cases.get(i));
    }
    assertEquals("agent_chat_cmd: No closing quotation",
        assertThrows(IllegalArgumentException.class, () -> Shlex.split("a 'b")).getMessage());
  }
}
