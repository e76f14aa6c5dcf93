package dev.atsdispatch.dispatch;

import dev.atsdispatch.exec.PresetReader;
import java.util.Locale;

/**
 * The budgets of {@code agent.max_turns}, {@code agent.max_cost_usd} and {@code
 * agent.daily_cost_usd} (issue 16), and their maths: what a task may still spend, whether a run's
 * running facts passed a limit, and the reasons, which name the figures ("Budget: task cost $2.13
 * over the $2.00 limit"). The task's limits count the whole task since its last reset: its earlier
 * attempts ({@link Spent}, from the ledger) plus the running one. A value; null: no such limit.
 */
public record Budget(Integer maxTurns, Double maxCostUsd, Double dailyCostUsd) {
  public static final Budget NONE = new Budget(null, null, null);

  /** What a task's earlier attempts spent (since its last reset), as its ledger recorded them. */
  public record Spent(double costUsd, int turns) {
    public static final Spent NOTHING = new Spent(0, 0);

    /** Adds one attempt's figures (null: not reported). */
    public Spent plus(Double cost, Integer turns) {
      return new Spent(costUsd + (cost == null ? 0 : cost), this.turns + (turns == null ? 0 : turns));
    }
  }

  public Budget {
    if (maxTurns != null && maxTurns < 1) throw new IllegalArgumentException("agent.max_turns must be at least 1");
    if (maxCostUsd != null && !(maxCostUsd > 0)) throw new IllegalArgumentException("agent.max_cost_usd must be positive");
    if (dailyCostUsd != null && !(dailyCostUsd > 0)) {
      throw new IllegalArgumentException("agent.daily_cost_usd must be positive");
    }
  }

  /** Whether any per-task limit is set. */
  public boolean perTask() {
    return maxTurns != null || maxCostUsd != null;
  }

  /** The turns the task may still take (at least 0); null: no limit. */
  public Integer turnsLeft(Spent s) {
    return maxTurns == null ? null : Math.max(0, maxTurns - s.turns());
  }

  /** The dollars the task may still spend (at least 0); null: no limit. */
  public Double costLeft(Spent s) {
    return maxCostUsd == null ? null : Math.max(0, maxCostUsd - s.costUsd());
  }

  /** The reason the task may not start another attempt (its earlier ones used the budget up); null: it may. */
  public String spentBefore(Spent s) {
    if (maxCostUsd != null && s.costUsd() >= maxCostUsd) return costReason(s.costUsd());
    if (maxTurns != null && s.turns() >= maxTurns) return turnsReason(s.turns());
    return null;
  }

  /**
   * Watching a run of a CLI without budget flags: the reason to stop it, or null. The cost limit
   * is passed once the task's cost reaches it; the turn limit once a turn beyond it has begun
   * ({@code turnsBegun}), or one has ended, so a run whose last allowed turn is its final answer
   * still finishes.
   */
  public String passed(Spent s, PresetReader.Facts f) {
    double cost = s.costUsd() + (f.costUsd() == null ? 0 : f.costUsd());
    if (maxCostUsd != null && f.costUsd() != null && cost >= maxCostUsd) return costReason(cost);
    int done = s.turns() + (f.numTurns() == null ? 0 : f.numTurns());
    int begun = s.turns() + f.turnsBegun();
    if (maxTurns != null && (begun > maxTurns || done > maxTurns)) return turnsReason(Math.min(done, maxTurns));
    return null;
  }

  /** Whether the run stopped at a limit of this budget that its CLI's flags were given. */
  public boolean flagged(PresetReader.Facts f) {
    return f.budgetStop() == PresetReader.BudgetStop.TURNS ? maxTurns != null
        : f.budgetStop() == PresetReader.BudgetStop.COST && maxCostUsd != null;
  }

  /** The reason for a limit the CLI itself stopped at (its flags), from the run's final facts. */
  public String stoppedAt(Spent s, PresetReader.Facts f) {
    if (f.budgetStop() == PresetReader.BudgetStop.COST) {
      return costReason(s.costUsd() + (f.costUsd() == null ? 0 : f.costUsd()));
    }
    // claude's num_turns counts the turn beyond the limit that it declined to begin
    return turnsReason(Math.min(maxTurns, s.turns() + (f.numTurns() == null ? 0 : f.numTurns())));
  }

  /** "Budget: task cost $2.13 over the $2.00 limit" (or "reached" when it is the limit exactly). */
  String costReason(double cost) {
    String c = usd(cost);
    String limit = usd(maxCostUsd);
    return "Budget: task cost " + c + (c.equals(limit) ? " reached the " : " over the ") + limit + " limit";
  }

  /** "Budget: 12 turns reached the limit of 12". */
  String turnsReason(int turns) {
    return "Budget: " + turns + (turns == 1 ? " turn" : " turns") + (turns > maxTurns ? " over" : " reached")
        + " the limit of " + maxTurns;
  }

  /** Dollars as reasons show them: cents, or more digits for amounts under a cent. */
  public static String usd(double v) {
    if (v != 0 && Math.abs(v) < 0.01) {
      return "$" + new java.math.BigDecimal(v).round(new java.math.MathContext(2)).stripTrailingZeros().toPlainString();
    }
    return String.format(Locale.ROOT, "$%.2f", v);
  }
}
