package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.exec.ClaudePreset;
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
 * The claude preset with the real Claude Code CLI ({@code @anthropic-ai/claude-code} from npm,
 * pinned in src/test/agents) against a fake Messages API: the preset's argv and its reading of
 * stream-json (the final result as the response; session, cost and tokens in the outputs), and a
 * failed attempt whose retry resumes the same session (the API sees the earlier turn again).
 */
@Timeout(120)
final class ClaudePresetTest extends FakeMessagesApiTestBase {
  static final Path CLAUDE = Path.of("src/test/agents/node_modules/.bin/claude").toAbsolutePath();

  Service service;

  @Override
  Path cli() {
    return CLAUDE;
  }

  @AfterEach
  void stopService() {
    if (service != null) service.close();
  }

  void startService(int retries) throws Exception {
    startService(retries, "standard");
  }

  void startService(int retries, String mode) throws Exception {
    ServiceConfig.Builder b = DispatchFixture.config(CLAUDE, dir.resolve("state"), dir.resolve("keys"));
    b.preset = "claude";
    b.agentMode = mode;
    b.retries = retries;
    b.retryBackoff = Duration.ZERO;
    b.limitBackoff = Duration.ofSeconds(2); // a reset already past when the limit is seen (a slow start) waits this
    if (progressEvery != null) b.progressEvery = progressEvery;
    b.extraEnv = claudeEnv(api, dir);
    service = DispatchFixture.start(server.url(), b.build(), "ada-claude", dir);
  }

  /**
   * The real claude's environment against {@code api}: a dummy key, no traffic but the API's, no
   * retries of its own (a 429 comes straight back), and a scratch HOME under {@code dir}.
   */
  static Map<String, String> claudeEnv(FakeMessagesApi api, Path dir) throws java.io.IOException {
    return Map.of("ANTHROPIC_BASE_URL", api.url(), "ANTHROPIC_API_KEY", "sk-ant-test-not-a-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1", "CLAUDE_CODE_MAX_RETRIES", "0",
        "HOME", Files.createDirectories(dir.resolve("claude-home")).toString());
  }

  Duration progressEvery;

  /**
   * The agent's own progress on the thread: what Claude said before its tool call reaches the
   * task's thread while the run goes on (here it never ends: the API holds the next turn open).
   */
  @Test
  void theAgentsOwnWordsGoToTheThreadWhileItRuns() throws Exception {
    progressEvery = Duration.ofMillis(200);
    Path notes = Files.writeString(dir.resolve("notes.txt"), "zebra notes");
    api.then(FakeMessagesApi.ToolUse.saying("Reading the zebra notes first", "Read",
            Http.JSON.createObjectNode().put("file_path", notes.toString())))
        .then(new FakeMessagesApi.Hold());
    startService(0);
    long id = DispatchFixture.create(http, "Sort the zebras", 5, null);
    dev.atsdispatch.testing.Wait.until("the agent's words on the thread", Duration.ofSeconds(60),
        () -> http.get("/tasks/" + id + "/messages").text().contains("Agent progress (attempt 1): Reading the zebra notes first"));
    assertEquals("in_progress", DispatchFixture.task(http, id).path("status").asText(), "said while it runs");
  }

  String session(long id) throws Exception {
    return Http.JSON.readTree(dir.resolve("state/tasks/ats/" + id + "/claude-session.json").toFile()).path("id").asText();
  }

  @Test
  void theFinalResultIsTheResponseAndSessionCostAndTokensAreInTheOutputs() throws Exception {
    api.then(new FakeMessagesApi.Text("Hello from the fake API"));
    startService(0);
    long id = DispatchFixture.create(http, "Summarise the zebra notes", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("Hello from the fake API", out.path("response").asText(), out.toString());
    assertEquals(session(id), out.path("session_id").asText(), out.toString());
    assertTrue(out.path("cost_usd").asDouble() > 0, out.toString());
    assertEquals(12, out.path("input_tokens").asInt(), out.toString());
    assertEquals(7, out.path("output_tokens").asInt(), out.toString());
    assertEquals(1, out.path("num_turns").asInt(), out.toString());
    assertFalse(out.path("is_error").asBoolean(true), out.toString());
    assertEquals(1, api.requests().size());
    assertTrue(FakeMessagesApi.userText(api.requests().get(0)).contains("Summarise the zebra notes"));
  }

  @Test
  void aFailedAttemptsRetryResumesTheSameSession() throws Exception {
    api.then(new FakeMessagesApi.Error(400, "invalid_request_error", "scripted failure"))
        .then(new FakeMessagesApi.Text("resumed answer"));
    startService(1);
    long id = DispatchFixture.create(http, "Count the okapis", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("resumed answer", out.path("response").asText(), out.toString());
    assertEquals(2, out.path("attempt").asInt(), out.toString());
    assertEquals(session(id), out.path("session_id").asText());
    List<JsonNode> seen = api.requests();
    assertEquals(2, seen.size());
    String second = FakeMessagesApi.userText(seen.get(1));
    assertTrue(second.contains("Count the okapis"), "the resumed session lost the first turn: " + second);
    assertTrue(second.contains(ClaudePreset.CONTINUE), second);
  }

  /**
   * A session marked begun that Claude Code does not have (the agents' HOME changed, or the
   * service died before Claude Code wrote it): the resume fails with "No conversation found", and
   * the retry starts that session anew rather than failing the same way until the task is poisoned.
   */
  @Test
  void aSessionClaudeCodeDoesNotHaveIsStartedAnewByTheRetry() throws Exception {
    api.then(new FakeMessagesApi.Text("started afresh"));
    long id = DispatchFixture.create(http, "Weigh the tapir", 5, null);
    String sid = "7d0c3d1e-0000-4000-8000-00000000000" + (id % 10);
    var ownerOnly = java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
        java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    Path f = dir.resolve("state");
    for (String part : List.of("tasks", "ats", Long.toString(id))) f = Files.createDirectories(f.resolve(part), ownerOnly);
    f = f.resolve("claude-session.json");
    Files.writeString(f, "{\"id\":\"" + sid + "\",\"begun\":true}");
    startService(1);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("started afresh", out.path("response").asText(), out.toString());
    assertEquals(sid, out.path("session_id").asText(), out.toString());
    List<JsonNode> started = DispatchFixture.ledger(dir.resolve("state"), id, "agent_started");
    assertEquals(List.of(true, false), started.stream().map(e -> e.path("resumed").asBoolean()).toList(), started.toString());
    assertEquals(1, api.requests().size());
    assertTrue(FakeMessagesApi.userText(api.requests().get(0)).contains("Weigh the tapir"), "the new session lacks the task");
  }

  /**
   * A usage limit (the API's 429, with Claude Code's "usage limit reached|<reset>" text) is no
   * strike: the task is given back, claiming pauses until the reset (readiness and the status say
   * so), and then the task runs and completes.
   */
  @Test
  void aUsageLimitPausesClaimingUntilItsResetAndCostsNoStrike() throws Exception {
    long reset = java.time.Instant.now().getEpochSecond() + 5;
    api.then(new FakeMessagesApi.Error(429, "rate_limit_error", "Claude AI usage limit reached|" + reset))
        .then(new FakeMessagesApi.Text("after the limit"));
    startService(0);
    long id = DispatchFixture.create(http, "Tidy the capybara pen", 5, null);
    dev.atsdispatch.testing.Wait.until("claiming paused", Duration.ofSeconds(60),
        () -> service.engine().pausedUntil() != null);
    java.time.Instant until = service.engine().pausedUntil();
    assertTrue(until.equals(java.time.Instant.ofEpochSecond(reset)) || java.time.Instant.now().getEpochSecond() >= reset - 1,
        "paused until " + until + ", not the reset " + reset);
    assertTrue(service.readiness().detail().contains("claiming paused until"), service.readiness().detail());
    assertTrue(service.engine().statusNow().has("paused_until"));
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    assertTrue(java.time.Instant.now().isAfter(until.minusMillis(1)), "ran again before the pause ended");
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("after the limit", out.path("response").asText(), out.toString());
    assertEquals(2, api.requests().size());
    TaskLedger.Summary sum = service.engine() == null ? null
        : new StateDir(dir.resolve("state")).ledger(dev.atsdispatch.source.TaskKey.of("ats", id)).summary();
    assertEquals(0, sum.strikes(), "a usage limit counted as a strike");
    assertTrue(java.nio.file.Files.readString(dir.resolve("state/tasks/ats/" + id + "/events.jsonl"))
        .contains("\"outcome\":\"limited\""));
  }

  /**
   * Questions to humans: the agent writes questions/001.question and ends its turn; the task is
   * parked (failed with the question as its reason, no strike, the question on its thread), a
   * person's reply on the thread reopens it, and the session is resumed with the answer.
   */
  @Test
  void aQuestionThenAnAnswerThenAResumedSession() throws Exception {
    long id = DispatchFixture.create(http, "Paint the zebra", 5, null);
    Path question = dir.resolve("state/tasks/ats/" + id + "/work/questions/001.question");
    com.fasterxml.jackson.databind.node.ObjectNode write = Http.JSON.createObjectNode()
        .put("file_path", question.toString()).put("content", "Which colour should the stripes be?");
    api.then(new FakeMessagesApi.ToolUse("Write", write))
        .then(new FakeMessagesApi.Text("I asked which colour; waiting for the answer."))
        .then(new FakeMessagesApi.Text("Painted the stripes purple"));
    startService(0, "auto");
    dev.atsdispatch.testing.Wait.until("the task parked with its question", Duration.ofSeconds(60),
        () -> DispatchFixture.task(http, id).path("status").asText().equals("failed"));
    JsonNode parked = DispatchFixture.task(http, id);
    assertTrue(parked.path("reason").asText().contains("Waiting for an answer to question 1"), parked.toString());
    String thread = http.get("/tasks/" + id + "/messages").text();
    assertTrue(thread.contains("Which colour should the stripes be?"), thread);
    assertEquals(1, service.engine().statusNow().path("awaiting_answer").asInt());
    assertEquals(0, new StateDir(dir.resolve("state")).ledger(dev.atsdispatch.source.TaskKey.of("ats", id)).summary().strikes());

    assertEquals(201, http.post("/tasks/" + id + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"Purple, please\"}]}").status());
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(60));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("Painted the stripes purple", out.path("response").asText(), out.toString());
    assertEquals(session(id), out.path("session_id").asText());
    List<JsonNode> seen = api.requests();
    assertEquals(3, seen.size());
    String resumed = FakeMessagesApi.userText(seen.get(2));
    assertTrue(resumed.contains("Paint the zebra"), "the resumed session lost the first turn: " + resumed);
    assertTrue(resumed.contains("Purple, please") && resumed.contains("Which colour should the stripes be?"), resumed);
    assertEquals(0, service.engine().statusNow().path("awaiting_answer").asInt());
    assertEquals("Purple, please", Files.readString(question.resolveSibling("001.answer")));
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), id, "answer_delivered").size());
  }
}
