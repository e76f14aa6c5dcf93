package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.source.nats.NatsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code source = nats}: from the nats.* keys, or from an agentbus worker file; and what is refused. */
final class NatsSettingsKeysTest {
  @TempDir Path dir;

  Settings load(Map<String, String> flags, Map<String, String> env) {
    return Settings.load(null, flags, env, AtsSettings.Flags.NONE, dir, dir);
  }

  @Test
  void anAtsChannelIsTheDefaultAndHasNoNatsSettings() {
    assertNull(load(Map.of(), Map.of()).nats());
  }

  @Test
  void theNatsKeysMakeTheWorkerIdentity() {
    Settings s = load(Map.of(), Map.of("ATS_DISPATCH_SOURCE", "nats", "ATS_DISPATCH_NATS_URL", "nats://u:secret@127.0.0.1:4222",
        "ATS_DISPATCH_NATS_AGENT_ID", "agent-code", "ATS_DISPATCH_NATS_ACK_WAIT", "45s"));
    NatsSettings n = s.nats();
    assertEquals("code", n.agent());
    assertEquals("code", n.durable());
    assertEquals("agent.code.tasks", n.taskSubject());
    assertEquals("AGENT_TASKS", n.stream());
    assertEquals("agent.main.results", n.defaultResultSubject());
    assertEquals(Duration.ofSeconds(45), n.ackWait());
    assertEquals(4, n.maxDeliver(), "max_attempts + the delivery that reports the poison");
    assertEquals("agent.code.tasks", s.service().channel());
    assertTrue(!n.toString().contains("secret"), n.toString());
  }

  @Test
  void aNatsSourceNeedsAUrlAndAnAgentId() {
    var e = assertThrows(Settings.InvalidSetting.class, () -> load(Map.of("source", "nats"), Map.of()));
    assertEquals("nats.url: is required with source = nats", e.getMessage());
    e = assertThrows(Settings.InvalidSetting.class,
        () -> load(Map.of("source", "nats", "nats.url", "nats://127.0.0.1:4222"), Map.of()));
    assertEquals("nats.agent_id: is required with source = nats", e.getMessage());
    e = assertThrows(Settings.InvalidSetting.class, () -> load(Map.of("source", "nats", "nats.url", "nats://h:4222",
        "nats.agent_id", "a.b"), Map.of()));
    assertTrue(e.getMessage().contains("cannot be a subject token"), e.getMessage());
    e = assertThrows(Settings.InvalidSetting.class, () -> load(Map.of("source", "kafka"), Map.of()));
    assertTrue(e.getMessage().startsWith("source: "), e.getMessage());
  }

  @Test
  void anAgentbusFileGivesTheSourceTheAgentAndItsTimeoutUnlessAFlagSaysOtherwise() throws Exception {
    Path f = dir.resolve("agentbus.toml");
    Files.writeString(f, """
        [agent]
        id = "doc"
        chat_cmd = "/usr/bin/doc-agent --prompt {input}"
        extra_instruction = "Answer in French."
        [worker]
        task_timeout_seconds = 90
        [nats]
        url = "nats://127.0.0.1:4222"
        durable = "doc-workers"
        """);
    Settings s = load(Map.of("agentbus_config", f.toString()), Map.of());
    assertEquals(List.of("/usr/bin/doc-agent", "--prompt", "{input}"), s.service().agentCommand());
    assertEquals(Duration.ofSeconds(90), s.service().agentTimeout());
    assertEquals("doc-workers", s.nats().durable());
    assertEquals("agent.doc.tasks", s.nats().taskSubject());
    assertEquals("Answer in French.", s.nats().extraInstruction());

    Settings flagged = load(Map.of("agentbus_config", f.toString(), "agent.timeout", "5m"), Map.of());
    assertEquals(Duration.ofMinutes(5), flagged.service().agentTimeout());

    Files.writeString(f, "[agent]\nid = \"doc\"\nchat_cmd = [\"x\"]\n[nats]\nurl = \"nats://h\"\n");
    var e = assertThrows(Settings.InvalidSetting.class, () -> load(Map.of("agentbus_config", f.toString()), Map.of()));
    assertEquals("agentbus_config: agent_chat_cmd must include the literal {input} placeholder", e.getMessage());
  }
}
