package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.CliAtsClient;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.testing.AtsStandIn;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.time.Clock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Results over the cli transport, end to end: dev server, the stand-in {@code ats} binary, real
 * agents. A failure reason can carry anything an agent wrote to stderr, but no process argument
 * can carry a NUL: the engine issue saw such a result retried for ever (and blocking the outbox).
 */
@Timeout(90)
final class CliReportTest {
  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;

  @BeforeEach
  void startServer() {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void aStderrTailWithANulFailsTheTaskWithACleanReason() throws Exception {
    Path agent = DispatchFixture.agent(dir, "agent.sh", "cat > /dev/null\n"
        + "case \"$ATS_TASK_TITLE\" in *NUL*) printf 'bad\\000byte\\n' >&2; exit 3;; esac\necho fine");
    ServiceConfig cfg = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys")).build();
    AtsSettings s = new AtsSettings(server.url(), "default", "main", false, "agent", "cli-1", "Cli One");
    Path ats = AtsStandIn.install(dir.resolve("bin"));
    service = new Service(cfg, s, new CliAtsClient(s, ats.toString(), Duration.ofSeconds(30), AtsStandIn.env(dir)),
        new ProcessAgentRunner(), Clock.SYSTEM, Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString()),
        DispatchFixture.FAST);
    service.start();

    long bad = DispatchFixture.create(http, "Writes a NUL", 5, null);
    DispatchFixture.awaitStatus(http, bad, "failed", Duration.ofSeconds(30));
    String reason = DispatchFixture.task(http, bad).path("reason").asText();
    assertTrue(reason.startsWith("Agent exited with code 3: bad"), reason);
    assertFalse(reason.contains("\0"), reason);
    assertTrue(reason.contains("\uFFFD"), "the NUL is shown as a replacement character: " + reason);

    long good = DispatchFixture.create(http, "Fine", 5, null);
    DispatchFixture.awaitStatus(http, good, "completed", Duration.ofSeconds(30));
    DispatchFixture.await("an empty outbox", Duration.ofSeconds(10), () -> service.engine().outboxDepth() == 0);
    assertEquals("failed", DispatchFixture.task(http, bad).path("status").asText());
  }

  /**
   * The cli transport's pickup: the claim and the read of the whole task run side by side, and
   * the agent gets the description the offer (light) did not carry; the attempt's start is one
   * message whose text is its record.
   */
  @Test
  void theAgentGetsTheWholeTaskAndTheStartIsOneMessage() throws Exception {
    Path agent = DispatchFixture.agent(dir, "agent.sh", "grep -c 'the description only the claim brings' || true");
    ServiceConfig cfg = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys")).build();
    AtsSettings s = new AtsSettings(server.url(), "default", "main", false, "agent", "cli-1", "Cli One");
    Path ats = AtsStandIn.install(dir.resolve("bin"));
    Path calls = dir.resolve("calls.log");
    Path counting = DispatchFixture.agent(dir, "ats-counting", "echo \"$*\" >> " + calls + "\nexec " + ats + " \"$@\"");
    service = new Service(cfg, s, new CliAtsClient(s, counting.toString(), Duration.ofSeconds(30), AtsStandIn.env(dir)),
        new ProcessAgentRunner(), Clock.SYSTEM, Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString()),
        DispatchFixture.FAST);
    service.start();
    // subscribed and the start's reconcile done, so the task comes as an event, not from a listing
    DispatchFixture.await("subscribed and reconciled", Duration.ofSeconds(20),
        () -> service.readiness().subscribed() && service.engine().stats().reconciles.get() >= 1);
    Http.Resp r = http.post("/tasks", "{\"title\":\"whole\",\"channel\":\"" + DispatchFixture.CH
        + "\",\"description\":\"the description only the claim brings\"}");
    long id = r.task().path("id").asLong();
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));
    assertEquals("1", DispatchFixture.task(http, id).path("outputs").path(0).path("response").asText(), "the description reached the agent");
    com.fasterxml.jackson.databind.JsonNode thread = http.get("/tasks/" + id + "/messages").body().path("messages");
    assertEquals(1, thread.size(), thread.toString());
    assertEquals("Agent processing started (attempt 1)", thread.get(0).path("parts").get(0).path("content").asText());
    // the event brought the whole task and a place was free: the claim alone, then the note and the result
    List<String> made = java.nio.file.Files.readAllLines(calls).stream()
        .map(l -> l.replaceAll(".*--actor-name Cli One ", "")).filter(l -> l.matches("\\w+( \\w+)? " + id + "( .*)?")).toList();
    assertEquals(List.of("claim " + id, "message add " + id, "complete " + id),
        made.stream().map(l -> l.replaceAll("^(claim|complete|get) (\\d+).*", "$1 $2").replaceAll("^(message add \\d+).*", "$1")).toList(),
        String.join("\n", made));
  }
}
