package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.NatsServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ats-dispatch agentbus setup, publish, results} against a real nats-server. */
@Timeout(60)
final class AgentbusCommandsTest {
  @TempDir Path dir;

  record Run(int rc, String out, String err) {}

  static Run run(String... args) {
    List<String> a = new ArrayList<>(List.of("agentbus", "setup"));
    a.addAll(List.of(args));
    return exec(a);
  }

  static Run exec(List<String> a) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return new Run(cl.execute(a.toArray(String[]::new)), out.toString(), err.toString());
  }

  @Test
  void setsUpOnceThenReportsNothingToDoAndSaysWhatIsWrong() throws Exception {
    try (NatsServer nats = NatsServer.start(dir)) {
      Run first = run("--nats-url", nats.url(), "--agent", "agent-code", "--ack-wait", "45s");
      assertEquals(0, first.rc(), first.err());
      assertEquals(List.of("stream AGENT_TASKS: created ([agent.*.tasks], max age 7 d)",
          "stream AGENT_RESULTS: created ([agent.*.results], max age 30 d)",
          "consumer code: created (agent.code.tasks, ack wait 45 s, max deliver 4)"), first.out().lines().toList());
      Run again = run("--nats-url", nats.url(), "--agent", "code", "--ack-wait", "45s");
      assertEquals(0, again.rc(), again.err());
      assertEquals(List.of("stream AGENT_TASKS: unchanged", "stream AGENT_RESULTS: unchanged", "consumer code: unchanged"),
          again.out().lines().toList());
      Run bad = run("--nats-url", nats.url(), "--agent", "code", "--max-deliver", "0");
      assertEquals(2, bad.rc());
      assertEquals("ats-dispatch: agentbus setup: max deliver must be at least 1", bad.err().strip());
      nats.kill();
      Run down = run("--nats-url", nats.url(), "--agent", "code", "--timeout", "2s");
      assertEquals(1, down.rc());
      assertTrue(down.err().startsWith("ats-dispatch: agentbus setup: Unable to connect to NATS servers"), down.err());
    }
  }

  /** {@code agentbus publish}: agentbus's message on agentbus's subject, kept by the stream, and printed as agentbus prints it. */
  @Test
  void publishesWhatAgentbusPublishesAndSaysWhenNoStreamKeepsIt() throws Exception {
    try (NatsServer nats = NatsServer.start(dir)) {
      Run lost = exec(List.of("agentbus", "publish", "hello", "--nats-url", nats.url(), "--to", "code", "--task-type", "ask"));
      assertEquals(1, lost.rc());
      assertEquals("ats-dispatch: agentbus publish: no stream keeps agent.code.tasks (run ats-dispatch agentbus setup)",
          lost.err().strip());
      assertEquals(0, run("--nats-url", nats.url(), "--agent", "code").rc());
      Run two = exec(List.of("agentbus", "publish", "{\"q\": \"ünï\"}", "--nats-url", nats.url(), "--to", "agent-code",
          "--to", "doc", "--task-type", "review", "--payload-fmt", "json", "--from", "lead"));
      assertEquals(0, two.rc(), two.err());
      com.fasterxml.jackson.databind.JsonNode printed = new com.fasterxml.jackson.databind.ObjectMapper().readTree(two.out());
      assertEquals(2, printed.size());
      assertEquals("agent-code", printed.get(0).path("to").asText());
      assertEquals("agent-lead", printed.get(0).path("reply_to").asText());
      assertTrue(printed.get(0).path("id").asText().matches("task-[0-9a-f-]{36}"), printed.toString());
      try (io.nats.client.Connection nc = io.nats.client.Nats.connect(nats.url())) {
        io.nats.client.api.MessageInfo m = nc.jetStreamManagement().getMessage("AGENT_TASKS", 1);
        assertEquals("agent.code.tasks", m.getSubject());
        String stored = new String(m.getData(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(two.out().startsWith("[" + stored + ","), "printed as stored: " + two.out() + " / " + stored);
        assertEquals("{\"id\":" + printed.get(0).path("id").toString() + ",\"from\":\"agent-lead\",\"to\":\"agent-code\","
            + "\"type\":\"task.request\",\"task_type\":\"review\",\"payload\":{\"fmt\":\"json\",\"content\":{\"q\":\"ünï\"}},"
            + "\"reply_to\":\"agent-lead\"}", stored);
      }
      Run bad = exec(List.of("agentbus", "publish", "{not json", "--nats-url", nats.url(), "--to", "code", "--task-type", "x",
          "--payload-fmt", "json"));
      assertEquals(2, bad.rc());
      assertEquals("ats-dispatch: agentbus publish: content must be valid JSON when --payload-fmt json is used", bad.err().strip());
    }
  }

  /** {@code agentbus setup --config}: an agentbus user's worker file gives the server, the durable and the subject. */
  @Test
  void takesTheServerAndTheConsumerFromAnAgentbusConfigFile() throws Exception {
    try (NatsServer nats = NatsServer.start(dir)) {
      java.nio.file.Path toml = dir.resolve("agentbus.toml");
      java.nio.file.Files.writeString(toml, "[agent]\nid = \"agent-doc\"\nchat_cmd = [\"pi\", \"{input}\"]\n"
          + "[nats]\nurl = \"" + nats.url() + "\"\ndurable = \"doc-workers\"\n");
      Run r = run("--config", toml.toString());
      assertEquals(0, r.rc(), r.err());
      assertEquals("consumer doc-workers: created (agent.doc.tasks, ack wait 30 s, max deliver 4)", r.out().lines().toList().get(2));
      java.nio.file.Files.writeString(toml, "[agent]\nid = \"x\"\n");
      Run bad = run("--config", toml.toString());
      assertEquals(2, bad.rc());
      assertEquals("ats-dispatch: agentbus setup: missing required config fields: nats_url, agent_chat_cmd", bad.err().strip());
    }
  }

  /** {@code agentbus results}: the newest N for one agent, oldest first, others' results and a bad one told apart. */
  @Test
  void printsTheNewestResultsOfOneAgentOldestFirst() throws Exception {
    try (NatsServer nats = NatsServer.start(dir)) {
      assertEquals(0, run("--nats-url", nats.url(), "--agent", "code").rc());
      try (io.nats.client.Connection nc = io.nats.client.Nats.connect(nats.url())) {
        io.nats.client.JetStream js = nc.jetStream();
        for (int i = 1; i <= 4; i++) {
          js.publish("agent.main.results", ("{\"id\":\"r" + i + "\",\"type\":\"task.result\",\"status\":\"completed\",\"result\":\"é " + i + "\"}")
              .getBytes(java.nio.charset.StandardCharsets.UTF_8));
          js.publish("agent.other.results", "{\"id\":\"x\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        Run two = exec(List.of("agentbus", "results", "--nats-url", nats.url(), "--agent", "agent-main", "--limit", "2"));
        assertEquals(0, two.rc(), two.err());
        assertEquals(List.of("{\"id\":\"r3\",\"type\":\"task.result\",\"status\":\"completed\",\"result\":\"é 3\"}",
            "{\"id\":\"r4\",\"type\":\"task.result\",\"status\":\"completed\",\"result\":\"é 4\"}"), two.out().lines().toList());
        Run none = exec(List.of("agentbus", "results", "--nats-url", nats.url(), "--agent", "nobody"));
        assertEquals(0, none.rc(), none.err());
        assertEquals("", none.out());
        js.publish("agent.main.results", "[1]".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Run bad = exec(List.of("agentbus", "results", "--nats-url", nats.url(), "--agent", "main"));
        assertEquals(1, bad.rc());
        assertEquals("ats-dispatch: agentbus results: result message must be a JSON object", bad.err().strip());
        Run zero = exec(List.of("agentbus", "results", "--nats-url", nats.url(), "--agent", "main", "--limit", "0"));
        assertEquals(2, zero.rc());
        assertEquals("ats-dispatch: agentbus results: limit must be positive", zero.err().strip());
      }
    }
  }

  /** {@code agentbus results --watch}: the stored ones, then a new one as it comes. */
  @Test
  void watchPrintsNewResultsAsTheyCome() throws Exception {
    try (NatsServer nats = NatsServer.start(dir)) {
      assertEquals(0, run("--nats-url", nats.url(), "--agent", "code").rc());
      try (io.nats.client.Connection nc = io.nats.client.Nats.connect(nats.url())) {
        io.nats.client.JetStream js = nc.jetStream();
        js.publish("agent.main.results", "{\"id\":\"old\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        StringWriter out = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(new StringWriter(), true));
        Thread watcher = new Thread(() -> cl.execute("agentbus", "results", "--nats-url", nats.url(), "--agent", "main", "--watch"));
        watcher.setDaemon(true);
        watcher.start();
        dev.atsdispatch.testing.Wait.until("the stored result", () -> out.toString().contains("\"old\""));
        js.publish("agent.main.results", "{\"id\":\"new\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        dev.atsdispatch.testing.Wait.until("the new result", () -> out.toString().contains("\"new\""));
        assertEquals(List.of("{\"id\":\"old\"}", "{\"id\":\"new\"}"), out.toString().lines().toList());
        watcher.interrupt();
        watcher.join(10_000);
      }
    }
  }
}
