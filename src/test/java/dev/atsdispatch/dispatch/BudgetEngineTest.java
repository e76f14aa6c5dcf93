package dev.atsdispatch.dispatch;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.status.MetricsText;
import dev.atsdispatch.testing.FakeAgentRunner;
import dev.atsdispatch.testing.FakeTaskSource.Op;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Budgets on the engine with fakes (a scripted agent that prints a preset's events, a fake
 * clock): a watched pi run stopped at the task's cost or turn limit, the whole task counted across
 * its attempts, claude given what is left as flags and its own stop mapped to the same reasons,
 * and the daily cap pausing claiming until the next UTC midnight while a running task finishes.
 */
@Timeout(30)
final class BudgetEngineTest {
  static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path dir;
  EngineHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  static String piTurn(double cost, String text) {
    return "{\"type\":\"message_end\",\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"" + text
        + "\"}],\"usage\":{\"input\":10,\"output\":5,\"cost\":{\"total\":" + cost + "}},\"stopReason\":\"toolUse\"}}";
  }

  /** pi's events of one whole turn costing {@code cost}. */
  static List<String> piWholeTurn(double cost) {
    return List.of("{\"type\":\"turn_start\"}", piTurn(cost, "working"), "{\"type\":\"turn_end\"}");
  }

  /** A run that prints {@code lines} on stdout, then goes on until stopped or finished by the test. */
  static FakeAgentRunner.Behaviour printing(List<String> lines) {
    return run -> {
      lines.forEach(l -> run.spec.lines().accept("stdout", l));
      return null;
    };
  }

  /** A run that prints {@code lines}, then exits {@code code}. */
  static FakeAgentRunner.Behaviour printingThenExit(List<String> lines, int code) {
    return run -> {
      lines.forEach(l -> run.spec.lines().accept("stdout", l));
      return new AgentResult(AgentResult.Outcome.EXITED, code, 1, "", false, 0, "", null);
    };
  }

  static void print(FakeAgentRunner.Run run, List<String> lines) {
    lines.forEach(l -> run.spec.lines().accept("stdout", l));
  }

  ServiceConfig.Builder pi() {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.preset = "pi";
    return b;
  }

  String failedWith(TaskKey k) {
    await().atMost(WAIT).until(() -> h.source.calls(Op.FAIL, k).stream().anyMatch(c -> "ok".equals(c.result()))
        && h.summary(k).reported() && h.engine.runningNow() == 0);
    return h.source.store().rec(k).reason;
  }

  JsonNode lastFinished(TaskKey k) {
    List<JsonNode> f = DispatchFixture.ledger(h.cfg.stateDir(), k.numericId(), "attempt_finished");
    return f.get(f.size() - 1);
  }

  @Test
  void aWatchedRunIsStoppedWhenTheTasksCostPassesItsLimitAndTheTaskFailsWithoutARetryOrAStrike() {
    ServiceConfig.Builder b = pi();
    b.maxCostUsd = 1.00;
    b.retries = 1; // a budget stop is not retried all the same
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, printing(List.of("{\"type\":\"session\",\"id\":\"s1\"}", "{\"type\":\"turn_start\"}",
        piTurn(0.6, "first"), "{\"type\":\"turn_end\"}")));
    h.source.offer(k);
    await().atMost(WAIT).until(() -> h.runner.starts(k).size() == 1);
    FakeAgentRunner.Run run = h.runner.starts(k).get(0);
    assertFalse(run.stopped(), "stopped below the limit");
    print(run, List.of("{\"type\":\"turn_start\"}", piTurn(0.55, "second")));

    assertEquals("Budget: task cost $1.15 over the $1.00 limit", failedWith(k));
    assertEquals("Budget: task cost $1.15 over the $1.00 limit", run.stopReason());
    assertEquals(1, h.runner.starts(k).size(), "retried after a budget stop");
    JsonNode fin = lastFinished(k);
    assertEquals("budget", fin.path("outcome").asText(), fin.toString());
    assertFalse(fin.path("strike").asBoolean(true), fin.toString());
    assertEquals(1.15, fin.path("cost_usd").asDouble(), 1e-9, fin.toString());
    assertEquals(0, h.summary(k).strikes());
    assertEquals(TaskObserver.Failure.BUDGET, h.observer.of("failed", k).get(0).why());
    MetricsText m = MetricsText.parse(h.engine.metrics().text());
    assertEquals(1.0, m.value(dev.atsdispatch.status.DispatchMetrics.TASKS_TOTAL, "outcome", "budget"));
  }

  @Test
  void aWatchedRunIsStoppedWhenATurnBeyondTheLimitBeginsAndOneWhoseLastTurnEndsItFinishes() {
    ServiceConfig.Builder b = pi();
    b.maxTurns = 2;
    h = new EngineHarness(dir, b).start();
    TaskKey over = h.source.add(1);
    List<String> two = new java.util.ArrayList<>(piWholeTurn(0.01));
    two.addAll(piWholeTurn(0.01));
    List<String> three = new java.util.ArrayList<>(two);
    three.add("{\"type\":\"turn_start\"}");
    h.runner.script(over, printing(three));
    h.source.offer(over);
    assertEquals("Budget: 2 turns reached the limit of 2", failedWith(over));
    assertTrue(h.runner.starts(over).get(0).stopped());

    TaskKey within = h.source.add(2);
    List<String> done = new java.util.ArrayList<>(two);
    done.add("{\"type\":\"agent_end\"}");
    h.runner.script(within, printingThenExit(done, 0));
    h.source.offer(within);
    await().atMost(WAIT).until(() -> h.source.store().status(within) == TaskStatus.COMPLETED);
    assertFalse(h.runner.starts(within).get(0).stopped());
  }

  @Test
  void theTasksBudgetCountsItsEarlierAttempts() {
    ServiceConfig.Builder b = pi();
    b.maxCostUsd = 1.00;
    b.retries = 1;
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    h.runner.script(k, printingThenExit(piWholeTurn(0.7), 1), printing(piWholeTurn(0.4)));
    h.source.offer(k);
    assertEquals("Budget: task cost $1.10 over the $1.00 limit", failedWith(k));
    assertEquals(2, h.runner.starts(k).size());
    assertEquals(new Budget.Spent(1.1, 2).turns(), h.summary(k).spent().turns());
    assertEquals(1.1, h.summary(k).spent().costUsd(), 1e-9);
  }

  @Test
  void claudeIsGivenWhatIsLeftAndItsOwnStopIsABudgetFailure() {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.preset = "claude";
    b.maxTurns = 5;
    b.maxCostUsd = 1.00;
    b.retries = 1;
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    String failed = "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,\"num_turns\":3,"
        + "\"total_cost_usd\":0.25,\"errors\":[\"boom\"]}";
    String maxTurns = "{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"is_error\":true,\"num_turns\":2,"
        + "\"total_cost_usd\":0.1,\"errors\":[\"Reached maximum number of turns (2)\"]}";
    h.runner.script(k, printingThenExit(List.of(failed), 1), printingThenExit(List.of(maxTurns), 1));
    h.source.offer(k);
    assertEquals("Budget: 5 turns reached the limit of 5", failedWith(k));
    List<FakeAgentRunner.Run> runs = h.runner.starts(k);
    assertEquals(2, runs.size());
    List<String> first = runs.get(0).spec.command();
    assertEquals(List.of("--max-turns", "5", "--max-budget-usd", "1.0"), first.subList(first.size() - 4, first.size()));
    List<String> second = runs.get(1).spec.command();
    assertEquals(List.of("--max-turns", "2", "--max-budget-usd", "0.75"), second.subList(second.size() - 4, second.size()));
    JsonNode fin = lastFinished(k);
    assertEquals("budget", fin.path("outcome").asText(), fin.toString());
    assertFalse(fin.path("strike").asBoolean(true), fin.toString());
  }

  @Test
  void aTaskWhoseEarlierAttemptsUsedItsBudgetUpIsFailedWithoutStarting() {
    ServiceConfig.Builder b = EngineHarness.config(dir);
    b.preset = "claude";
    b.maxCostUsd = 0.25;
    b.retries = 1;
    h = new EngineHarness(dir, b).start();
    TaskKey k = h.source.add(1);
    String failed = "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,\"num_turns\":3,"
        + "\"total_cost_usd\":0.25,\"errors\":[\"boom\"]}";
    h.runner.script(k, printingThenExit(List.of(failed), 1));
    h.source.offer(k);
    assertEquals("Budget: task cost $0.25 reached the $0.25 limit", failedWith(k));
    assertEquals(1, h.runner.starts(k).size(), "an attempt started with nothing left to spend");
  }

  @Test
  void theDailyCapPausesClaimingUntilTheNextUtcMidnightAndARunningTaskFinishes() {
    ServiceConfig.Builder b = pi();
    b.dailyCostUsd = 1.00;
    b.concurrency = 2;
    h = new EngineHarness(dir, b).start();
    TaskKey spender = h.source.add(1);
    TaskKey running = h.source.add(2);
    h.runner.script(spender, printing(piWholeTurn(1.5)));
    h.runner.script(running, printing(piWholeTurn(0.1)));
    h.source.offer(spender);
    h.source.offer(running);
    await().atMost(WAIT).until(() -> h.runner.starts(spender).size() == 1 && h.runner.starts(running).size() == 1);
    assertNull(h.engine.pause());
    h.runner.starts(spender).get(0).finish(0, "");
    await().atMost(WAIT).until(() -> h.source.store().status(spender) == TaskStatus.COMPLETED);

    Pause p = h.engine.pause();
    assertEquals(Instant.parse("2026-01-02T00:00:00Z"), p.until());
    assertEquals("daily spend cap $1.00 reached for pi ($1.50 today)", p.reason());
    assertEquals(p.until().toString(), h.engine.statusNow().path("paused_until").asText());
    assertEquals(p.reason(), h.engine.statusNow().path("paused_for").asText());
    MetricsText m = MetricsText.parse(h.engine.metrics().text());
    assertEquals(1.0, m.value(dev.atsdispatch.status.DispatchMetrics.CLAIMING_PAUSED));

    // a task offered now waits; the one running goes on to its end
    TaskKey waiting = h.source.add(3);
    h.source.offer(waiting);
    await().atMost(WAIT).until(() -> h.engine.queuedNow() == 1);
    assertEquals(0, h.source.count(Op.CLAIM, waiting));
    FakeAgentRunner.Run still = h.runner.starts(running).get(0);
    assertFalse(still.stopped(), "the cap stopped a running task");
    still.finish(0, "");
    await().atMost(WAIT).until(() -> h.source.store().status(running) == TaskStatus.COMPLETED);
    assertEquals(0, h.source.count(Op.CLAIM, waiting), "claimed during the pause");

    // a restart the same day is paused too: the day's spend is in the state directory
    assertEquals(1.6, new DailySpend(h.cfg.stateDir(), h.clock).today("pi"), 1e-9);

    h.clock.advance(Duration.ofDays(1)); // past midnight UTC
    assertNull(h.engine.pause());
    h.source.offer(h.source.add(4)); // any event wakes the loop (the pause's own timer runs in real time)
    await().atMost(WAIT).until(() -> h.source.store().status(waiting) == TaskStatus.COMPLETED);
  }
}
