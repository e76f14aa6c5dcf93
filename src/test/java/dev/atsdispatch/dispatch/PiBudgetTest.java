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
 * Budgets with the real pi CLI, which has no budget flags, against a fake Messages API whose model
 * asks for a tool again and again: the service watches pi's events and stops it at the task's
 * turn or cost limit; the task fails with the budget's reason, not retried and with no strike.
 */
@Timeout(120)
final class PiBudgetTest extends FakeMessagesApiTestBase {
  Service service;

  @Override
  Path cli() {
    return PiPresetTest.PI;
  }

  @AfterEach
  void stopService() {
    if (service != null) service.close();
  }

  void startService(Integer maxTurns, Double maxCostUsd) throws Exception {
    ServiceConfig.Builder b = DispatchFixture.config(PiPresetTest.PI, dir.resolve("state"), dir.resolve("keys"));
    b.agentCommand = List.of(PiPresetTest.PI.toString(), "--provider", "anthropic", "--model", "claude-sonnet-4-5");
    b.preset = "pi";
    b.retries = 1; // a budget stop is not retried all the same
    b.retryBackoff = Duration.ZERO;
    b.maxTurns = maxTurns;
    b.maxCostUsd = maxCostUsd;
    b.extraEnv = PiPresetTest.piEnv(api, dir);
    service = DispatchFixture.start(server.url(), b.build(), "ada-pi", dir);
  }

  /** The model reads a file, forever (the fake API repeats its last reply). */
  void readForever() {
    api.then(new FakeMessagesApi.ToolUse("read", Http.JSON.createObjectNode().put("path", "notes.txt")));
  }

  JsonNode finished(long id) {
    List<JsonNode> f = DispatchFixture.ledger(dir.resolve("state"), id, "attempt_finished");
    assertEquals(1, f.size(), "retried: " + f);
    JsonNode fin = f.get(0);
    assertEquals("budget", fin.path("outcome").asText(), fin.toString());
    assertFalse(fin.path("strike").asBoolean(true), fin.toString());
    return fin;
  }

  @Test
  void piIsStoppedWhenATurnBeyondTheLimitBegins() throws Exception {
    // two turns answered; the third's request is held open, so pi is still in it when the stop comes
    // (a fast fourth request can no longer race the signal)
    api.then(new FakeMessagesApi.ToolUse("read", Http.JSON.createObjectNode().put("path", "notes.txt")))
        .then(new FakeMessagesApi.ToolUse("read", Http.JSON.createObjectNode().put("path", "notes.txt")))
        .then(new FakeMessagesApi.Hold());
    startService(2, null);
    long id = DispatchFixture.create(http, "Read the notes until told to stop", 5, null);
    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(60));
    assertEquals("Budget: 2 turns reached the limit of 2", DispatchFixture.task(http, id).path("reason").asText());
    // the stop is a signal: the turn that began past the limit may get its answer before pi is gone
    JsonNode fin = finished(id);
    int turns = fin.path("num_turns").asInt();
    assertTrue(turns == 2 || turns == 3, fin.toString());
    assertEquals(3, api.requests().size(), "the model was asked for the third turn, and no more");
  }

  @Test
  void piIsStoppedWhenTheTasksCostPassesTheLimit() throws Exception {
    readForever();
    startService(null, 0.0004);
    long id = DispatchFixture.create(http, "Read the notes until the money runs out", 5, null);
    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(60));
    JsonNode fin = finished(id);
    double cost = fin.path("cost_usd").asDouble();
    assertTrue(cost >= 0.0004, fin.toString());
    // the reason names the cost when the limit was passed; a message pi finished before the signal
    // reached it may add to what the ledger records
    String reason = DispatchFixture.task(http, id).path("reason").asText();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("Budget: task cost \\$([0-9.]+) over the \\$0\\.0004 limit")
        .matcher(reason);
    assertTrue(m.matches(), reason);
    double said = Double.parseDouble(m.group(1));
    assertTrue(said >= 0.0004 && said <= cost * 1.05, reason + " vs " + fin); // two significant digits
    int asked = api.requests().size();
    assertTrue(asked >= 2 && asked < 10, "the model was asked " + asked + " times");
  }
}
