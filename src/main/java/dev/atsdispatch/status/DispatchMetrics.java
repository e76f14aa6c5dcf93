package dev.atsdispatch.status;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * The service's Prometheus metrics, in a registry of its own: what the engine counts (tasks by
 * outcome, strikes, lease renewals, agent duration, pickup latency, WebSocket reconnects, the cost
 * and tokens the agents' backends report) and
 * gauges read from suppliers at scrape time (running, waiting, deferred, outbox depth). Every
 * method is cheap and thread-safe. One instance lives as long as the service; {@link #create()}
 * gives a fresh one (tests make as many as they like).
 */
public final class DispatchMetrics {
  /** The outcomes {@link #taskFinished} accepts; each is exported from the start, at 0. */
  public static final List<String> OUTCOMES = List.of("completed", "failed", "poisoned", "blocked",
      "rejected", "cancelled", "lease_lost", "interrupted", "limited", "budget");

  /** Content type of {@link #writeText}'s output (Prometheus text format 0.0.4). */
  public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

  // sample names as exported (what a scraper, and ats-dispatch status, reads)
  public static final String TASKS_TOTAL = "ats_dispatch_tasks_total";
  public static final String STRIKES_TOTAL = "ats_dispatch_strikes_total";
  public static final String LEASE_RENEWALS_TOTAL = "ats_dispatch_lease_renewals_total";
  public static final String LEASE_RENEWAL_FAILURES_TOTAL = "ats_dispatch_lease_renewal_failures_total";
  public static final String WEBSOCKET_RECONNECTS_TOTAL = "ats_dispatch_websocket_reconnects_total";
  public static final String AGENT_DURATION_SECONDS = "ats_dispatch_agent_duration_seconds";
  public static final String PICKUP_LATENCY_SECONDS = "ats_dispatch_pickup_latency_seconds";
  public static final String TASKS_RUNNING = "ats_dispatch_tasks_running";
  public static final String TASKS_WAITING = "ats_dispatch_tasks_waiting";
  public static final String TASKS_DEFERRED = "ats_dispatch_tasks_deferred";
  public static final String OUTBOX_DEPTH = "ats_dispatch_outbox_depth";
  public static final String CLAIMING_PAUSED = "ats_dispatch_claiming_paused";
  public static final String AGENT_COST_USD_TOTAL = "ats_dispatch_agent_cost_usd_total";
  public static final String AGENT_TOKENS_TOTAL = "ats_dispatch_agent_tokens_total";
  /** The kinds of {@link #AGENT_TOKENS_TOTAL}. */
  public static final List<String> TOKEN_KINDS = List.of("input", "output", "cache_read", "cache_write");

  static final double[] AGENT_SECONDS_BUCKETS =
      {1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400};
  static final double[] PICKUP_SECONDS_BUCKETS =
      {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};

  private static final IntSupplier ZERO = () -> 0;

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  private final Map<String, CounterDataPoint> tasks = new LinkedHashMap<>();
  private final Counter strikes;
  private final Counter leaseRenewals;
  private final Counter leaseRenewalFailures;
  private final Counter reconnects;
  private final Histogram agentDuration;
  private final Histogram pickupLatency;
  private final Counter agentCost;
  private final Counter agentTokens;
  private volatile IntSupplier running = ZERO;
  private volatile IntSupplier waiting = ZERO;
  private volatile IntSupplier deferred = ZERO;
  private volatile IntSupplier outboxDepth = ZERO;
  private volatile IntSupplier paused = ZERO;

  /** 1 while claiming is paused (a usage limit of the agent's backend, or its daily spend cap), else 0. */
  public void pausedGauge(IntSupplier s) {
    paused = s;
  }

  private DispatchMetrics() {
    Counter byOutcome = Counter.builder().name(TASKS_TOTAL)
        .help("Tasks finished here, by outcome").labelNames("outcome").withoutExemplars()
        .register(registry);
    for (String o : OUTCOMES) tasks.put(o, byOutcome.labelValues(o));
    strikes = counter(STRIKES_TOTAL, "Attempts counted as strikes (poison guard)");
    leaseRenewals = counter(LEASE_RENEWALS_TOTAL, "Lease renewals ATS accepted");
    leaseRenewalFailures = counter(LEASE_RENEWAL_FAILURES_TOTAL,
        "Lease renewals that failed or were refused");
    reconnects = counter(WEBSOCKET_RECONNECTS_TOTAL,
        "WebSocket connections replaced after a drop or silence");
    agentDuration = Histogram.builder().name(AGENT_DURATION_SECONDS)
        .help("Wall-clock duration of one agent attempt").classicOnly()
        .classicUpperBounds(AGENT_SECONDS_BUCKETS).withoutExemplars().register(registry);
    pickupLatency = Histogram.builder().name(PICKUP_LATENCY_SECONDS)
        .help("From the task's creation in ATS to its agent's start").classicOnly()
        .classicUpperBounds(PICKUP_SECONDS_BUCKETS).withoutExemplars().register(registry);
    agentCost = Counter.builder().name(AGENT_COST_USD_TOTAL)
        .help("What the agents' backends said their runs cost, in US dollars (presets that report it)")
        .labelNames("backend").withoutExemplars().register(registry);
    agentTokens = Counter.builder().name(AGENT_TOKENS_TOTAL)
        .help("Tokens the agents' backends said their runs used, by kind (presets that report them)")
        .labelNames("backend", "kind").withoutExemplars().register(registry);
    gauge(TASKS_RUNNING, "Agents running now", () -> running);
    gauge(TASKS_WAITING, "Tasks queued for a free agent or slot", () -> waiting);
    gauge(TASKS_DEFERRED, "Tasks waiting on dependencies (not claimed)", () -> deferred);
    gauge(OUTBOX_DEPTH, "Results and notifications not yet acknowledged",
        () -> outboxDepth);
    gauge(CLAIMING_PAUSED, "1 while claiming is paused for a usage limit or the daily spend cap of the agent's backend", () -> paused);
  }

  /** A fresh instance with its own registry. */
  public static DispatchMetrics create() {
    return new DispatchMetrics();
  }

  private Counter counter(String name, String help) {
    return Counter.builder().name(name).help(help).withoutExemplars().register(registry);
  }

  private void gauge(String name, String help, java.util.function.Supplier<IntSupplier> source) {
    GaugeWithCallback.builder().name(name).help(help)
        .callback(cb -> {
          int v;
          try {
            v = source.get().getAsInt();
          } catch (RuntimeException e) {
            return; // a failing source leaves its gauge out of this scrape, not the whole scrape
          }
          cb.call(v);
        }).register(registry);
  }

  /** One task left this service's hands; {@code outcome} is one of {@link #OUTCOMES}. */
  public void taskFinished(String outcome) {
    CounterDataPoint c = tasks.get(outcome);
    if (c == null) throw new IllegalArgumentException("unknown task outcome: " + outcome);
    c.inc();
  }

  public void strike() {
    strikes.inc();
  }

  public void leaseRenewed() {
    leaseRenewals.inc();
  }

  public void leaseRenewalFailed() {
    leaseRenewalFailures.inc();
  }

  public void agentFinished(Duration took) {
    agentDuration.observe(seconds(took));
  }

  /**
   * What one attempt's backend ({@code backend}, a preset's name) said the run used; a null
   * figure is one it did not report, and adds nothing.
   */
  public void agentUsage(String backend, Double costUsd, Long input, Long output, Long cacheRead, Long cacheWrite) {
    if (costUsd != null && costUsd > 0) agentCost.labelValues(backend).inc(costUsd);
    Long[] counts = {input, output, cacheRead, cacheWrite};
    for (int i = 0; i < counts.length; i++) {
      if (counts[i] != null && counts[i] > 0) agentTokens.labelValues(backend, TOKEN_KINDS.get(i)).inc(counts[i]);
    }
  }

  /** From the task's {@code created_at} to its agent's start (negative clock skew counts as 0). */
  public void pickedUp(Duration createdToAgentStart) {
    pickupLatency.observe(seconds(createdToAgentStart));
  }

  public void webSocketReconnected() {
    reconnects.inc();
  }

  /** The gauges' sources, read at every scrape; until called, they read 0. May be called again. */
  public void gauges(IntSupplier running, IntSupplier waiting, IntSupplier deferred,
      IntSupplier outboxDepth) {
    this.running = running;
    this.waiting = waiting;
    this.deferred = deferred;
    this.outboxDepth = outboxDepth;
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** Writes every metric in the Prometheus text format ({@link #CONTENT_TYPE}). */
  public void writeText(OutputStream out) throws IOException {
    writer.write(out, registry.scrape());
  }

  public String text() {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try {
      writeText(b);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return b.toString(StandardCharsets.UTF_8);
  }

  private static double seconds(Duration d) {
    return d.isNegative() ? 0 : d.toNanos() / 1e9;
  }
}
