package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.lines;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.Http;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The dependency gate against the dev server: order, cascades, cycles, restarts, other channels. */
@Timeout(90)
final class DependencyGateTest {
  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;
  Path runs;

  @BeforeEach
  void startServer() {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    runs = dir.resolve("runs.log");
  }

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  /** An agent that logs "start|end <task> <epoch ms>" and fails when its title contains FAIL. */
  ServiceConfig.Builder config(String extra) {
    Path agent = DispatchFixture.agent(dir, "agent.sh",
        "echo \"start $ATS_TASK_ID $(date +%s%3N)\" >> " + runs + "\n"
            + "cat > /dev/null\n" + extra + "\n"
            + "echo \"end $ATS_TASK_ID $(date +%s%3N)\" >> " + runs + "\n"
            + "case \"$ATS_TASK_TITLE\" in *FAIL*) echo broken >&2; exit 3;; esac\n"
            + "echo \"done $ATS_TASK_ID\"");
    ServiceConfig.Builder b = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
    b.concurrency = 8;
    b.dependencyRecheck = Duration.ofSeconds(60); // events only, unless a test says otherwise
    return b;
  }

  void start(ServiceConfig.Builder b) {
    service = DispatchFixture.start(server.url(), b.build(), "ada-1", dir);
  }

  long create(String title, String dependsOn) {
    return DispatchFixture.create(http, title, 5, dependsOn == null ? null : "{\"depends_on\":" + dependsOn + "}");
  }

  long createIn(String channel, String title) {
    Http.Resp r = http.post("/tasks", "{\"title\":" + Http.json(title) + ",\"channel\":\"" + channel + "\"}");
    assertEquals(201, r.status(), r.text());
    return r.task().path("id").asLong();
  }

  JsonNode task(long id) {
    return DispatchFixture.task(http, id);
  }

  /** Task id → epoch ms of the agent's start and end lines. */
  Map<Long, long[]> runTimes() {
    Map<Long, long[]> out = new HashMap<>();
    for (String l : lines(runs)) {
      String[] f = l.split(" ");
      long[] t = out.computeIfAbsent(Long.parseLong(f[1]), k -> new long[] {-1, -1});
      if (f[0].equals("start")) {
        assertEquals(-1, t[0], "task " + f[1] + " started twice");
        t[0] = Long.parseLong(f[2]);
      } else {
        t[1] = Long.parseLong(f[2]);
      }
    }
    return out;
  }

  @Test
  void aChainOfTwentyRunsInOrderEachLinkWithinASecondOfItsParent() throws Exception {
    start(config(""));
    List<Long> ids = new ArrayList<>();
    ids.add(create("link 0", null));
    for (int i = 1; i < 20; i++) ids.add(create("link " + i, "[\"" + ids.get(i - 1) + "\"]"));
    long last = ids.get(19);
    DispatchFixture.awaitStatus(http, last, "completed", Duration.ofSeconds(60));
    Map<Long, long[]> t = runTimes();
    for (int i = 1; i < 20; i++) {
      long parent = ids.get(i - 1);
      long child = ids.get(i);
      Instant parentDone = Instant.parse(task(parent).path("completed_at").asText());
      long startMs = t.get(child)[0];
      assertTrue(startMs >= t.get(parent)[1], "link " + i + " started before its parent ended");
      long handoff = startMs - parentDone.toEpochMilli();
      assertTrue(handoff >= 0 && handoff < 1000, "link " + i + " started " + handoff + " ms after its parent completed");
    }
    for (long id : ids) {
      assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), id, "attempt_started").size(), "task " + id);
    }
  }

  @Test
  void aDiamondRunsTheJoinOnceAfterBothBranches() throws Exception {
    start(config("sleep 0.2"));
    long a = create("top", null);
    long b = create("left", "[" + a + "]");
    long c = create("right", "\"" + a + "\"");
    long d = create("join", "[\"" + b + "\", " + c + "]");
    DispatchFixture.awaitStatus(http, d, "completed", Duration.ofSeconds(30));
    Map<Long, long[]> t = runTimes();
    assertTrue(t.get(b)[0] >= t.get(a)[1] && t.get(c)[0] >= t.get(a)[1]);
    assertTrue(t.get(d)[0] >= Math.max(t.get(b)[1], t.get(c)[1]), "join started before a branch ended");
    assertEquals(4, t.size());
  }

  @Test
  void aFailureInTheMiddleFailsEveryDescendantAtOnce() throws Exception {
    start(config(""));
    List<Long> ids = new ArrayList<>();
    ids.add(create("link 0", null));
    ids.add(create("link 1", "[" + ids.get(0) + "]"));
    ids.add(create("link 2 FAIL", "[" + ids.get(1) + "]"));
    for (int i = 3; i < 8; i++) ids.add(create("link " + i, "[" + ids.get(i - 1) + "]"));
    long broken = ids.get(2);
    DispatchFixture.awaitStatus(http, broken, "failed", Duration.ofSeconds(30));
    // dependency_recheck is 60 s, so only the event-driven cascade can fail the rest in time
    DispatchFixture.await("every descendant failed", Duration.ofSeconds(5),
        () -> ids.subList(3, 8).stream().allMatch(id -> task(id).path("status").asText().equals("failed")));
    assertEquals("completed", task(ids.get(1)).path("status").asText());
    assertEquals("Blocked: dependency #" + broken + " (failed) failed", task(ids.get(3)).path("reason").asText());
    for (int i = 4; i < 8; i++) {
      JsonNode t = task(ids.get(i));
      assertEquals("failed", t.path("status").asText());
      assertEquals("Blocked: dependency #" + ids.get(i - 1) + " (failed) failed", t.path("reason").asText());
      assertTrue(DispatchFixture.ledger(dir.resolve("state"), ids.get(i), "attempt_started").isEmpty());
    }
    assertEquals(3, runTimes().size(), "no agent ran for a blocked task");
  }

  @Test
  void cyclesAndSelfDependenciesFailFastNamingTheIds() throws Exception {
    // ids are sequential on a fresh server, so the cycle can be written before its tasks exist
    long a = create("A", "[2]");
    long b = create("B", "[" + a + "]");
    assertEquals(2, b);
    long self = create("self", "[3]");
    assertEquals(3, self);
    long free = create("free", null);
    start(config(""));
    DispatchFixture.awaitStatus(http, a, "failed", Duration.ofSeconds(5));
    DispatchFixture.awaitStatus(http, b, "failed", Duration.ofSeconds(5));
    DispatchFixture.awaitStatus(http, self, "failed", Duration.ofSeconds(5));
    String ra = task(a).path("reason").asText();
    assertTrue(ra.equals("Blocked: dependency cycle #1 → #2 → #1") || ra.equals("Blocked: dependency cycle #2 → #1 → #2"), ra);
    assertEquals(ra, task(b).path("reason").asText());
    assertEquals("Blocked: task #3 depends on itself", task(self).path("reason").asText());
    DispatchFixture.awaitStatus(http, free, "completed", Duration.ofSeconds(10));
    assertEquals(1, runTimes().size());
  }

  @Test
  void aDependencyThatDoesNotExistFailsAtOnce() throws Exception {
    start(config(""));
    long t = create("orphan", "[\"424242\", \"x7\"]");
    DispatchFixture.awaitStatus(http, t, "failed", Duration.ofSeconds(5));
    assertEquals("Blocked: invalid dependency id \"x7\"", task(t).path("reason").asText());
    long u = create("orphan 2", "[424242]");
    DispatchFixture.awaitStatus(http, u, "failed", Duration.ofSeconds(5));
    assertEquals("Blocked: dependency #424242 (not found) failed", task(u).path("reason").asText());
  }

  @Test
  void deferredTasksSurviveARestartAndWaitForADependencyInAnotherChannel() throws Exception {
    long otherTask = createIn("elsewhere", "dependency in another channel");
    ServiceConfig.Builder b = config("");
    b.dependencyRecheck = Duration.ofMillis(300);
    start(b);
    long child = create("child", "[" + otherTask + "]");
    long grandchild = create("grandchild", "[" + child + "]");
    Thread.sleep(1000); // several re-checks happen; nothing may run
    for (long id : List.of(child, grandchild)) {
      JsonNode t = task(id);
      assertEquals("pending", t.path("status").asText());
      assertTrue(t.path("assignee").isNull() || t.path("assignee").isMissingNode(), t.toString());
      assertTrue(DispatchFixture.ledger(dir.resolve("state"), id).isEmpty(), "no claim, no strike");
    }
    assertEquals(2, service.engine().deferredNow(), "both deferred");
    service.close();

    start(b); // the new service rebuilds its deferred set from ATS
    DispatchFixture.await("deferred again", Duration.ofSeconds(5), () -> service.engine().deferredNow() == 2);
    Http other = new Http(server.url(), "agent", "someone-else", "Someone Else");
    assertEquals(200, other.post("/tasks/" + otherTask + "/claim", "{}").status());
    assertEquals(200, other.post("/tasks/" + otherTask + "/complete", "{\"outputs\":[]}").status());
    DispatchFixture.awaitStatus(http, grandchild, "completed", Duration.ofSeconds(10));
    assertEquals(2, runTimes().size());
  }

  @Test
  void aTaskWaitingLongerThanTheDependencyTimeoutIsFailedWithItsChain() throws Exception {
    long otherTask = createIn("elsewhere", "never finishes");
    ServiceConfig.Builder b = config("");
    b.dependencyRecheck = Duration.ofMillis(200);
    b.dependencyTimeout = Duration.ofHours(1);
    FakeClock clock = new FakeClock();
    AtsSettings s = new AtsSettings(server.url(), "default", "main", false, "agent", "ada-1", "Ada");
    service = new Service(b.build(), s, new HttpAtsClient(s, Duration.ofSeconds(10)), new ProcessAgentRunner(),
        clock, Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString()), DispatchFixture.FAST);
    service.start();
    long child = create("child", "[" + otherTask + "]");
    long grandchild = create("grandchild", "[" + child + "]");
    DispatchFixture.await("both deferred", Duration.ofSeconds(5), () -> service.engine().deferredNow() == 2);
    Thread.sleep(600); // several re-checks on the frozen clock: nothing expires
    assertEquals("pending", task(child).path("status").asText());
    clock.advance(Duration.ofMinutes(61));
    DispatchFixture.awaitStatus(http, grandchild, "failed", Duration.ofSeconds(5));
    DispatchFixture.awaitStatus(http, child, "failed", Duration.ofSeconds(5));
    assertEquals("Blocked: dependency #" + otherTask + " not finished after 1h", task(child).path("reason").asText());
    // it waited as long, so either reason is right: its own timeout or its failed parent
    assertTrue(task(grandchild).path("reason").asText().startsWith("Blocked: dependency #" + child + " "),
        task(grandchild).toString());
    assertEquals(List.of(), lines(runs));
  }

  @Test
  void severalParentsFinishingTogetherStartTheChildOnce() throws Exception {
    start(config("sleep 0.3"));
    List<Long> parents = new ArrayList<>();
    for (int i = 0; i < 6; i++) parents.add(create("parent " + i, null));
    long child = create("child", parents.toString());
    DispatchFixture.awaitStatus(http, child, "completed", Duration.ofSeconds(30));
    Map<Long, long[]> t = runTimes();
    long lastParentEnd = parents.stream().mapToLong(p -> t.get(p)[1]).max().orElseThrow();
    assertTrue(t.get(child)[0] >= lastParentEnd);
    assertEquals(1, DispatchFixture.ledger(dir.resolve("state"), child, "attempt_started").size());
    assertEquals(7, t.size());
  }

  @Test
  void parsesTheJavaScriptShapes() {
    assertEquals(List.of(12L), Dependencies.atsIds(Http.JSON.valueToTree("12")));
    assertEquals(List.of(12L), Dependencies.atsIds(Http.JSON.valueToTree(12)));
    assertEquals(List.of(1L, 2L), Dependencies.atsIds(Http.JSON.valueToTree(List.of("1", 2, "#1"))));
    assertEquals(List.of("-4", "x"), Dependencies.parse(Http.JSON.valueToTree(List.of("-4", "x")), "ats").invalid());
    assertTrue(Dependencies.parse(null, "ats").isEmpty());
  }
}
