package dev.atsdispatch.dispatch;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.cli.Main;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.board.BoardSettings;
import dev.atsdispatch.source.board.BoardSource;
import dev.atsdispatch.time.Clock;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Questions to humans on a board: the card goes back to its queue with the question as a comment
 * and is left alone there (listed again and again, never run) until {@code ats-dispatch answer};
 * then its next run gets the answer and the card goes to Done, with no strike.
 */
@Timeout(90)
final class BoardQuestionsTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  Service service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
  }

  static List<String> ids(JsonNode board, String queue) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : board.path("queues").path(queue)) out.add(c.path("id").asText());
    return out;
  }

  static List<String> comments(JsonNode board, String queue) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : board.path("queues").path(queue).path(0).path("comments")) out.add(c.path("text").asText(c.asText()));
    return out;
  }

  String cli(String... args) {
    StringWriter out = new StringWriter();
    picocli.CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(out, true));
    assertEquals(0, cl.execute(args), out.toString());
    return out.toString();
  }

  @Test
  void aCardThatAsksWaitsInItsQueueUntilAnsweredThenRunsWithTheAnswer() throws Exception {
    ObjectNode b = M.createObjectNode();
    b.putObject("queues").putArray("Todo").addObject().put("id", "c1").put("name", "merge the release").put("description", "");
    ((ObjectNode) b.get("queues")).putArray("In Progress");
    ((ObjectNode) b.get("queues")).putArray("Done");
    Path board = dir.resolve("board.json");
    Files.writeString(board, b.toPrettyString());
    Path runs = dir.resolve("runs");
    Path agent = DispatchFixture.agent(dir, "asks.sh", String.join("\n",
        "cat > /dev/null",
        "echo run >> " + runs,
        "if [ -n \"$ATS_ANSWER\" ]; then echo \"done with $ATS_ANSWER\"; exit 0; fi",
        "mkdir -p \"$ATS_QUESTIONS_DIR\" && echo 'Which branch?' > \"$ATS_QUESTIONS_DIR/001.question\""));
    BoardSource source = new BoardSource("board", new BoardSettings(board, "Todo", "In Progress", "Done", "", 2,
        Duration.ofMillis(200)), Clock.SYSTEM, dir.resolve("state").toString());
    ServiceConfig.Builder cfg = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
    cfg.channel = "Todo";
    cfg.reconcileEvery = Duration.ofSeconds(1);
    service = new Service(cfg.build(), source, new ProcessAgentRunner(Clock.SYSTEM, Duration.ofMillis(50)), Clock.SYSTEM,
        Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString()), Service.Extensions.NONE);
    service.start();

    await("the question on the card, back in Todo").atMost(Duration.ofSeconds(30)).until(() -> {
      JsonNode now = M.readTree(board.toFile());
      return ids(now, "Todo").equals(List.of("c1")) && comments(now, "Todo").stream().anyMatch(c -> c.startsWith("Question 1: Which branch?"));
    });
    assertEquals(1, service.engine().statusNow().path("awaiting_answer").asInt());
    // listed again and again meanwhile, and left alone
    int listed = service.engine().statusNow().path("reconciles").asInt();
    await("two more listings").atMost(Duration.ofSeconds(20))
        .until(() -> service.engine().statusNow().path("reconciles").asInt() >= listed + 2);
    assertEquals(List.of("run"), Files.readAllLines(runs), "the waiting card ran again");
    assertEquals(List.of("c1"), ids(M.readTree(board.toFile()), "Todo"));

    cli("answer", "board:c1", "main", "--state-dir", dir.resolve("state").toString());
    await("the card done").atMost(Duration.ofSeconds(30)).until(() -> ids(M.readTree(board.toFile()), "Done").equals(List.of("c1")));
    List<String> said = comments(M.readTree(board.toFile()), "Done");
    assertEquals("done with main", said.get(said.size() - 1).strip(), said.toString());
    assertEquals(2, Files.readAllLines(runs).size());
    assertEquals(0, new StateDir(dir.resolve("state")).ledger(new TaskKey("board", "c1")).summary().strikes());
    assertTrue(cli("questions", "--state-dir", dir.resolve("state").toString()).contains("No questions wait for an answer."));
  }
}
