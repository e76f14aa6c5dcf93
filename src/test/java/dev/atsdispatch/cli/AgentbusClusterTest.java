package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.nats.AgentbusPublish;
import dev.atsdispatch.source.nats.JetStreamSetup;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.NatsCluster;
import dev.atsdispatch.testing.Wait;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.MessageInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-node JetStream cluster on loopback ports with R3 streams, the worker (a separate JVM)
 * given all three URLs, and one node killed mid-run: no task and no result is lost.
 */
@Timeout(240)
final class AgentbusClusterTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  NatsCluster cluster;
  ChildJvm worker;

  @AfterEach
  void stop() throws Exception {
    if (worker != null) worker.close();
    if (cluster != null) cluster.close();
  }

  /** Results on agent.main.results by task id, read through node {@code node} on a new connection. */
  Map<String, Integer> results(int node) {
    try (Connection nc = Nats.connect(cluster.url(node))) {
      JetStreamManagement jsm = nc.jetStreamManagement();
      long last = jsm.getStreamInfo("AGENT_RESULTS").getStreamState().getLastSequence();
      Map<String, Integer> out = new HashMap<>();
      for (long seq = 1; seq <= last; seq++) {
        MessageInfo mi = jsm.getMessage("AGENT_RESULTS", seq);
        JsonNode r = M.readTree(mi.getData());
        if (r.get("status").asText().equals("completed")) out.merge(r.get("task").get("id").asText(), 1, Integer::sum);
      }
      return out;
    } catch (Exception e) {
      return Map.of();
    }
  }

  @Test
  void oneNodeKilledMidRunLosesNoTaskAndNoResult() throws Exception {
    cluster = NatsCluster.start(dir);
    try (Connection nc = Nats.connect(cluster.url(2))) {
      // the cluster elects its JetStream leader first: until then setup is refused
      Wait.until("streams with three replicas", Duration.ofSeconds(60), () -> {
        try {
          JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofSeconds(5), 10), 3);
          return true;
        } catch (Exception notYet) {
          return false;
        }
      });
      Path agent = dir.resolve("agent.sh");
      Files.writeString(agent, "#!/bin/sh\nsleep 0.2\necho done\n");
      Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
      Path cfg = dir.resolve("agentbus.toml");
      Files.writeString(cfg, "[agent]\nid = \"code\"\nchat_cmd = [\"" + agent + "\", \"{input}\"]\n[nats]\nurl = \""
          + cluster.urls() + "\"\n");
      worker = ChildJvm.start(dir, "worker", Map.of("ATS_DISPATCH_AGENT_SANDBOX", "none", "ATS_DISPATCH_STATUS_PORT", "off",
          "ATS_DISPATCH_LOG_FORMAT", "plain"), List.of("agentbus", "worker", "--config", cfg.toString(), "--state-dir",
          dir.resolve("state").toString(), "--keys-dir", dir.resolve("keys").toString(), "--concurrency", "4"));
      Set<String> ids = new HashSet<>();
      var js = nc.jetStream();
      for (int i = 0; i < 60; i++) {
        var t = AgentbusPublish.task("task " + i, "text", "main", "code", null, "chat", UUID.randomUUID());
        js.publish("agent.code.tasks", AgentbusPublish.bytes(t)); // stored on all three before it counts
        ids.add(t.get("id").asText());
      }
      Wait.until("some results", Duration.ofSeconds(60), () -> results(2).size() >= 10);
      cluster.kill(0);
      Wait.until("a result for every task", Duration.ofSeconds(120), () -> results(2).keySet().containsAll(ids));
      Map<String, Integer> got = results(1);
      assertEquals(ids, got.keySet());
      assertEquals(Set.of(1), new HashSet<>(got.values()), "one result per task: " + got);
    }
  }
}
