package dev.atsdispatch.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark harness runs end to end in {@code --quick} mode on the http transport: a dev
 * server and the service as separate JVMs, every workload measured, a sane JSON result, a table,
 * and no process left behind. It proves the harness works, not how fast the service is.
 */
class HarnessSmokeTest {
  @TempDir Path dir;

  @Test
  @Timeout(90)
  void quickRunOnHttpMeasuresEveryWorkloadAndLeavesNoProcess() throws Exception {
    Path out = dir.resolve("result.json");
    ByteArrayOutputStream table = new ByteArrayOutputStream();
    int rc = Harness.run(new String[] {"--quick", "--transport", "http", "--warmup", "1",
        "--tasks-latency", "5", "--tasks-throughput", "20", "--chain", "3", "--soak", "30", "--pending", "12",
        "--timeout", "80s",
        "--jvm-opts", "-XX:TieredStopAtLevel=1 -Xshare:auto", "--out", out.toString()},
        new PrintStream(table, true, StandardCharsets.UTF_8), false);
    String text = table.toString(StandardCharsets.UTF_8);
    JsonNode doc = new ObjectMapper().readTree(out.toFile());

    assertEquals(0, rc, text);
    assertEquals(1, doc.path("results").size(), doc.toPrettyString());
    JsonNode r = doc.path("results").get(0);
    assertEquals("ats-dispatch", r.path("executor").asText());
    assertEquals("http", r.path("transport").asText());
    assertTrue(r.path("errors").isEmpty(), r.path("errors").toString());

    JsonNode ready = r.path("start_to_ready");
    assertTrue(ready.path("ms").asDouble() > 0 && ready.path("ms").asDouble() < 60_000, ready.toString());
    assertTrue(List.of("readyz", "first probe task picked up").contains(ready.path("method").asText()), ready.toString());

    JsonNode lat = r.path("latency");
    assertEquals(5, lat.path("n").asInt());
    assertTrue(lat.path("p50_ms").asDouble() > 0, lat.toString());
    assertTrue(lat.path("p50_ms").asDouble() <= lat.path("p99_ms").asDouble(), lat.toString());
    assertTrue(lat.path("p99_ms").asDouble() <= lat.path("max_ms").asDouble(), lat.toString());

    // the service's own timings split each pickup into stages that add up to it
    JsonNode b = r.path("pickup_breakdown");
    assertEquals(5, b.path("n").asInt(), b.toString());
    double sum = 0;
    for (String stage : PickupBreakdown.STAGES) {
      assertTrue(b.path(stage).path("p50_ms").asDouble() >= 0, stage + ": " + b);
      sum += b.path(stage).path("p50_ms").asDouble();
    }
    assertTrue(sum > 0 && sum < 2 * lat.path("max_ms").asDouble() + 1, "stages " + sum + " ms against " + lat);
    assertTrue(text.contains("pickup breakdown"), text);
    // offered → claimed split again: admission, the wait for a runner, the claim round trip
    for (String stage : PickupBreakdown.CLAIM_STAGES) {
      assertTrue(b.path(stage).path("p50_ms").asDouble() >= 0 && b.path(stage).has("p99_ms"), stage + ": " + b);
    }
    assertTrue(text.contains("offered→claimed: "), text);

    JsonNode tp = r.path("throughput");
    assertEquals(20, tp.path("completed").asInt(), tp.toString());
    assertEquals(0, tp.path("failed").asInt(), tp.toString());
    assertTrue(tp.path("tasks_per_s").asDouble() > 0, tp.toString());
    assertEquals(20, tp.path("tasks_per_s").asDouble() * tp.path("seconds").asDouble(), 1.0, tp.toString());

    JsonNode chain = r.path("chain");
    String status = chain.path("status").asText();
    assertTrue(status.equals("ok") || status.equals("n/a"), chain.toString());
    if (status.equals("ok")) {
      assertEquals(2, chain.path("links").asInt(), chain.toString());
      assertTrue(chain.path("p50_ms").asDouble() >= 0, chain.toString());
    } else {
      assertTrue(chain.path("reason").asText().contains("dependents early"), chain.toString());
    }

    JsonNode rss = r.path("rss");
    assertTrue(rss.path("idle_mb").asDouble() > 10, rss.toString());
    assertTrue(rss.path("peak_mb").asDouble() > 10, rss.toString());
    assertTrue(rss.path("peak_tree_mb").asDouble() >= rss.path("peak_mb").asDouble(), rss.toString());
    assertEquals(0, r.path("duplicate_runs").asInt());

    // memory over more tasks: two rounds (20 + 10), each with a peak and a settled figure
    JsonNode soak = r.path("soak");
    assertEquals(2, soak.path("rounds").asInt(), soak.toString());
    assertEquals(2, soak.path("settled_mb").size(), soak.toString());
    assertTrue(soak.path("peak_mb").get(1).asDouble() > 10 && soak.path("growth").asDouble() > 0, soak.toString());
    assertEquals(0, soak.path("failed").asInt(), soak.toString());
    // memory with tasks waiting behind held slots; then every one of them ran
    JsonNode pending = r.path("pending");
    assertEquals(12, pending.path("n").asInt(), pending.toString());
    assertTrue(pending.path("waiting_mb").asDouble() > 10 && pending.path("after_mb").asDouble() > 10, pending.toString());
    assertTrue(text.contains("memory over 30 more tasks") && text.contains("memory, 12 pending"), text);

    assertTrue(text.contains("pickup latency (n=5)") && text.contains("throughput (n=20, c=8)"), text);
    // (the group probe shell is this JVM's own, kept while it lives, if an earlier test ran agents here)
    assertEquals(List.of(), ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)
        .map(p -> p.pid() + " " + p.info().commandLine().orElse("?"))
        .filter(c -> !c.contains("ats-dispatch-group-probe")).toList(), "processes left behind");
  }

  /**
   * The NATS column: agentbus tasks published to a real nats-server, results read from the result
   * subject; pickup (with the service's own breakdown), throughput and memory measured, each task
   * with exactly one result, and the chain marked n/a (JetStream tasks have no depends_on).
   */
  @Test
  @Timeout(90)
  void quickRunOnNatsMeasuresPickupThroughputAndMemory() throws Exception {
    Path out = dir.resolve("nats.json");
    ByteArrayOutputStream table = new ByteArrayOutputStream();
    int rc = Harness.run(new String[] {"--quick", "--transport", "nats", "--warmup", "1",
        "--tasks-latency", "5", "--tasks-throughput", "30", "--chain", "3", "--pending", "10", "--timeout", "80s",
        "--jvm-opts", "-XX:TieredStopAtLevel=1 -Xshare:auto", "--out", out.toString()},
        new PrintStream(table, true, StandardCharsets.UTF_8), false);
    String text = table.toString(StandardCharsets.UTF_8);
    JsonNode r = new ObjectMapper().readTree(out.toFile()).path("results").get(0);

    assertEquals(0, rc, text);
    assertEquals("nats", r.path("transport").asText());
    assertTrue(r.path("errors").isEmpty(), r.path("errors").toString());
    assertEquals(5, r.path("latency").path("n").asInt(), r.toString());
    assertEquals(5, r.path("pickup_breakdown").path("n").asInt(), r.toString());
    assertEquals(30, r.path("throughput").path("completed").asInt(), r.toString());
    assertEquals(0, r.path("throughput").path("failed").asInt(), r.toString());
    assertEquals(0, r.path("repeated_results").asInt(), r.toString());
    assertEquals(0, r.path("duplicate_runs").asInt(), r.toString());
    assertEquals("n/a", r.path("chain").path("status").asText(), r.toString());
    assertTrue(r.path("pending").path("waiting_mb").asDouble() > 10, r.toString());
    assertTrue(r.path("rss").path("peak_mb").asDouble() > 10, r.toString());
    assertTrue(text.contains("throughput (n=30, c=8)") && text.contains(" nats "), text);
  }
}
