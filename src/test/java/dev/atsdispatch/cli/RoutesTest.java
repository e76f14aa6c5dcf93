package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routes: one service ({@code run}, a separate JVM) with two routes on one board and one on an ATS
 * channel (the dev server), each with its own agent and prompt template, sharing a cap of one. With both queues full, the route with the lower
 * priority value (the downstream stage) runs all its cards before the other route gets a second
 * one; each agent got its own route's prompt.
 */
@Timeout(120)
final class RoutesTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  ChildJvm service;
  dev.atsdispatch.devserver.DevServer ats;

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (ats != null) ats.close();
  }

  Path agent(String name, Path runs) throws Exception {
    Path a = dir.resolve(name + ".sh");
    Files.writeString(a, "#!/bin/sh\nfirst=$(head -n 1)\necho \"" + name + " $ATS_TASK_ID $first\" >> " + runs
        + "\nsleep 0.2\necho ok\n");
    Files.setPosixFilePermissions(a, PosixFilePermissions.fromString("rwx------"));
    return a;
  }

  @Test
  void theLowerPriorityValueRouteGoesFirstAndEachRouteHasItsAgentAndPrompt() throws Exception {
    ObjectNode b = M.createObjectNode();
    ObjectNode queues = b.putObject("queues");
    ArrayNode review = queues.putArray("Review");
    ArrayNode todo = queues.putArray("Todo");
    for (int i = 1; i <= 3; i++) {
      review.addObject().put("id", "r" + i).put("name", "review " + i).put("description", "");
      todo.addObject().put("id", "t" + i).put("name", "build " + i).put("description", "");
    }
    queues.putArray("In Progress");
    queues.putArray("Done");
    Path board = dir.resolve("board.json");
    Files.writeString(board, b.toPrettyString());
    Path runs = dir.resolve("runs");
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path config = dir.resolve("ats-dispatch.toml");
    Files.writeString(config, String.join("\n",
        "concurrency = 1",
        "state_dir = \"" + dir.resolve("state") + "\"",
        "keys_dir = \"" + dir.resolve("keys") + "\"",
        "[agent]",
        "sandbox = \"none\"",
        "[status]",
        "port = \"" + port + "\"",
        "[routes.build]",
        "source = \"board\"",
        "file = \"" + board + "\"",
        "queue = \"Todo\"",
        "priority = 3",
        "agent = [\"" + agent("builder", runs) + "\"]",
        "prompt = \"Build card {id}: {title}\"",
        "[routes.review]",
        "source = \"board\"",
        "file = \"" + board + "\"",
        "queue = \"Review\"",
        "priority = 1",
        "agent = [\"" + agent("reviewer", runs) + "\"]",
        "prompt = \"Review card {id}: {title} (attempt {attempt})\"",
        "[routes.ops]",
        "source = \"ats\"",
        "channel = \"ops\"",
        "priority = 2",
        "agent = [\"" + agent("operator", dir.resolve("ops-runs")) + "\"]",
        "prompt = \"Ops task {id} from {source}: {title}\"",
        ""));
    ats = dev.atsdispatch.devserver.DevServer.builder().port(0).inMemory().start();
    dev.atsdispatch.testing.Http atsApi = new dev.atsdispatch.testing.Http(ats.url(), "human", "tester", "Tester");
    long opsTask = atsApi.post("/tasks", "{\"title\":\"rotate the logs\",\"channel\":\"ops\"}").task().path("id").asLong();
    service = ChildJvm.start(dir, "routes", Map.of("HOME", dir.toString(), "ATS_DISPATCH_LOG_FORMAT", "plain",
        "ATS_URL", ats.url(), "ATS_DISPATCH_TRANSPORT", "http"), List.of("run", "--config", config.toString()));
    Wait.until("every card done", Duration.ofSeconds(60), () -> {
      if (!service.process().isAlive()) throw new AssertionError(service.stderr());
      try {
        return M.readTree(board.toFile()).path("queues").path("Done").size() == 6;
      } catch (Exception e) {
        return false;
      }
    });
    Wait.until("the ATS route's task completed", Duration.ofSeconds(60),
        () -> atsApi.get("/tasks/" + opsTask).task().path("status").asText().equals("completed"));
    assertEquals(List.of("operator " + opsTask + " Ops task " + opsTask + " from ats: rotate the logs"),
        Files.readAllLines(dir.resolve("ops-runs")));
    List<String> order = Files.readAllLines(runs);
    assertEquals(6, order.size(), order.toString());
    // the first start may be either route's (both had cards when it began); after it, review drains first
    List<String> afterFirst = new ArrayList<>(order.subList(1, order.size()));
    int lastReview = -1;
    int firstBuild = -1;
    for (int i = 0; i < afterFirst.size(); i++) {
      if (afterFirst.get(i).startsWith("reviewer")) lastReview = i;
      else if (firstBuild < 0) firstBuild = i;
    }
    assertTrue(firstBuild < 0 || lastReview < firstBuild, "a build card ran before the reviews: " + order);
    for (String line : order) {
      String[] f = line.split(" ", 3);
      String want = f[0].equals("reviewer") ? "Review card " + f[1] + ": review " + f[1].substring(1) + " (attempt 1)"
          : "Build card " + f[1] + ": build " + f[1].substring(1);
      assertEquals(want, f[2], order.toString());
    }
    dev.atsdispatch.testing.Http status = new dev.atsdispatch.testing.Http("http://127.0.0.1:" + port);
    JsonNode routes = status.get("/routes").body().path("routes");
    assertEquals(3, routes.size(), routes.toString());
    assertEquals("ops", routes.get(2).path("channel").asText(), routes.toString());
    assertEquals("build", routes.get(0).path("name").asText());
    assertEquals("Review", routes.get(1).path("queue").asText());
    assertEquals(1, routes.get(1).path("priority").asInt());
    JsonNode st = status.get("/status").body();
    assertEquals(1, st.path("capacity").asInt(), st.toString());
    assertEquals(List.of("build", "review", "ops"), List.of(st.path("routes").get(0).path("route").asText(),
        st.path("routes").get(1).path("route").asText(), st.path("routes").get(2).path("route").asText()), st.toString());
    assertEquals(405, status.post("/routes", "{}").status());
    for (JsonNode c : M.readTree(board.toFile()).path("queues").path("Done")) {
      assertEquals("ok", c.path("comments").get(0).path("text").asText(), c.toString());
    }
  }
}
