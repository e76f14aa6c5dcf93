package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.testing.FakeResponsesApi;
import dev.atsdispatch.testing.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The codex preset with the real Codex CLI ({@code @openai/codex} from npm, its native binary,
 * pinned in src/test/agents) against a fake Responses API, configured as a model provider of its
 * own ({@code -c model_providers.fake={base_url=...}}): the preset's argv ({@code exec --json}) and
 * its reading of the JSONL events (the last agent message as the response; thread, tokens and
 * turns in the outputs), and a failed attempt whose retry resumes the same thread ({@code exec
 * resume}; the API sees the earlier turn again).
 */
@Timeout(120)
final class CodexPresetTest {
  static final Path CODEX = Path.of("src/test/agents/node_modules/.bin/codex").toAbsolutePath();

  @TempDir Path dir;
  DevServer server;
  Http http;
  FakeResponsesApi api;
  Service service;

  @BeforeEach
  void start() throws Exception {
    assertTrue(Files.isExecutable(CODEX), CODEX + " is missing: the build installs it (mvn process-test-resources)");
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    api = FakeResponsesApi.start();
  }

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (api != null) api.close();
    if (server != null) server.close();
  }

  void startService(int retries) throws Exception {
    ServiceConfig.Builder b = DispatchFixture.config(CODEX, dir.resolve("state"), dir.resolve("keys"));
    b.agentCommand = List.of(CODEX.toString(), "-c", "model_provider=\"fake\"",
        "-c", "model_providers.fake={name=\"fake\",base_url=\"" + api.url() + "\",wire_api=\"responses\","
            + "env_key=\"FAKE_OPENAI_KEY\",request_max_retries=0,stream_max_retries=0}",
        "-c", "model=\"gpt-fake\"");
    b.preset = "codex";
    b.agentMode = "auto";
    b.retries = retries;
    b.retryBackoff = Duration.ZERO;
    Path home = Files.createDirectories(dir.resolve("codex-home"));
    b.extraEnv = Map.of("FAKE_OPENAI_KEY", "sk-test-not-a-key", "HOME", home.toString(), "CODEX_HOME", home.toString());
    service = DispatchFixture.start(server.url(), b.build(), "ada-codex", dir);
  }

  JsonNode session(long id) throws Exception {
    return Http.JSON.readTree(dir.resolve("state/tasks/ats/" + id + "/codex-session.json").toFile());
  }

  @Test
  void theLastAgentMessageIsTheResponseAndThreadTokensAndTurnsAreInTheOutputs() throws Exception {
    api.then(new FakeResponsesApi.Text("Hello from the fake Responses API"));
    startService(0);
    long id = DispatchFixture.create(http, "Summarise the zebra notes", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("Hello from the fake Responses API", out.path("response").asText(), out.toString());
    assertEquals(session(id).path("id").asText(), out.path("session_id").asText(), out.toString());
    assertTrue(session(id).path("begun").asBoolean(), session(id).toString());
    assertEquals(12, out.path("input_tokens").asInt(), out.toString());
    assertEquals(7, out.path("output_tokens").asInt(), out.toString());
    assertEquals(3, out.path("cache_read_input_tokens").asInt(), out.toString());
    assertEquals(1, out.path("num_turns").asInt(), out.toString());
    assertFalse(out.path("is_error").asBoolean(true), out.toString());
    assertFalse(out.has("cost_usd"), "codex reports no cost: " + out);
    assertEquals(1, api.requests().size(), api.paths().toString());
    assertTrue(FakeResponsesApi.userText(api.requests().get(0)).contains("Summarise the zebra notes"));
  }

  @Test
  void aFailedAttemptsRetryResumesTheSameThread() throws Exception {
    api.then(new FakeResponsesApi.Error(400, "invalid_request_error", "scripted", "scripted failure"))
        .then(new FakeResponsesApi.Text("resumed answer"));
    startService(1);
    long id = DispatchFixture.create(http, "Count the okapis", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("resumed answer", out.path("response").asText(), out.toString());
    assertEquals(2, out.path("attempt").asInt(), out.toString());
    assertEquals(session(id).path("id").asText(), out.path("session_id").asText());
    List<JsonNode> seen = api.requests();
    assertEquals(2, seen.size());
    String second = FakeResponsesApi.userText(seen.get(1));
    assertTrue(second.contains("Count the okapis"), "the resumed thread lost the first turn: " + second);
    assertTrue(second.contains(Preset.CONTINUE), second);
    List<JsonNode> finished = DispatchFixture.ledger(dir.resolve("state"), id, "attempt_finished");
    assertEquals("exited", finished.get(0).path("outcome").asText(), finished.toString());
  }
}
