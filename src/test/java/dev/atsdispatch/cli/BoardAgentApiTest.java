package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * An agent on a board card works it through the agent API with {@code curl}, under bubblewrap with
 * the network off, as artificer's agents do through its API: reads its card, comments twice,
 * updates its labels, sets its outputs and moves its card to the next stage, where it stays (a
 * card its agent moved does not go to Done); a field it may not change is refused.
 */
@Timeout(120)
final class BoardAgentApiTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  ChildJvm service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
  }

  @Test
  void anAgentReadsCommentsUpdatesAndMovesItsCard() throws Exception {
    Path board = dir.resolve("board.json");
    Files.writeString(board, "{\"queues\": {\"Todo\": [{\"id\": \"42\", \"name\": \"Fix crash\", \"description\": "
        + "\"the parser crashes\", \"labels\": [\"bug\"], \"assignees\": [], \"comments\": [], \"tasks\": []}], "
        + "\"In Progress\": [], \"Review\": [], \"Done\": []}}");
    Path out = Files.createDirectories(dir.resolve("out"));
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, String.join("\n",
        "#!/bin/sh",
        "cat > /dev/null",
        "api() { curl -s --unix-socket \"$ATS_DISPATCH_API_SOCKET\" -H \"Authorization: Bearer $ATS_DISPATCH_TOKEN\" \"$@\"; }",
        "api http://agent/task > " + out + "/card.json",
        "api -X POST -d '{\"comment\": \"reproduced it\"}' http://agent/tasks/42/comments > /dev/null",
        "api -X PATCH -d '{\"labels\": [\"bug\", \"fixed\"]}' http://agent/tasks/42 > /dev/null",
        "api -o /dev/null -w '%{http_code}' -X PATCH -d '{\"id\": \"43\"}' http://agent/tasks/42 > " + out + "/bad-field",
        "api -X POST -d '{\"comment\": \"fixed in the parser\"}' http://agent/tasks/42/comments > /dev/null",
        "api -X PUT -d '{\"fix\": \"parser\"}' http://agent/tasks/42/outputs > /dev/null",
        "api -o /dev/null -w '%{http_code}' -X POST -d '{\"target_queue\": \"Review\"}' http://agent/tasks/42/move > "
            + out + "/move",
        ""));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    service = ChildJvm.start(dir, "service", Map.of("HOME", dir.toString(), "ATS_DISPATCH_SOURCE", "board",
        "ATS_DISPATCH_BOARD_FILE", board.toString(), "ATS_DISPATCH_AGENT_SANDBOX", "bwrap",
        "ATS_DISPATCH_AGENT_NETWORK", "false", "ATS_DISPATCH_AGENT_RW_BINDS", out.toString(),
        "ATS_DISPATCH_STATUS_PORT", "off", "ATS_DISPATCH_LOG_FORMAT", "plain"),
        List.of("run", "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
            "--keys-dir", dir.resolve("keys").toString()));
    Wait.until("the card in Review, its lease mark gone", Duration.ofSeconds(60), () -> {
      if (!service.process().isAlive()) throw new AssertionError(service.stderr());
      try {
        JsonNode r = M.readTree(board.toFile()).path("queues").path("Review");
        return r.size() == 1 && !r.get(0).has("ats_dispatch");
      } catch (Exception e) {
        return false;
      }
    });
    JsonNode now = M.readTree(board.toFile());
    JsonNode card = now.path("queues").path("Review").get(0);
    assertEquals(0, now.path("queues").path("Done").size(), "a card its agent moved went to Done");
    assertEquals("[\"bug\",\"fixed\"]", card.path("labels").toString());
    List<String> comments = new ArrayList<>();
    for (JsonNode c : card.path("comments")) comments.add(c.path("text").asText());
    assertEquals(3, comments.size(), card.toString());
    assertEquals(List.of("reproduced it", "fixed in the parser"), comments.subList(0, 2), card.toString());
    assertTrue(comments.get(2).contains("\"fix\":\"parser\""), "the outputs as the closing comment: " + comments);
    assertEquals("200", Files.readString(out.resolve("move")));
    assertEquals("409", Files.readString(out.resolve("bad-field")));
    JsonNode read = M.readTree(out.resolve("card.json").toFile());
    assertEquals("Fix crash", read.path("title").asText(), read.toString());
    assertEquals("the parser crashes", read.path("description").asText());
    assertEquals("[\"bug\"]", read.path("payload").path("labels").toString());
  }
}
