package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.cli.Main;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Wait;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Questions to humans with an opaque command agent against the dev server: the question parks the
 * task with no strike and no lease; waiting survives a restart of the service; the answer from
 * {@code ats-dispatch answer} or the thread reaches the next attempt (ATS_ANSWER, the prompt);
 * an unanswered question fails the task after questions.answer_timeout; the agent API asks too.
 */
@Timeout(90)
final class QuestionsTest {
  /** Asks once (a file in its mailbox, or the API when told to), then answers with what it was told. */
  static final String AGENT = String.join("\n",
      "prompt=$(cat)",
      "if [ -n \"$ATS_ANSWER\" ]; then",
      "  case \"$prompt\" in *\"$ATS_ANSWER\"*) echo \"done with $ATS_ANSWER\";; *) echo 'the prompt lacks the answer'; exit 3;; esac",
      "  exit 0",
      "fi",
      "if [ -n \"$ASK_BY_API\" ]; then",
      "  curl -sSf --unix-socket \"$ATS_DISPATCH_API_SOCKET\" -H \"Authorization: Bearer $ATS_DISPATCH_TOKEN\" \\",
      "    -X POST -d '{\"text\":\"Deploy on Friday?\"}' http://agent/task/questions > /dev/null || { echo \"socket=$ATS_DISPATCH_API_SOCKET\" >&2; exit 4; }",
      "  exit 0",
      "fi",
      "mkdir -p \"$ATS_QUESTIONS_DIR\" && echo 'Which branch?' > \"$ATS_QUESTIONS_DIR/001.question\"");

  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;

  @BeforeEach
  void start() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  ServiceConfig.Builder config() {
    ServiceConfig.Builder b = DispatchFixture.config(DispatchFixture.agent(dir, "agent.sh", AGENT), dir.resolve("state"),
        dir.resolve("keys"));
    b.envAllowlist = java.util.List.of("PATH", "HOME", "ASK_BY_API");
    return b;
  }

  void startService(ServiceConfig cfg, boolean byApi) {
    java.util.Map<String, String> env = new java.util.HashMap<>();
    env.put("PATH", System.getenv("PATH"));
    env.put("HOME", dir.toString());
    if (byApi) env.put("ASK_BY_API", "1");
    service = DispatchFixture.start(server.url(), cfg, "ada-q", env);
  }

  String cli(String... args) {
    StringWriter out = new StringWriter();
    picocli.CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(out, true));
    int rc = cl.execute(args);
    assertEquals(0, rc, out.toString());
    return out.toString();
  }

  void awaitParked(long id) {
    try {
      parked(id);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; the task: " + DispatchFixture.task(http, id), e);
    }
  }

  void parked(long id) {
    Wait.until("task " + id + " parked with its question", Duration.ofSeconds(30), () -> {
      JsonNode t = DispatchFixture.task(http, id);
      return t.path("status").asText().equals("failed") && t.path("reason").asText().contains("Waiting for an answer");
    });
  }

  @Test
  void anAnswerFromTheCommandLineReachesTheNextAttemptAcrossARestart() throws Exception {
    startService(config().build(), false);
    long id = DispatchFixture.create(http, "Merge the release", 5, null);
    awaitParked(id);
    assertEquals(1, service.engine().statusNow().path("awaiting_answer").asInt());
    service.close();
    service = null;

    String state = dir.resolve("state").toString();
    JsonNode listed = Http.JSON.readTree(cli("questions", "--json", "--state-dir", state));
    assertEquals("ats:" + id, listed.path("questions").get(0).path("task").asText(), listed.toString());
    assertEquals("Which branch?", listed.path("questions").get(0).path("text").asText());
    cli("answer", Long.toString(id), "main,", "please", "--state-dir", state);

    startService(config().build(), false); // a new incarnation takes the answer in and reopens the task
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));
    assertEquals("done with main, please", DispatchFixture.task(http, id).path("outputs").get(0).path("response").asText().strip());
    TaskLedger.Summary sum = new StateDir(dir.resolve("state")).ledger(TaskKey.of("ats", id)).summary();
    assertEquals(0, sum.strikes(), "the question counted as a strike");
    assertEquals(2, sum.attempts());
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), id, "question_asked").size());
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), id, "answer_delivered").size());
    assertTrue(http.get("/tasks/" + id + "/messages").text().contains("Answer to question 1 (ats-dispatch answer)"));
    assertTrue(cli("questions", "--state-dir", state).contains("No questions wait for an answer."));
  }

  @Test
  void anUnansweredQuestionFailsTheTaskAfterTheAnswerTimeout() throws Exception {
    ServiceConfig.Builder b = config();
    b.answerTimeout = Duration.ofSeconds(2);
    startService(b.build(), false);
    long id = DispatchFixture.create(http, "Merge the hotfix", 5, null);
    Wait.until("the task failed for want of an answer", Duration.ofSeconds(30), () -> {
      JsonNode t = DispatchFixture.task(http, id);
      return t.path("status").asText().equals("failed") && t.path("reason").asText().equals("No answer to question 1 within 2s");
    });
    assertEquals(0, service.engine().statusNow().path("awaiting_answer").asInt());
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), id, "question_expired").size());
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), id, "attempt_started").size(), "it ran again");
  }

  /** Waits until the engine holds {@code child} deferred on {@code dep}, seen failed while it waits for an answer. */
  void awaitDeferredOnParked(long child, long dep) {
    org.awaitility.Awaitility.await("task " + child + " deferred on parked " + dep).atMost(Duration.ofSeconds(20)).until(() -> {
      for (JsonNode t : service.engine().deferredTasksNow().get()) {
        if (t.path("id").asLong() != child) continue;
        for (JsonNode d : t.path("depends_on")) {
          if (d.path("id").asLong() == dep && d.path("status").asText().equals("failed")
              && d.path("waiting_for_answer").asBoolean()) return true;
        }
      }
      return false;
    });
  }

  @Test
  void aTaskDependingOnOneParkedForAQuestionWaitsAndRunsAfterTheAnswer() throws Exception {
    startService(config().build(), false);
    long parent = DispatchFixture.create(http, "Merge the release", 5, null);
    awaitParked(parent);
    long child = DispatchFixture.create(http, "Tag the release", 5, "{\"depends_on\":[" + parent + "]}");
    awaitDeferredOnParked(child, parent);
    assertEquals("pending", DispatchFixture.task(http, child).path("status").asText());
    cli("answer", Long.toString(parent), "main", "--state-dir", dir.resolve("state").toString());
    awaitParked(child); // the child ran (and asked its own question) once its parent was done
    assertEquals("completed", DispatchFixture.task(http, parent).path("status").asText());
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), child, "attempt_started").size());
  }

  @Test
  void aTaskParkedByAnotherDispatcherInAnotherChannelIsWaitedForByItsFailReason() throws Exception {
    ServiceConfig.Builder b = config();
    b.dependencyRecheck = Duration.ofMillis(300); // another channel's changes send no event here
    startService(b.build(), false);
    Http other = new Http(server.url(), "agent", "other-dispatcher", "Other");
    Http.Resp r = other.post("/tasks", "{\"title\":\"elsewhere\",\"channel\":\"elsewhere\"}");
    long parent = r.task().path("id").asLong();
    assertEquals(200, other.post("/tasks/" + parent + "/claim", "{}").status());
    assertEquals(200, other.post("/tasks/" + parent + "/fail",
        "{\"reason\":\"Waiting for an answer to question 2: reply on the task's thread (or ats-dispatch answer)\"}").status());
    long child = DispatchFixture.create(http, "After elsewhere", 5, "{\"depends_on\":[" + parent + "]}");
    awaitDeferredOnParked(child, parent);
    assertEquals("pending", DispatchFixture.task(http, child).path("status").asText());
    assertEquals(200, other.post("/tasks/" + parent + "/reopen", "{\"reason\":\"answered\"}").status());
    assertEquals(200, other.post("/tasks/" + parent + "/claim", "{}").status());
    assertEquals(200, other.post("/tasks/" + parent + "/complete", "{\"outputs\":[]}").status());
    // the child asks its own question, which shows it ran
    awaitParked(child);
  }

  @Test
  void aQuestionAskedThroughTheAgentApiIsAnsweredOnTheThread() throws Exception {
    ServiceConfig.Builder b = config();
    b.agentApi = true;
    startService(b.build(), true);
    long id = DispatchFixture.create(http, "Ship it", 5, null);
    awaitParked(id);
    assertTrue(http.get("/tasks/" + id + "/messages").text().contains("Deploy on Friday?"));
    assertEquals(201, http.post("/tasks/" + id + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"Yes, after lunch\"}]}").status());
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));
    assertEquals("done with Yes, after lunch",
        DispatchFixture.task(http, id).path("outputs").get(0).path("response").asText().strip());
    assertEquals("Deploy on Friday?", java.nio.file.Files.readString(
        dir.resolve("state/tasks/ats/" + id + "/work/questions/001.question")));
  }
}
