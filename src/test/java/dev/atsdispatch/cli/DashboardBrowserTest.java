package dev.atsdispatch.cli;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17's dashboard in a real browser: the real service ({@code run} in a child JVM) against
 * the dev server over real sockets, real agent processes, and Debian's chromium driven by
 * playwright-core ({@code src/test/browser/dashboard-check.mjs}). The browser loads the overview
 * with tasks running and sees an agent's output arrive live, opens a task page and its log, sees
 * the dependency graph of a three-task chain and a failure with its reopen button, and presses
 * cancel: the agent stops and the task leaves the running list. Then, over plain HTTP: the task
 * failed at ATS as cancelled by an operator, give back returns a task to its queue, and the
 * action and host guards hold. Screenshots go to {@code target/dashboard-screenshots/}.
 */
@Timeout(240)
final class DashboardBrowserTest {
  private static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  private DevServer server;
  private ChildJvm service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void theOperatorWatchesCancelsAndGivesBackInARealBrowser() throws Exception {
    Path shots = Path.of("target", "dashboard-screenshots").toAbsolutePath();
    Files.createDirectories(shots);
    server = DevServer.builder().port(0).inMemory().start();
    Http api = new Http(server.url(), "human", "tester", "Tester");
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, String.join("\n", "#!/bin/sh",
        "if [ \"$ATS_TASK_TITLE\" = fails ]; then echo 'about to fail'; exit 3; fi",
        "if [ \"$ATS_TASK_TITLE\" = asks ]; then",
        "  if [ -n \"$ATS_ANSWER\" ]; then echo \"painted it $ATS_ANSWER\"; exit 0; fi",
        "  echo 'Which colour should the stripes be?' > \"$ATS_QUESTIONS_DIR/001.question\"; exit 0",
        "fi",
        "i=0",
        "while true; do echo \"tick $ATS_TASK_ID $i\"; i=$((i+1)); sleep 0.3; done", ""));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    int port = freePort();
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "none");
    env.put("ATS_DISPATCH_STATUS_PORT", Integer.toString(port));
    env.put("ATS_DISPATCH_CONCURRENCY", "4");
    env.put("ATS_DISPATCH_RECONCILE_EVERY", "1s");

    long failed = create(api, "fails", null);
    long asks = create(api, "asks", null);
    long running = create(api, "watched", null);
    long cancelled = create(api, "to cancel", null);
    long a = create(api, "chain a", null);
    long b = create(api, "chain b", a);
    long c = create(api, "chain c", b);
    service = ChildJvm.start(dir, "dash", env, List.of("run", "--transport", "http", "--url", server.url(),
        "--channel", "dash", "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
        "--keys-dir", dir.resolve("keys").toString()));
    String base = "http://127.0.0.1:" + port;
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
      assertTrue(service.process().isAlive(), () -> "the service exited:\n" + service.stderr());
      JsonNode o = getJson(base + "/api/overview");
      return o != null && o.path("totals").path("running").asInt() == 3 && o.path("totals").path("deferred").asInt() == 2
          && o.path("totals").path("awaiting_answer").asInt() == 1
          && api.get("/tasks/" + failed).task().path("status").asText().equals("failed");
    });

    Process node = new ProcessBuilder("node", "dashboard-check.mjs", base, shots.toString(), "ats:" + running,
        "ats:" + cancelled, "ats:" + a + ",ats:" + b + ",ats:" + c, "ats:" + failed, "ats:" + asks)
        .directory(Path.of("src/test/browser").toFile()).redirectErrorStream(false).start();
    String out;
    String err;
    try (InputStream o = node.getInputStream(); InputStream e = node.getErrorStream()) {
      assertTrue(node.waitFor(150, TimeUnit.SECONDS), "the browser script did not end");
      out = new String(o.readAllBytes(), StandardCharsets.UTF_8).strip();
      err = new String(e.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertEquals(0, node.exitValue(), () -> "browser script failed:\n" + out + "\n" + err + "\nservice:\n" + service.stderr());
    JsonNode seen = M.readTree(out.substring(out.lastIndexOf("\n{") + 1));

    assertEquals(3, seen.path("running_count").asInt(), seen.toString());
    assertTrue(seen.path("tail").asText().matches("tick " + running + " \\d+"), seen.toString());
    assertEquals("ready", seen.path("ready").asText());
    assertTrue(seen.path("task_fields").asText().contains("watched"), seen.toString());
    assertTrue(seen.path("task_fields").asText().contains("running"), seen.toString());
    assertEquals(1, seen.path("task_attempts").asInt());
    assertTrue(seen.path("log_has_tick").asBoolean());
    assertEquals(List.of("ats:" + a, "ats:" + b, "ats:" + c), strings(seen.path("graph_nodes")));
    assertEquals(List.of("ats:" + b + "->ats:" + a, "ats:" + c + "->ats:" + b), strings(seen.path("graph_edges")));
    assertEquals(2, seen.path("graph_waiting").asInt());
    assertEquals(1, seen.path("graph_in_progress").asInt(), "the chain's first task runs here");
    assertEquals("Agent exited with code 3", seen.path("failure_reason").asText());
    assertEquals(1, seen.path("failure_reopen_button").asInt());
    assertTrue(seen.path("reopened").asBoolean());
    assertEquals("Q1: Which colour should the stripes be?", seen.path("question").asText());
    // answered in the page: the task resumes with the answer and completes
    await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/tasks/" + asks).task().path("status").asText().equals("completed"));
    assertEquals("painted it purple", api.get("/tasks/" + asks).task().path("outputs").get(0).path("response").asText());
    // reopened at ATS: the service takes it again (and its agent fails again)
    await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("state/tasks/ats/" + failed + "/events.jsonl"))
        .contains("\"attempt\":2"));
    assertTrue(seen.path("cancelled_row_gone").asBoolean());
    assertEquals(List.of("ats:" + running, "ats:" + a).stream().sorted().toList(), strings(seen.path("still_listed")));
    assertEquals(0, seen.path("page_errors").size(), seen.toString());
    for (String png : List.of("overview.png", "task.png", "dependencies.png", "failures.png", "after-cancel.png")) {
      assertTrue(Files.size(shots.resolve(png)) > 10_000, png);
    }

    // the cancelled task failed at ATS, without a strike, and its agent ended
    JsonNode t = api.get("/tasks/" + cancelled).task();
    assertEquals("failed", t.path("status").asText());
    String ledger = Files.readString(dir.resolve("state/tasks/ats/" + cancelled + "/events.jsonl"));
    assertTrue(ledger.contains("\"outcome\":\"interrupted\",\"strike\":false"), ledger);
    assertTrue(ledger.contains("Cancelled by an operator"), ledger);

    // an action needs the page's token; a foreign host name gets nothing (DNS rebinding)
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> noToken = http.send(HttpRequest.newBuilder(URI.create(base + "/api/tasks/ats:" + running + "/give-back"))
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(403, noToken.statusCode(), noToken.body());
    HttpResponse<String> viaGet = http.send(HttpRequest.newBuilder(URI.create(base + "/api/tasks/ats:" + running + "/give-back"))
        .GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, viaGet.statusCode(), viaGet.body());
    assertTrue(rawStatusLine(port, "GET /api/overview HTTP/1.1\r\nHost: rebound.example:" + port + "\r\nConnection: close\r\n\r\n")
        .contains(" 403 "));
    assertEquals("in_progress", api.get("/tasks/" + running).task().path("status").asText(), "a refused request changed nothing");

    // give back with the token: the task returns to its queue, no strike, and is left to others
    String page = http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(), HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = Pattern.compile("name=\"ats-dispatch-action-token\" content=\"([0-9a-f]+)\"").matcher(page);
    assertTrue(m.find(), page);
    HttpResponse<String> back = http.send(HttpRequest.newBuilder(URI.create(base + "/api/tasks/ats:" + running + "/give-back"))
        .header("X-ATS-Dispatch-Token", m.group(1)).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, back.statusCode(), back.body());
    await().atMost(Duration.ofSeconds(20)).until(() -> api.get("/tasks/" + running).task().path("status").asText().equals("pending"));
    String l2 = Files.readString(dir.resolve("state/tasks/ats/" + running + "/events.jsonl"));
    assertTrue(l2.contains("\"event\":\"released\",\"why\":\"operator\""), l2);
    // the running list moved on without it; two reconciles later (each lists it pending) it is still left to others
    await().atMost(Duration.ofSeconds(10)).until(() -> getJson(base + "/api/overview").path("agents").size() == 1);
    long r0 = getJson(base + "/api/overview").path("routes").get(0).path("reconciles").asLong();
    await().atMost(Duration.ofSeconds(20)).until(
        () -> getJson(base + "/api/overview").path("routes").get(0).path("reconciles").asLong() >= r0 + 2);
    assertEquals("pending", api.get("/tasks/" + running).task().path("status").asText());
  }

  private static List<String> strings(JsonNode a) {
    List<String> out = new java.util.ArrayList<>();
    a.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static long create(Http api, String title, Long dependsOn) {
    String payload = dependsOn == null ? "{}" : "{\"depends_on\":[\"" + dependsOn + "\"]}";
    return api.post("/tasks", "{\"title\":\"" + title + "\",\"channel\":\"dash\",\"payload\":" + payload + "}")
        .task().path("id").asLong();
  }

  private static JsonNode getJson(String url) {
    try {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? M.readTree(r.body()) : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** A request written by hand (the JDK's client will not set a Host header of its own). */
  private static String rawStatusLine(int port, String request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      OutputStream o = s.getOutputStream();
      o.write(request.getBytes(StandardCharsets.US_ASCII));
      o.flush();
      byte[] b = s.getInputStream().readAllBytes();
      String text = new String(b, StandardCharsets.UTF_8);
      return text.substring(0, Math.max(0, text.indexOf('\r')));
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
