package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.CH;
import static dev.atsdispatch.dispatch.DispatchFixture.ledger;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.exec.ClaudePreset;
import dev.atsdispatch.testing.ChildJvm;
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
 * kill -9 of the service (a child JVM running {@code ats-dispatch run} with agent.preset = claude)
 * while the real Claude Code waits on the fake Messages API in the middle of its run; the next
 * incarnation, on the same state directory, takes the task again once its lease has run out and
 * resumes the same session ({@code --resume}): the API is sent the earlier turns (the task, the
 * tool call and its result) with the continuation prompt, and the ledger says the attempt resumed.
 */
@Timeout(180)
final class ClaudeCrashResumeTest extends FakeMessagesApiTestBase {
  ChildJvm service;

  @Override
  Path cli() {
    return ClaudePresetTest.CLAUDE;
  }

  @AfterEach
  void stopService() {
    if (service != null) service.close();
  }

  ChildJvm startService(int incarnation) throws Exception {
    String agentEnv = Http.JSON.createObjectNode().put("ANTHROPIC_BASE_URL", api.url())
        .put("ANTHROPIC_API_KEY", "sk-ant-test-not-a-key").put("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .put("CLAUDE_CODE_MAX_RETRIES", "0").toString();
    return ChildJvm.start(dir, "service-" + incarnation,
        Map.of("HOME", dir.toString(), "ATS_DISPATCH_AGENT_GRACE", "500ms", "ATS_DISPATCH_AGENT_SANDBOX", "none",
            "ATS_DISPATCH_AGENT_PRESET", "claude", "ATS_DISPATCH_AGENT_MODE", "auto",
            "ATS_DISPATCH_AGENT_HOME", Files.createDirectories(dir.resolve("claude-home")).toString(),
            "ATS_DISPATCH_AGENT_ENV", agentEnv),
        List.of("run", "--transport", "http", "--url", server.url(), "--channel", CH,
            "--agent", ClaudePresetTest.CLAUDE.toString(), "--state-dir", dir.resolve("state").toString(),
            "--keys-dir", dir.resolve("keys").toString(), "--lease", "5s",
            "--actor-id", "claude-svc", "--actor-name", "Claude Service"));
  }

  JsonNode session(long id) throws Exception {
    Path f = dir.resolve("state/tasks/ats/" + id + "/claude-session.json");
    return Files.isRegularFile(f) ? Http.JSON.readTree(f.toFile()) : Http.JSON.createObjectNode();
  }

  @Test
  void aKilledServiceResumesTheSameSessionAndTheApiSeesTheEarlierTurns() throws Exception {
    long id = DispatchFixture.create(http, "Count the okapis", 5, null);
    Path note = dir.resolve("state/tasks/ats/" + id + "/work/tally.txt");
    api.then(new FakeMessagesApi.ToolUse("Write", Http.JSON.createObjectNode()
            .put("file_path", note.toString()).put("content", "okapis so far: 3")))
        .then(new FakeMessagesApi.Hold()) // the run is in the middle of its second turn when the service dies
        .then(new FakeMessagesApi.Text("There are 7 okapis"));
    service = startService(1);
    await("claude to be in its second turn").atMost(Duration.ofSeconds(60)).until(() -> api.held() == 1);
    assertEquals("okapis so far: 3", Files.readString(note));
    String sid = session(id).path("id").asText();
    assertTrue(session(id).path("begun").asBoolean(), "the session is not marked begun while it runs: " + session(id));

    service.kill();
    // the orphan guard ends the agent of the dead service: its held request goes
    await("the old claude to be gone").atMost(Duration.ofSeconds(15)).until(() -> api.held() == 0);
    assertEquals("in_progress", DispatchFixture.task(http, id).path("status").asText());

    service = startService(2);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(90));
    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("There are 7 okapis", out.path("response").asText(), out.toString());
    assertEquals(sid, out.path("session_id").asText(), "a new session: " + out);
    assertEquals(2, out.path("attempt").asInt(), out.toString());

    List<JsonNode> seen = api.requests();
    assertEquals(3, seen.size(), "requests: " + seen);
    JsonNode resumed = seen.get(2);
    String user = FakeMessagesApi.userText(resumed);
    assertTrue(user.contains("Count the okapis"), "the resumed session lost the task: " + user);
    assertTrue(user.contains(ClaudePreset.CONTINUE), user);
    boolean toolCall = false;
    boolean toolResult = false;
    for (JsonNode m : resumed.path("messages")) {
      for (JsonNode c : m.path("content")) {
        if (c.path("type").asText().equals("tool_use") && c.path("input").path("file_path").asText().equals(note.toString())) {
          toolCall = true;
        }
        if (c.path("type").asText().equals("tool_result")) toolResult = true;
      }
    }
    assertTrue(toolCall, "the resumed session lost the earlier tool call: " + resumed.path("messages"));
    assertTrue(toolResult, "the resumed session lost the tool's result: " + resumed.path("messages"));

    List<JsonNode> started = ledger(dir.resolve("state"), id, "agent_started");
    assertEquals(2, started.size(), started.toString());
    assertFalse(started.get(0).path("resumed").asBoolean(true), started.toString());
    assertTrue(started.get(1).path("resumed").asBoolean(), started.toString());
    assertEquals(sid, started.get(1).path("session_id").asText());
    assertTrue(ledger(dir.resolve("state"), id, "attempt_finished").stream()
        .anyMatch(e -> e.path("outcome").asText().equals("crashed")), "the killed attempt is recorded as crashed");
  }
}
