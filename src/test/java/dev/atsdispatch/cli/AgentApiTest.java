package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent API end to end: the service ({@code run}, a separate JVM) on the dev server, agents
 * under bubblewrap with the network off, calling the API with the real {@code curl} over its Unix
 * socket. One agent reads its task and its own events (SSE), comments twice and sets its outputs
 * (reported instead of its stdout); the next one tries the first one's token (spent) and the first one's task (not its own),
 * and is refused both.
 */
@Timeout(120)
final class AgentApiTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  DevServer server;
  ChildJvm service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void anAgentReadsCommentsAndSetsOutputsAndCannotTouchAnotherTaskOrUseASpentToken() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http ats = new Http(server.url(), "human", "tester", "Tester");
    Path out = Files.createDirectories(dir.resolve("out"));
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, String.join("\n",
        "#!/bin/bash",
        "cat > /dev/null",
        "api() { curl -s --unix-socket \"$ATS_DISPATCH_API_SOCKET\" -H \"Authorization: Bearer $ATS_DISPATCH_TOKEN\" \"$@\"; }",
        "case \"$ATS_TASK_TITLE\" in",
        "  first)",
        "    api http://agent/task > " + out + "/first-task.json",
        "    api -X POST -H 'content-type: application/json' -d '{\"comment\": \"looking at it\"}' "
            + "http://agent/tasks/$ATS_TASK_ID/comments > /dev/null",
        "    api -X POST -d '{\"comment\": \"half way\"}' http://agent/tasks/$ATS_TASK_ID/comments > /dev/null",
        "    api -X PUT -d '{\"verdict\": \"ok\", \"score\": 7}' -o /dev/null -w '%{http_code}' "
            + "http://agent/tasks/$ATS_TASK_ID/outputs > " + out + "/first-outputs-code",
        "    echo 'hello events'",
        "    api -N --max-time 2 http://agent/task/events > " + out + "/first-events.txt",
        "    echo \"$ATS_TASK_ID $ATS_DISPATCH_TOKEN\" > " + out + "/first-token",
        "    echo 'stdout is not the answer' ;;",
        "  second)",
        "    read first token < " + out + "/first-token",
        "    curl -s --unix-socket \"$ATS_DISPATCH_API_SOCKET\" -H \"Authorization: Bearer $token\" -o /dev/null "
            + "-w '%{http_code}' http://agent/task > " + out + "/spent-token-code",
        "    api -o /dev/null -w '%{http_code}' http://agent/tasks/$first > " + out + "/other-task-code",
        "    api -o /dev/null -w '%{http_code}' -X POST -d '{\"comment\": \"x\"}' http://agent/tasks/$first/comments"
            + " > " + out + "/other-comment-code",
        "    echo 'second done' ;;",
        "esac",
        ""));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "bwrap");
    env.put("ATS_DISPATCH_AGENT_API", "true"); // on an ATS channel it is off unless asked for
    env.put("ATS_DISPATCH_AGENT_NETWORK", "false");
    env.put("ATS_DISPATCH_AGENT_RW_BINDS", out.toString());
    env.put("ATS_DISPATCH_STATUS_PORT", "off");
    env.put("ATS_DISPATCH_LOG_FORMAT", "plain");
    service = ChildJvm.start(dir, "service", env, List.of("run", "--transport", "http", "--url", server.url(),
        "--channel", "api", "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
        "--keys-dir", dir.resolve("keys").toString()));

    long first = ats.post("/tasks", "{\"title\":\"first\",\"channel\":\"api\",\"description\":\"check the thing\","
        + "\"payload\":{\"x\":1,\"callback_url\":\"http://127.0.0.1:9/never\"}}").task().path("id").asLong();
    JsonNode done = awaitEnd(ats, first);
    assertEquals("completed", done.path("status").asText(), done.toString() + "\n" + service.stderr());
    JsonNode outputs = done.path("outputs").path(0);
    assertEquals("ok", outputs.path("verdict").asText(), outputs.toString());
    assertEquals(7, outputs.path("score").asInt(), outputs.toString());
    assertEquals(1, outputs.path("attempt").asInt(), outputs.toString());
    assertFalse(outputs.has("response"), "the outputs the agent set stand in for stdout: " + outputs);
    assertEquals("204", Files.readString(out.resolve("first-outputs-code")));

    JsonNode task = M.readTree(out.resolve("first-task.json").toFile());
    assertEquals(Long.toString(first), task.path("id").asText(), task.toString());
    assertEquals("first", task.path("title").asText());
    assertEquals("check the thing", task.path("description").asText());
    assertEquals(1, task.path("payload").path("x").asInt());
    assertFalse(task.path("payload").has("callback_url"), "the service's own fields are not the agent's: " + task);
    assertEquals(1, task.path("attempt").asInt());
    assertEquals(0, task.path("retry_count").asInt());
    assertTrue(task.path("comments").isArray(), task.toString());

    String events = Files.readString(out.resolve("first-events.txt"));
    assertTrue(events.contains("event: started") && events.contains("\"text\":\"hello events\""), events);

    List<String> thread = new ArrayList<>();
    for (JsonNode m : ats.get("/tasks/" + first + "/messages").body().path("messages")) {
      for (JsonNode p : m.path("parts")) if (p.path("type").asText().equals("text")) thread.add(p.path("content").asText());
    }
    assertTrue(thread.contains("looking at it") && thread.contains("half way"), thread.toString());

    long second = ats.post("/tasks", "{\"title\":\"second\",\"channel\":\"api\"}").task().path("id").asLong();
    JsonNode two = awaitEnd(ats, second);
    assertEquals("completed", two.path("status").asText(), two.toString());
    assertEquals("second done", two.path("outputs").path(0).path("response").asText().strip());
    assertEquals("401", Files.readString(out.resolve("spent-token-code")), "a spent token still works");
    assertEquals("403", Files.readString(out.resolve("other-task-code")), "another task could be read");
    assertEquals("403", Files.readString(out.resolve("other-comment-code")), "another task could be commented on");
    assertFalse(thread.contains("x"));
  }

  private JsonNode awaitEnd(Http ats, long id) {
    JsonNode[] t = new JsonNode[1];
    Wait.until("task " + id + " to end", Duration.ofSeconds(60), () -> {
      if (!service.process().isAlive()) throw new AssertionError("the service exited:\n" + service.stderr());
      t[0] = ats.get("/tasks/" + id).task();
      String s = t[0].path("status").asText();
      return s.equals("completed") || s.equals("failed");
    });
    return t[0];
  }
}
