package dev.atsdispatch.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The metrics as a scraper sees them: names, labels, units and values in the exposed text. */
final class DispatchMetricsTest {
  final DispatchMetrics m = DispatchMetrics.create();

  MetricsText scrape() {
    return MetricsText.parse(m.text());
  }

  @Test
  void everyOutcomeIsExportedFromTheStartAndCountsOnlyItself() {
    MetricsText before = scrape();
    for (String o : DispatchMetrics.OUTCOMES) {
      assertEquals(0.0, before.value("ats_dispatch_tasks_total", "outcome", o), o);
    }
    m.taskFinished("completed");
    m.taskFinished("completed");
    m.taskFinished("lease_lost");
    MetricsText after = scrape();
    assertEquals(2.0, after.value("ats_dispatch_tasks_total", "outcome", "completed"));
    assertEquals(1.0, after.value("ats_dispatch_tasks_total", "outcome", "lease_lost"));
    assertEquals(0.0, after.value("ats_dispatch_tasks_total", "outcome", "failed"));
    var e = assertThrows(IllegalArgumentException.class, () -> m.taskFinished("exploded"));
    assertTrue(e.getMessage().contains("exploded"), e.getMessage());
  }

  @Test
  void countersAndTheirExposedNames() {
    m.strike();
    m.strike();
    m.leaseRenewed();
    m.leaseRenewed();
    m.leaseRenewed();
    m.leaseRenewalFailed();
    m.webSocketReconnected();
    MetricsText t = scrape();
    assertEquals(2.0, t.value("ats_dispatch_strikes_total"));
    assertEquals(3.0, t.value("ats_dispatch_lease_renewals_total"));
    assertEquals(1.0, t.value("ats_dispatch_lease_renewal_failures_total"));
    assertEquals(1.0, t.value("ats_dispatch_websocket_reconnects_total"));
    String text = m.text();
    assertTrue(text.contains("# TYPE ats_dispatch_strikes_total counter"), text);
    assertTrue(text.contains("# TYPE ats_dispatch_agent_duration_seconds histogram"), text);
    assertTrue(text.contains("# TYPE ats_dispatch_outbox_depth gauge"), text);
    for (MetricsText.Sample s : t.samples()) {
      assertTrue(s.name().startsWith("ats_dispatch_"), s.name());
    }
  }

  @Test
  void histogramsPutObservationsInTheirBucketsInSeconds() {
    m.agentFinished(Duration.ofSeconds(3));
    m.agentFinished(Duration.ofMinutes(45));
    m.pickedUp(Duration.ofMillis(80));
    m.pickedUp(Duration.ofSeconds(-2)); // clock skew: counted as 0
    MetricsText t = scrape();
    String a = "ats_dispatch_agent_duration_seconds";
    assertEquals(0.0, t.value(a + "_bucket", "le", "1.0"));
    assertEquals(1.0, t.value(a + "_bucket", "le", "5.0"));
    assertEquals(1.0, t.value(a + "_bucket", "le", "1800.0"));
    assertEquals(2.0, t.value(a + "_bucket", "le", "3600.0"));
    assertEquals(2.0, t.value(a + "_bucket", "le", "+Inf"));
    assertEquals(2.0, t.value(a + "_count"));
    assertEquals(3 + 45 * 60.0, t.value(a + "_sum"), 1e-9);
    String p = "ats_dispatch_pickup_latency_seconds";
    assertEquals(1.0, t.value(p + "_bucket", "le", "0.05"));
    assertEquals(2.0, t.value(p + "_bucket", "le", "0.1"));
    assertEquals(2.0, t.value(p + "_count"));
    assertEquals(0.08, t.value(p + "_sum"), 1e-9);
  }

  @Test
  void gaugesReadTheirSuppliersAtEveryScrape() {
    assertEquals(0.0, scrape().value("ats_dispatch_tasks_running"), "0 before gauges() is called");
    AtomicInteger running = new AtomicInteger(2);
    m.gauges(running::get, () -> 5, () -> 1, () -> 7);
    MetricsText t = scrape();
    assertEquals(2.0, t.value("ats_dispatch_tasks_running"));
    assertEquals(5.0, t.value("ats_dispatch_tasks_waiting"));
    assertEquals(1.0, t.value("ats_dispatch_tasks_deferred"));
    assertEquals(7.0, t.value("ats_dispatch_outbox_depth"));
    running.set(4);
    assertEquals(4.0, scrape().value("ats_dispatch_tasks_running"));
  }

  @Test
  void aFailingGaugeSourceLeavesOnlyThatGaugeOut() {
    m.gauges(() -> 1, () -> { throw new IllegalStateException("engine gone"); }, () -> 3, () -> 4);
    m.strike();
    MetricsText t = scrape();
    assertNull(t.value("ats_dispatch_tasks_waiting"));
    assertEquals(1.0, t.value("ats_dispatch_tasks_running"));
    assertEquals(1.0, t.value("ats_dispatch_strikes_total"));
  }

  @Test
  void concurrentCallsLoseNothing() throws Exception {
    int threads = 8;
    int each = 5_000;
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(() -> {
        for (int j = 0; j < each; j++) {
          m.taskFinished("failed");
          m.strike();
          m.agentFinished(Duration.ofMillis(1500));
        }
      });
      ts.add(t);
      t.start();
    }
    for (Thread t : ts) t.join();
    MetricsText s = scrape();
    assertEquals(threads * each, s.value("ats_dispatch_tasks_total", "outcome", "failed"));
    assertEquals(threads * each, s.value("ats_dispatch_strikes_total"));
    assertEquals(threads * each, s.value("ats_dispatch_agent_duration_seconds_count"));
    assertEquals(threads * each * 1.5, s.value("ats_dispatch_agent_duration_seconds_sum"), 1e-6);
  }

  @Test
  void instancesDoNotShareState() {
    DispatchMetrics other = DispatchMetrics.create();
    m.strike();
    assertEquals(0.0, MetricsText.parse(other.text()).value("ats_dispatch_strikes_total"));
  }

  @Test
  void parserReadsLabelsEscapesAndSpecialValues() {
    MetricsText t = MetricsText.parse("""
        # HELP x_total a counter
        # TYPE x_total counter
        x_total{a="1",b="say \\"hi\\"\\\\n"} 3.5
        y{le="+Inf"} +Inf
        z NaN 1712345678000

        w 12
        """);
    assertEquals(4, t.samples().size());
    assertEquals(Map.of("a", "1", "b", "say \"hi\"\\n"), t.samples().get(0).labels());
    assertEquals(3.5, t.value("x_total", "a", "1"));
    assertNull(t.value("x_total", "a", "2"));
    assertEquals(Double.POSITIVE_INFINITY, t.value("y", "le", "+Inf"));
    assertTrue(t.value("z").isNaN());
    assertEquals(12.0, t.value("w"));
    var e = assertThrows(IllegalArgumentException.class, () -> MetricsText.parse("ok 1\nbroken{a=1} 2\n"));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }
}
