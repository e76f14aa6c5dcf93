package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code create --depends-on} and {@code deps}, run in-process against the dev server. */
final class DependencyCommandsTest {
  @TempDir Path dir;
  DevServer server;
  Http http;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void start() {
    server = DevServer.builder().port(0).inMemory().start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stop() {
    server.close();
  }

  Run run(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--url", server.url(), "--transport", "http"));
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      int code = Main.commandLine().execute(all.toArray(String[]::new));
      return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  long createdId(Run r) {
    assertEquals(0, r.code(), r.err());
    String line = r.out().lines().findFirst().orElseThrow();
    assertTrue(line.startsWith("Created task #"), line);
    return Long.parseLong(line.substring("Created task #".length()).split(" ")[0]);
  }

  JsonNode task(long id) {
    return http.get("/tasks/" + id).task();
  }

  int taskCount() {
    return http.get("/tasks?limit=1").body().path("count").asInt();
  }

  @Test
  void createStoresTheDependenciesAsTheJavaScriptVersionDoes() {
    long a = createdId(run("create", "first"));
    long b = createdId(run("create", "second", "--description", "two", "--priority", "8"));
    Run r = run("create", "third", "--depends-on", a + "," + b, "--payload", "{\"gpu\":true}");
    long c = createdId(r);
    assertTrue(r.out().contains("Dependencies: #" + a + ", #" + b), r.out());
    JsonNode t = task(c);
    assertEquals("[\"" + a + "\",\"" + b + "\"]", t.path("payload").path("depends_on").toString());
    assertTrue(t.path("payload").path("gpu").asBoolean());
    assertEquals("ada-dispatch", t.path("channel").asText());
    assertEquals(8, task(b).path("priority").asInt());

    Run json = run("create", "fourth", "--json", "--channel", "other", "--type", "review");
    assertEquals(0, json.code(), json.err());
    JsonNode n = Http.JSON.valueToTree(parse(json.out()));
    assertEquals("other", n.path("channel").asText());
    assertEquals("review", n.path("type").asText());
    assertEquals(List.of(), HelpTextTest.undocumented(n, "create"));
    assertEquals("fourth", task(n.path("id").asLong()).path("title").asText());
  }

  @Test
  void createRefusesMissingDependenciesAndBadPayloadWithoutCreatingAnything() {
    long a = createdId(run("create", "exists"));
    int before = taskCount();
    Run missing = run("create", "child", "--depends-on", a + ",9998,9999");
    assertEquals(1, missing.code());
    assertTrue(missing.err().contains("dependency tasks #9998, #9999 not found; nothing created"), missing.err());

    Run badJson = run("create", "child", "--payload", "{\"a\": ");
    assertEquals(2, badJson.code());
    assertTrue(badJson.err().startsWith("ats-dispatch: --payload is not valid JSON: "), badJson.err());

    Run notObject = run("create", "child", "--payload", "[1,2]");
    assertEquals(2, notObject.code());
    assertTrue(notObject.err().contains("--payload must be a JSON object"), notObject.err());

    Run badId = run("create", "child", "--depends-on", "abc");
    assertEquals(2, badId.code());
    assertTrue(badId.err().contains("not a task id: abc"), badId.err());

    Run badPriority = run("create", "child", "--priority", "11");
    assertEquals(2, badPriority.code());
    assertEquals(before, taskCount(), "nothing was created");
  }

  @Test
  void depsShowsTheTreeWithIconsOtherChannelsAndCycles() {
    long done = createdId(run("create", "build", "--channel", "elsewhere"));
    assertEquals(200, http.post("/tasks/" + done + "/claim", "{}").status());
    assertEquals(200, http.post("/tasks/" + done + "/complete", "{\"outputs\":[]}").status());
    long a = createdId(run("create", "deploy", "--depends-on", Long.toString(done)));
    // a cycle written straight to ATS (create refuses ids that do not exist yet)
    long x = http.post("/tasks", "{\"title\":\"x\",\"channel\":\"ada-dispatch\",\"payload\":{\"depends_on\":[\""
        + (a + 2) + "\"]}}").task().path("id").asLong();
    long y = http.post("/tasks", "{\"title\":\"y\",\"channel\":\"ada-dispatch\",\"payload\":{\"depends_on\":"
        + x + "}}").task().path("id").asLong();
    assertEquals(a + 2, y);
    long lost = http.post("/tasks", "{\"title\":\"lost\",\"channel\":\"ada-dispatch\",\"payload\":{\"depends_on\":\"777\"}}")
        .task().path("id").asLong();

    Run r = run("deps");
    assertEquals(0, r.code(), r.err());
    String out = r.out();
    assertTrue(out.startsWith("Dependency Graph:\n"), out);
    assertTrue(out.contains("  ○ #" + a + " deploy [pending]\n    └─ depends on ● #" + done
        + " build [completed] (channel elsewhere)\n"), out);
    assertTrue(out.contains("  ○ #" + x + " x [pending]  ⟲ cycle: #" + x + " → #" + y + " → #" + x), out);
    assertTrue(out.contains("  ○ #" + lost + " lost [pending]\n    └─ depends on ? #777 (not found)"), out);

    Run one = run("deps", "--task", Long.toString(done));
    assertEquals("Task #" + done + " has no dependencies.\n", one.out());
    Run none = run("deps", "--status", "failed");
    assertEquals("No tasks with dependencies found.\n", none.out());
    Run bad = run("deps", "--status", "weird");
    assertEquals(2, bad.code());

    Run json = run("deps", "--json", "--task", Long.toString(y));
    JsonNode doc = Http.JSON.valueToTree(parse(json.out()));
    assertEquals(List.of(), HelpTextTest.undocumented(doc, "deps"));
    JsonNode n = doc.path("tasks").get(0);
    assertEquals("[" + y + "," + x + "," + y + "]", n.path("cycle").toString());
    assertEquals(x, n.path("depends_on_tasks").get(0).path("id").asLong());
  }

  private static Object parse(String s) {
    try {
      return Http.JSON.readTree(s);
    } catch (java.io.IOException e) {
      throw new AssertionError(s, e);
    }
  }
}
