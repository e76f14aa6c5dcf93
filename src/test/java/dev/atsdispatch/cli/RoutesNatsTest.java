package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.nats.AgentbusPublish;
import dev.atsdispatch.source.nats.JetStreamSetup;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.NatsServer;
import dev.atsdispatch.testing.Wait;
import io.nats.client.Connection;
import io.nats.client.Nats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A NATS route beside a board route in one service: an agentbus task on the route's subject runs
 * with the route's agent and prompt template and gets its result on agentbus's result subject,
 * while the board route's card goes to Done.
 */
@Timeout(120)
final class RoutesNatsTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  NatsServer nats;
  ChildJvm service;

  @AfterEach
  void stop() throws Exception {
    if (service != null) service.close();
    if (nats != null) nats.close();
  }

  @Test
  void aNatsRouteAndABoardRouteRunSideBySide() throws Exception {
    nats = NatsServer.start(dir);
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, "#!/bin/sh\nhead -n 1\n");
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    Path board = dir.resolve("board.json");
    Files.writeString(board, "{\"queues\": {\"Todo\": [{\"id\": \"1\", \"name\": \"card one\"}], \"In Progress\": [], \"Done\": []}}");
    Path config = dir.resolve("ats-dispatch.toml");
    Files.writeString(config, String.join("\n",
        "state_dir = \"" + dir.resolve("state") + "\"",
        "keys_dir = \"" + dir.resolve("keys") + "\"",
        "[agent]",
        "sandbox = \"none\"",
        "[status]",
        "port = \"off\"",
        "[nats]",
        "url = \"" + nats.url() + "\"",
        "[routes.code]",
        "source = \"nats\"",
        "agent_id = \"code\"",
        "agent = [\"" + agent + "\"]",
        "prompt = \"NATS task {id}: {title}\"",
        "[routes.cards]",
        "file = \"" + board + "\"",
        "queue = \"Todo\"",
        "agent = [\"" + agent + "\"]",
        "prompt = \"Card {id}: {title}\"",
        ""));
    try (Connection nc = Nats.connect(nats.url())) {
      JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofSeconds(30), 4));
      var task = AgentbusPublish.task("hello", "text", "main", "code", null, "greet", UUID.randomUUID());
      nc.publish("agent.code.tasks", AgentbusPublish.bytes(task));
      nc.flush(Duration.ofSeconds(5));
      service = ChildJvm.start(dir, "routes", Map.of("HOME", dir.toString(), "ATS_DISPATCH_LOG_FORMAT", "plain"),
          List.of("run", "--config", config.toString()));
      JsonNode[] result = new JsonNode[1];
      Wait.until("the NATS route's result", Duration.ofSeconds(60), () -> {
        if (!service.process().isAlive()) throw new AssertionError(service.stderr());
        try {
          var jsm = nc.jetStreamManagement();
          if (jsm.getStreamInfo("AGENT_RESULTS").getStreamState().getMsgCount() < 1) return false;
          result[0] = M.readTree(jsm.getMessage("AGENT_RESULTS", 1).getData());
          return true;
        } catch (Exception e) {
          return false;
        }
      });
      assertEquals("completed", result[0].path("status").asText(), result[0].toString());
      assertEquals("NATS task " + task.get("id").asText() + ": greet", result[0].path("result").asText());
      Wait.until("the card done", Duration.ofSeconds(30), () -> {
        try {
          return M.readTree(board.toFile()).path("queues").path("Done").size() == 1;
        } catch (Exception e) {
          return false;
        }
      });
      assertEquals("Card 1: card one", M.readTree(board.toFile()).path("queues").path("Done").get(0).path("comments")
          .get(0).path("text").asText());
    }
  }
}
