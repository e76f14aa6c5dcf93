package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.testing.FakeMessagesApi;
import dev.atsdispatch.testing.Http;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Budgets with the real Claude Code CLI against a fake Messages API whose model asks for a tool
 * again and again: {@code --max-turns} and {@code --max-budget-usd} stop it, and the task fails
 * with the budget's reason, not retried and with no strike.
 */
@Timeout(120)
final class ClaudeBudgetTest extends FakeMessagesApiTestBase {
  Service service;

  @Override
  Path cli() {
    return ClaudePresetTest.CLAUDE;
  }

  @AfterEach
  void stopService() {
    if (service != null) service.close();
  }

  void startService(Integer maxTurns, Double maxCostUsd) throws Exception {
    ServiceConfig.Builder b = DispatchFixture.config(ClaudePresetTest.CLAUDE, dir.resolve("state"), dir.resolve("keys"));
    b.preset = "claude";
    b.agentMode = "auto";
    b.retries = 1; // a budget stop is not retried all the same
    b.retryBackoff = Duration.ZERO;
    b.maxTurns = maxTurns;
    b.maxCostUsd = maxCostUsd;
    b.extraEnv = ClaudePresetTest.claudeEnv(api, dir);
    service = DispatchFixture.start(server.url(), b.build(), "ada-claude", dir);
  }

  /** The model reads a file, forever (the fake API repeats its last reply). */
  void readForever(long id) {
    api.then(new FakeMessagesApi.ToolUse("Read", Http.JSON.createObjectNode()
        .put("file_path", dir.resolve("state/tasks/ats/" + id + "/work/notes.txt").toString())));
  }

  JsonNode finished(long id) {
    List<JsonNode> f = DispatchFixture.ledger(dir.resolve("state"), id, "attempt_finished");
    assertEquals(1, f.size(), "retried: " + f);
    return f.get(0);
  }

  @Test
  void maxTurnsStopsTheRunAndFailsTheTask() throws Exception {
    startService(3, null);
    long id = DispatchFixture.create(http, "Read the notes until told to stop", 5, null);
    readForever(id);
    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(60));
    String reason = DispatchFixture.task(http, id).path("reason").asText();
    assertEquals("Budget: 3 turns reached the limit of 3", reason);
    assertEquals(3, api.requests().size(), "the model was asked " + api.requests().size() + " times");
    JsonNode fin = finished(id);
    assertEquals("budget", fin.path("outcome").asText(), fin.toString());
    assertFalse(fin.path("strike").asBoolean(true), fin.toString());
  }

  @Test
  void maxBudgetStopsTheRunAndFailsTheTask() throws Exception {
    startService(null, 0.0004);
    long id = DispatchFixture.create(http, "Read the notes until the money runs out", 5, null);
    readForever(id);
    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(60));
    String reason = DispatchFixture.task(http, id).path("reason").asText();
    JsonNode fin = finished(id);
    assertEquals("budget", fin.path("outcome").asText(), fin.toString());
    double cost = fin.path("cost_usd").asDouble();
    assertTrue(cost >= 0.0004, fin.toString());
    assertEquals("Budget: task cost " + Budget.usd(cost) + " over the $0.0004 limit", reason);
    int asked = api.requests().size();
    assertTrue(asked >= 2 && asked < 20, "the model was asked " + asked + " times");
  }
}
