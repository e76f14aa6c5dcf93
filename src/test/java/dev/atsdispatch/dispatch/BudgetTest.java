package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.exec.ClaudePreset;
import dev.atsdispatch.exec.PiPreset;
import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.exec.PresetReader;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The budget maths: what is left, when a watched run passed a limit, the reasons, and which presets can keep which budget. */
final class BudgetTest {
  static PresetReader.Facts facts(Double cost, Integer turns, int begun) {
    return new PresetReader.Facts("s", false, null, null, false, null, null, cost, null, null, null, null, turns, begun, null);
  }

  @Test
  void reasonsNameTheFigures() {
    Budget b = new Budget(12, 2.00, null);
    assertEquals("Budget: task cost $2.13 over the $2.00 limit", b.costReason(2.13));
    assertEquals("Budget: task cost $2.00 reached the $2.00 limit", b.costReason(2.0));
    assertEquals("Budget: 12 turns reached the limit of 12", b.turnsReason(12));
    assertEquals("Budget: 13 turns over the limit of 12", b.turnsReason(13));
    assertEquals("$0.00021", Budget.usd(0.000214));
    assertEquals("$5.00", Budget.usd(5));
  }

  @Test
  void whatIsLeftCountsTheEarlierAttempts() {
    Budget b = new Budget(10, 2.00, null);
    Budget.Spent s = Budget.Spent.NOTHING.plus(0.5, 3).plus(null, 4).plus(0.25, null);
    assertEquals(3, b.turnsLeft(s));
    assertEquals(1.25, b.costLeft(s), 1e-12);
    assertNull(b.spentBefore(s));
    assertEquals(0, b.turnsLeft(new Budget.Spent(0, 11)));
    assertEquals(0.0, b.costLeft(new Budget.Spent(2.5, 0)));
    assertEquals("Budget: task cost $2.50 over the $2.00 limit", b.spentBefore(new Budget.Spent(2.5, 0)));
    assertEquals("Budget: 10 turns reached the limit of 10", b.spentBefore(new Budget.Spent(1, 10)));
    assertNull(Budget.NONE.turnsLeft(s));
    assertNull(Budget.NONE.spentBefore(new Budget.Spent(1e9, 1_000_000)));
  }

  @Test
  void aWatchedRunPassesTheCostLimitAtItAndTheTurnLimitWhenATurnBeyondItBegins() {
    Budget b = new Budget(3, 1.00, null);
    Budget.Spent earlier = new Budget.Spent(0.40, 1);
    assertNull(b.passed(earlier, facts(0.59, 1, 1)));
    assertEquals("Budget: task cost $1.00 reached the $1.00 limit", b.passed(earlier, facts(0.60, 1, 1)));
    assertEquals("Budget: task cost $1.10 over the $1.00 limit", b.passed(earlier, facts(0.70, 1, 1)));
    // turns: 1 earlier + 2 done here is the limit; the run may still end on its own
    assertNull(b.passed(earlier, facts(0.1, 2, 2)));
    assertEquals("Budget: 3 turns reached the limit of 3", b.passed(earlier, facts(0.1, 2, 3)));
    assertNull(new Budget(null, null, 5.0).passed(Budget.Spent.NOTHING, facts(100.0, 100, 100)));
  }

  @Test
  void aLimitTheCliStoppedAtIsNamedWithTheWholeTasksFigures() {
    Budget b = new Budget(5, 1.00, null);
    Budget.Spent earlier = new Budget.Spent(0.25, 3);
    PresetReader.Facts turns = new PresetReader.Facts("s", true, null, null, true, "x", null, 0.1, null, null, null, null, 2, 0,
        PresetReader.BudgetStop.TURNS);
    PresetReader.Facts cost = new PresetReader.Facts("s", true, null, null, true, "x", null, 0.8, null, null, null, null, 2, 0,
        PresetReader.BudgetStop.COST);
    assertTrue(b.flagged(turns) && b.flagged(cost));
    assertEquals("Budget: 5 turns reached the limit of 5", b.stoppedAt(earlier, turns));
    assertEquals("Budget: task cost $1.05 over the $1.00 limit", b.stoppedAt(earlier, cost));
    assertTrue(!new Budget(null, 1.0, null).flagged(turns), "a --max-turns of the user's own is no budget of ours");
  }

  @Test
  void claudeIsGivenWhatIsLeftAndTheOthersAreWatched() {
    assertEquals(List.of("--max-turns", "2", "--max-budget-usd", "0.75"), ClaudePreset.INSTANCE.budgetFlags(2, 0.75));
    assertEquals(List.of("--max-budget-usd", "0.000123"), ClaudePreset.INSTANCE.budgetFlags(null, 0.000123));
    assertNull(PiPreset.INSTANCE.budgetFlags(2, 0.75));
    assertTrue(AgentWork.hasBudgetFlags(ClaudePreset.INSTANCE));
    for (Preset p : Preset.all()) if (p != ClaudePreset.INSTANCE) assertTrue(!AgentWork.hasBudgetFlags(p), p.name());
  }

  @Test
  void theSettingsRefuseABudgetThePresetCannotCount() {
    ServiceConfig.Builder b = ServiceConfig.builder();
    b.maxCostUsd = 1.0;
    assertEquals("agent.max_cost_usd needs agent.preset claude or pi (a command's output is not read)",
        assertThrows(IllegalArgumentException.class, b::build).getMessage());
    b.preset = "codex";
    assertEquals("agent.max_cost_usd cannot be kept with agent.preset codex: it reports no cost (claude and pi do)",
        assertThrows(IllegalArgumentException.class, b::build).getMessage());
    b.maxCostUsd = null;
    b.maxTurns = 4;
    b.preset = "cursor-agent";
    assertEquals("agent.max_turns cannot be kept with agent.preset cursor-agent: it reports no turns of its own (claude and pi do)",
        assertThrows(IllegalArgumentException.class, b::build).getMessage());
    b.preset = "pi";
    b.maxTurns = 0;
    assertEquals("agent.max_turns must be at least 1", assertThrows(IllegalArgumentException.class, b::build).getMessage());
    b.maxTurns = 4;
    b.dailyCostUsd = -1.0;
    assertEquals("agent.daily_cost_usd must be positive", assertThrows(IllegalArgumentException.class, b::build).getMessage());
    b.dailyCostUsd = 20.0;
    b.maxCostUsd = 2.0;
    Budget kept = b.build().budget();
    assertEquals(new Budget(4, 2.0, 20.0), kept);
    assertEquals(kept, b.build().toBuilder().build().budget());
  }
}
