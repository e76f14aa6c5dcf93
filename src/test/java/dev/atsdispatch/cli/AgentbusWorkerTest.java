package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.nats.AgentbusPublish;
import dev.atsdispatch.source.nats.JetStreamSetup;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.NatsServer;
import dev.atsdispatch.testing.Wait;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.MessageInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ats-dispatch agentbus worker --config agentbus.toml} as separate JVMs on a real
 * nats-server, killed with SIGKILL as a crash is: a task whose service crashes three times is
 * poisoned; three services sharing one durable over 1,000 tasks, one killed mid-run, give every
 * task exactly one completed result.
 */
@Timeout(300)
final class AgentbusWorkerTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  NatsServer server;
  Connection nc;
  final List<ChildJvm> jvms = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    server = NatsServer.start(dir);
    nc = Nats.connect(server.url());
  }

  @AfterEach
  void stop() throws Exception {
    for (ChildJvm j : jvms) j.close();
    if (nc != null) nc.close();
    if (server != null) server.close();
  }

  Path config(Path agent) throws Exception {
    Path f = dir.resolve("agentbus.toml");
    Files.writeString(f, "[agent]\nid = \"code\"\nchat_cmd = [\"" + agent + "\", \"{input}\"]\n"
        + "[worker]\ntask_timeout_seconds = 120\n[nats]\nurl = \"" + server.url() + "\"\n");
    return f;
  }

  Path agent(String body) throws Exception {
    Path p = dir.resolve("agent.sh");
    Files.writeString(p, "#!/bin/sh\nid=$(printf '%s\\n' \"$1\" | sed -n 's/^Message ID: //p')\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    return p;
  }

  ChildJvm worker(String name, Path config, String concurrency) {
    Map<String, String> env = new HashMap<>();
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "none"); // the agents write a shared record of their runs
    env.put("ATS_DISPATCH_STATUS_PORT", "off");
    env.put("ATS_DISPATCH_LOG_FORMAT", "plain");
    env.put("ATS_DISPATCH_DRAIN", "1s");
    ChildJvm j = ChildJvm.start(dir, name, env, List.of("agentbus", "worker", "--config", config.toString(),
        "--state-dir", dir.resolve(name + "-state").toString(), "--keys-dir", dir.resolve(name + "-keys").toString(),
        "--concurrency", concurrency));
    jvms.add(j);
    return j;
  }

  String publish(String content) throws Exception {
    var t = AgentbusPublish.task(content, "text", "main", "code", null, "chat", UUID.randomUUID());
    nc.publish("agent.code.tasks", AgentbusPublish.bytes(t)); // core NATS, as agentbus publishes
    return t.get("id").asText();
  }

  List<JsonNode> results() throws Exception {
    JetStreamManagement jsm = nc.jetStreamManagement();
    long last = jsm.getStreamInfo("AGENT_RESULTS").getStreamState().getLastSequence();
    List<JsonNode> out = new ArrayList<>();
    for (long seq = 1; seq <= last; seq++) {
      MessageInfo mi = jsm.getMessage("AGENT_RESULTS", seq);
      if (mi.getSubject().equals("agent.main.results")) out.add(M.readTree(mi.getData()));
    }
    return out;
  }

  int resultCount() {
    try {
      return (int) nc.jetStreamManagement().getStreamInfo("AGENT_RESULTS").getStreamState().getMsgCount();
    } catch (Exception e) {
      return -1;
    }
  }

  List<String> lines(Path f) throws Exception {
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  @Test
  void aTaskWhoseServiceCrashesThreeTimesIsPoisoned() throws Exception {
    JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofSeconds(3), 4));
    Path runs = dir.resolve("runs");
    Path cfg = config(agent("echo \"$id\" >> " + runs + "\nsleep 60"));
    String id = publish("this one crashes its worker");
    for (int crash = 1; crash <= 3; crash++) {
      ChildJvm w = worker("w", cfg, "2");
      int n = crash;
      Wait.until("run " + n, Duration.ofSeconds(30), () -> {
        try {
          return lines(runs).size() >= n;
        } catch (Exception e) {
          return false;
        }
      });
      w.kill(); // SIGKILL: no give-back, the delivery count says it crashed
    }
    worker("w", cfg, "2");
    Wait.until("the poison result", Duration.ofSeconds(30), () -> resultCount() == 1);
    JsonNode r = results().get(0);
    assertEquals("failed", r.get("status").asText(), r.toString());
    assertEquals("poison: 3 attempts", r.get("error").asText());
    assertEquals(id, r.get("task").get("id").asText());
    assertEquals(3, lines(runs).size(), "it did not run a fourth time");
    Wait.until("the task terminated", Duration.ofSeconds(10), () -> {
      try {
        ConsumerInfo ci = nc.jetStreamManagement().getConsumerInfo("AGENT_TASKS", "code");
        return ci.getNumAckPending() == 0 && ci.getNumPending() == 0;
      } catch (Exception e) {
        return false;
      }
    });
  }

  @Test
  void threeServicesOnOneDurableWithOneKilledMidRunGiveEveryTaskOneResult() throws Exception {
    JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofSeconds(5), 10));
    Path runs = dir.resolve("runs");
    Path cfg = config(agent("echo \"$id\" >> " + runs + "\nsleep 0.05\necho \"done $id\""));
    ChildJvm a = worker("a", cfg, "4");
    worker("b", cfg, "4");
    worker("c", cfg, "4");
    int total = 1000;
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < total; i++) ids.add(publish("task " + i));
    nc.flush(Duration.ofSeconds(10));
    Wait.until("a third of the results", Duration.ofSeconds(120), () -> resultCount() >= total / 3);
    a.kill(); // mid-run: it holds up to 4 tasks
    Wait.until("every result", Duration.ofSeconds(180), () -> resultCount() >= total);
    // nothing more comes: the consumer has nothing pending or unacknowledged
    Wait.until("every task settled", Duration.ofSeconds(30), () -> {
      try {
        ConsumerInfo ci = nc.jetStreamManagement().getConsumerInfo("AGENT_TASKS", "code");
        return ci.getNumAckPending() == 0 && ci.getNumPending() == 0;
      } catch (Exception e) {
        return false;
      }
    });
    Map<String, Integer> completed = new HashMap<>();
    for (JsonNode r : results()) {
      assertEquals("completed", r.get("status").asText(), r.toString());
      completed.merge(r.get("task").get("id").asText(), 1, Integer::sum);
    }
    assertEquals(ids, completed.keySet(), "every task has a result");
    assertTrue(completed.values().stream().allMatch(n -> n == 1), "exactly one result per task: " + completed);
    Map<String, Integer> ran = new HashMap<>();
    for (String l : lines(runs)) ran.merge(l, 1, Integer::sum);
    assertEquals(ids, ran.keySet());
    long again = ran.values().stream().filter(n -> n > 1).count();
    try (var held = Files.list(dir.resolve("a-state/tasks/nats"))) {
      assertTrue(held.count() > 0, "the killed service had taken tasks");
    }
    System.out.println("tasks run again after the kill: " + again);
    assertTrue(ran.values().stream().allMatch(n -> n <= 2) && again <= 4,
        "only the tasks the killed service held ran again, once: " + again);
  }

  @Test
  void theServerKilledAndRestartedMidRunLosesNoTaskAndNoResult() throws Exception {
    JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofSeconds(5), 10));
    Path runs = dir.resolve("runs");
    Path cfg = config(agent("echo \"$id\" >> " + runs + "\nsleep 0.3\necho \"done $id\""));
    worker("w", cfg, "4");
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 40; i++) ids.add(publish("task " + i));
    nc.flush(Duration.ofSeconds(5));
    Wait.until("some results", Duration.ofSeconds(30), () -> resultCount() >= 5);
    server.kill(); // agents keep running; their results wait in the outbox
    Thread.sleep(1500); // an outage, not a wait for a condition
    server.start();
    Wait.until("a result for every task", Duration.ofSeconds(60), () -> {
      try (Connection fresh = Nats.connect(server.url())) {
        JetStreamManagement jsm = fresh.jetStreamManagement();
        long last = jsm.getStreamInfo("AGENT_RESULTS").getStreamState().getLastSequence();
        Set<String> got = new HashSet<>();
        for (long seq = 1; seq <= last; seq++) {
          got.add(M.readTree(jsm.getMessage("AGENT_RESULTS", seq).getData()).get("task").get("id").asText());
        }
        return got.containsAll(ids);
      } catch (Exception e) {
        return false;
      }
    });
  }
}
