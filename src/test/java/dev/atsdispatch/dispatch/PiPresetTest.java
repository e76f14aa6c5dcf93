package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.testing.FakeMessagesApi;
import dev.atsdispatch.testing.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The pi preset with the real pi CLI ({@code @mariozechner/pi-coding-agent} from npm, pinned in
 * src/test/agents), its anthropic provider pointed at a fake Messages API through pi's models.json
 * ({@code providers.anthropic.baseUrl}): the preset's argv ({@code -p --mode json --session
 * <file>}) and its reading of the JSON events (the last assistant text as the response; session,
 * cost, tokens and turns in the outputs), and an API error, on which pi exits 0, as a failed
 * attempt whose retry goes on with the same session file (the API sees the earlier turn again).
 */
@Timeout(120)
final class PiPresetTest extends FakeMessagesApiTestBase {
  static final Path PI = Path.of("src/test/agents/node_modules/.bin/pi").toAbsolutePath();

  Service service;

  @Override
  Path cli() {
    return PI;
  }

  @AfterEach
  void stopService() {
    if (service != null) service.close();
  }

  void startService(int retries) throws Exception {
    startService(retries, null);
  }

  /** With {@code sandbox} (null: none) the agents run in it; pi's home and config are bound in. */
  void startService(int retries, dev.atsdispatch.exec.Sandbox.Mode sandbox) throws Exception {
    ServiceConfig.Builder b = DispatchFixture.config(PI, dir.resolve("state"), dir.resolve("keys"));
    b.agentCommand = List.of(PI.toString(), "--provider", "anthropic", "--model", "claude-sonnet-4-5");
    b.preset = "pi";
    b.retries = retries;
    b.retryBackoff = Duration.ZERO;
    b.extraEnv = piEnv(api, dir);
    Path agentDir = dir.resolve("pi-agent");
    if (sandbox == null) {
      service = DispatchFixture.start(server.url(), b.build(), "ada-pi", dir);
      return;
    }
    Map<String, String> env = Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString());
    dev.atsdispatch.exec.Sandbox box = dev.atsdispatch.exec.Sandbox.create(sandbox, true,
        List.of(Files.createDirectories(dir.resolve("state"),
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"))), dir.resolve("keys")),
        // pi is a node program whose modules sit beside it: bound as agent.ro_binds would bind them,
        // since a checkout under /tmp is hidden by the sandbox's own /tmp
        List.of(PI.getParent().getParent().toRealPath()),
        List.of(agentDir, dir.resolve("pi-home")), env);
    dev.atsdispatch.ats.AtsSettings s = new dev.atsdispatch.ats.AtsSettings(server.url(), "default", "main", false,
        "agent", "ada-pi", "ada-pi");
    service = new Service(b.build(), s, new dev.atsdispatch.ats.HttpAtsClient(s, Duration.ofSeconds(10)),
        new dev.atsdispatch.exec.ProcessAgentRunner(dev.atsdispatch.time.Clock.SYSTEM, Duration.ofMillis(50), box),
        dev.atsdispatch.time.Clock.SYSTEM, env, DispatchFixture.FAST);
    service.start();
  }

  /**
   * The real pi's environment against {@code api}: its anthropic provider pointed there by a
   * models.json in {@code dir/pi-agent}, a dummy key, offline, and a scratch HOME ({@code dir/pi-home}).
   */
  static Map<String, String> piEnv(FakeMessagesApi api, Path dir) throws java.io.IOException {
    Path agentDir = Files.createDirectories(dir.resolve("pi-agent"));
    Files.writeString(agentDir.resolve("models.json"),
        "{\"providers\":{\"anthropic\":{\"baseUrl\":\"" + api.url() + "\"}}}");
    return Map.of("PI_CODING_AGENT_DIR", agentDir.toString(), "ANTHROPIC_API_KEY", "sk-ant-test-not-a-key",
        "PI_OFFLINE", "1", "HOME", Files.createDirectories(dir.resolve("pi-home")).toString());
  }

  Path sessionFile(long id) {
    return dir.resolve("state/tasks/ats/" + id + "/work/.ats-dispatch/pi-session.jsonl").toAbsolutePath();
  }

  JsonNode session(long id) throws Exception {
    return Http.JSON.readTree(dir.resolve("state/tasks/ats/" + id + "/pi-session.json").toFile());
  }

  @Test
  void theLastAssistantTextIsTheResponseAndSessionCostAndTokensAreInTheOutputs() throws Exception {
    api.then(new FakeMessagesApi.Text("Hello from the fake API"));
    startService(0);
    long id = DispatchFixture.create(http, "Summarise the zebra notes", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("Hello from the fake API", out.path("response").asText(), out.toString());
    // the session is the file named before the start; the id pi reports is the one written in it
    assertEquals(sessionFile(id).toString(), session(id).path("id").asText());
    JsonNode header = Http.JSON.readTree(Files.readAllLines(sessionFile(id)).get(0));
    assertEquals(header.path("id").asText(), out.path("session_id").asText(), out.toString());
    assertTrue(out.path("cost_usd").asDouble() > 0, out.toString());
    assertEquals(12, out.path("input_tokens").asInt(), out.toString());
    assertEquals(7, out.path("output_tokens").asInt(), out.toString());
    assertEquals(1, out.path("num_turns").asInt(), out.toString());
    assertFalse(out.path("is_error").asBoolean(true), out.toString());
    assertEquals(1, api.requests().size());
    assertTrue(FakeMessagesApi.userText(api.requests().get(0)).contains("Summarise the zebra notes"));
    dev.atsdispatch.status.MetricsText m = dev.atsdispatch.status.MetricsText.parse(service.engine().metrics().text());
    assertEquals(out.path("cost_usd").asDouble(), m.value("ats_dispatch_agent_cost_usd_total", "backend", "pi"), 1e-12);
    assertEquals(12.0, m.value("ats_dispatch_agent_tokens_total", "backend", "pi", "kind", "input"));
  }

  /**
   * Under bwrap, which hides the state directory from the agent but for the task's work directory,
   * pi still writes its session file (it is in the work directory) and the retry goes on with it.
   */
  @Test
  void inTheSandboxTheSessionFileIsReachableAndTheRetryGoesOnWithIt() throws Exception {
    api.then(new FakeMessagesApi.Error(400, "invalid_request_error", "scripted failure"))
        .then(new FakeMessagesApi.Text("resumed in the sandbox"));
    startService(1, dev.atsdispatch.exec.Sandbox.Mode.BWRAP);
    long id = DispatchFixture.create(http, "Weigh the tapirs", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("resumed in the sandbox", out.path("response").asText(), out.toString());
    assertEquals(2, out.path("attempt").asInt(), out.toString());
    assertTrue(Files.readString(sessionFile(id)).contains("resumed in the sandbox"), "pi wrote no session file");
    assertTrue(FakeMessagesApi.userText(api.requests().get(1)).contains("Weigh the tapirs"));
  }

  @Test
  void anApiErrorOnWhichPiExitsZeroFailsTheAttemptAndTheRetryGoesOnWithTheSameSession() throws Exception {
    api.then(new FakeMessagesApi.Error(400, "invalid_request_error", "scripted failure"))
        .then(new FakeMessagesApi.Text("resumed answer"));
    startService(1);
    long id = DispatchFixture.create(http, "Count the okapis", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("resumed answer", out.path("response").asText(), out.toString());
    assertEquals(2, out.path("attempt").asInt(), out.toString());
    List<JsonNode> finished = DispatchFixture.ledger(dir.resolve("state"), id, "attempt_finished");
    assertEquals("agent_error", finished.get(0).path("outcome").asText(), finished.toString());
    assertEquals(0, finished.get(0).path("exit_code").asInt(-1), "pi exits 0 on an API error: " + finished);
    assertTrue(finished.get(0).path("strike").asBoolean(), finished.toString());
    List<JsonNode> seen = api.requests();
    assertEquals(2, seen.size());
    String second = FakeMessagesApi.userText(seen.get(1));
    assertTrue(second.contains("Count the okapis"), "the session lost the first turn: " + second);
    assertTrue(second.contains(Preset.CONTINUE), second);
  }
}
