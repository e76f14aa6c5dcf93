package dev.atsdispatch.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The cost and tokens the presets read back, as a scraper sees them: summed per backend and kind. */
final class AgentUsageMetricsTest {
  @Test
  void costAndTokensAddUpPerBackendAndKindAndWhatWasNotReportedAddsNothing() {
    DispatchMetrics m = DispatchMetrics.create();
    m.agentUsage("pi", 0.25, 100L, 20L, 50L, 0L);
    m.agentUsage("pi", 0.5, 10L, 2L, null, null);
    m.agentUsage("codex", null, 7L, 3L, 1L, null); // codex reports no cost
    MetricsText t = MetricsText.parse(m.text());
    assertEquals(0.75, t.value("ats_dispatch_agent_cost_usd_total", "backend", "pi"), 1e-9);
    assertNull(t.value("ats_dispatch_agent_cost_usd_total", "backend", "codex"));
    assertEquals(110.0, t.value("ats_dispatch_agent_tokens_total", "backend", "pi", "kind", "input"));
    assertEquals(22.0, t.value("ats_dispatch_agent_tokens_total", "backend", "pi", "kind", "output"));
    assertEquals(50.0, t.value("ats_dispatch_agent_tokens_total", "backend", "pi", "kind", "cache_read"));
    assertNull(t.value("ats_dispatch_agent_tokens_total", "backend", "pi", "kind", "cache_write"));
    assertEquals(1.0, t.value("ats_dispatch_agent_tokens_total", "backend", "codex", "kind", "cache_read"));
    assertTrue(m.text().contains("# TYPE ats_dispatch_agent_tokens_total counter"), m.text());
  }
}
