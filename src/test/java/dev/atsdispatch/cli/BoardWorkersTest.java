package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two services ({@code run} with {@code source = board}, separate JVMs) on one artificer board
 * file of 300 cards, one killed with SIGKILL mid-run: every card ends in Done exactly once, only
 * the cards the killed service held ran twice, and those came back after their lease; a card whose
 * agent fails is retried through its queue and then goes to the dead-letter queue with
 * artificer's comments.
 */
@Timeout(180)
final class BoardWorkersTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  final List<ChildJvm> jvms = new ArrayList<>();

  @AfterEach
  void stop() {
    jvms.forEach(ChildJvm::close);
  }

  ChildJvm service(String name, Path board, Path agent) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_SOURCE", "board");
    env.put("ATS_DISPATCH_BOARD_FILE", board.toString());
    env.put("ATS_DISPATCH_BOARD_MAX_RETRIES", "1");
    env.put("ATS_DISPATCH_BOARD_DEAD_LETTER_QUEUE", "Failed");
    env.put("ATS_DISPATCH_BOARD_POLL_INTERVAL", "1s");
    env.put("ATS_DISPATCH_LEASE", "3s");
    env.put("ATS_DISPATCH_CONCURRENCY", "4");
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "none");
    env.put("ATS_DISPATCH_STATUS_PORT", "off");
    env.put("ATS_DISPATCH_LOG_FORMAT", "plain");
    env.put("ATS_DISPATCH_DRAIN", "1s");
    ChildJvm j = ChildJvm.start(dir, name, env, List.of("run", "--agent", agent.toString(),
        "--state-dir", dir.resolve(name + "-state").toString(), "--keys-dir", dir.resolve(name + "-keys").toString()));
    jvms.add(j);
    return j;
  }

  static List<String> ids(JsonNode board, String queue) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : board.path("queues").path(queue)) out.add(c.path("id").asText());
    return out;
  }

  @Test
  void twoServicesOneKilledEveryCardDoneOnceAndAFailingCardEndsInTheDeadLetterQueue() throws Exception {
    ObjectNode b = M.createObjectNode();
    ArrayNode todo = b.putObject("queues").putArray("Todo");
    for (int i = 1; i <= 300; i++) todo.addObject().put("id", "c" + i).put("name", "card " + i).put("description", "");
    todo.addObject().put("id", "bad").put("name", "fails every time").put("description", "");
    ((ObjectNode) b.get("queues")).putArray("In Progress");
    ((ObjectNode) b.get("queues")).putArray("Done");
    ((ObjectNode) b.get("queues")).putArray("Failed");
    Path board = dir.resolve("board.json");
    Files.writeString(board, b.toPrettyString());
    Path runs = dir.resolve("runs");
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, "#!/bin/sh\ncat > /dev/null\necho \"$ATS_TASK_ID\" >> " + runs + "\n"
        + "[ \"$ATS_TASK_ID\" = bad ] && { echo 'no good' >&2; exit 1; }\nsleep 0.1\necho \"done $ATS_TASK_ID\"\n");
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));

    ChildJvm a = service("a", board, agent);
    service("b", board, agent);
    Wait.until("a third of the cards done", Duration.ofSeconds(90), () -> doneCount(board) >= 100);
    a.kill(); // SIGKILL: its cards stay in progress, leased, until the lease runs out
    JsonNode atKill = M.readTree(board.toFile());
    Set<String> heldByA = new HashSet<>();
    for (JsonNode c : atKill.path("queues").path("In Progress")) {
      if (c.path("ats_dispatch").path("owner").asText().endsWith("a-state")) heldByA.add(c.path("id").asText());
    }

    assertFalse(heldByA.isEmpty(), "the kill hit no card: " + atKill);
    Wait.until("every card done", Duration.ofSeconds(120), () -> doneCount(board) == 300
        && ids(read(board), "Failed").contains("bad"));
    JsonNode end = read(board);
    List<String> done = ids(end, "Done");
    assertEquals(300, new HashSet<>(done).size(), "a card is in Done twice");
    assertEquals(List.of(), ids(end, "Todo"));
    assertEquals(List.of(), ids(end, "In Progress"));
    for (JsonNode c : end.path("queues").path("Done")) {
      assertFalse(c.has("ats_dispatch"), "a lease mark left on " + c);
      assertTrue(c.path("comments").get(c.path("comments").size() - 1).path("text").asText().startsWith("done "), c.toString());
    }
    Map<String, Integer> ran = new HashMap<>();
    for (String id : Files.readAllLines(runs)) ran.merge(id, 1, Integer::sum);
    for (int i = 1; i <= 300; i++) assertTrue(ran.containsKey("c" + i), "c" + i + " never ran");
    for (Map.Entry<String, Integer> e : ran.entrySet()) {
      if (e.getKey().equals("bad")) continue;
      if (e.getValue() > 1) {
        assertEquals(2, e.getValue(), e.getKey() + " ran " + e.getValue() + " times");
        assertTrue(heldByA.contains(e.getKey()), e.getKey() + " ran twice but the killed service did not hold it");
      }
    }
    for (String id : heldByA) {
      for (JsonNode c : end.path("queues").path("Done")) {
        if (c.path("id").asText().equals(id)) {
          assertTrue(c.toString().contains("ran out"), "a held card came back without the lease running out: " + c);
        }
      }
    }
    JsonNode bad = end.path("queues").path("Failed").get(0);
    List<String> said = new ArrayList<>();
    for (JsonNode m : bad.path("comments")) said.add(m.path("text").asText());
    assertEquals(2, said.size(), said.toString());
    assertTrue(said.get(0).startsWith("Retry 1/1: Agent exited with code 1") && said.get(0)
        .endsWith(". Moving back to source queue for retry."), said.get(0));
    assertEquals("Max retries (1) exhausted. Moving to dead-letter queue.", said.get(1));
  }

  static JsonNode read(Path board) {
    try {
      return M.readTree(board.toFile());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static int doneCount(Path board) {
    return ids(read(board), "Done").size();
  }
}
