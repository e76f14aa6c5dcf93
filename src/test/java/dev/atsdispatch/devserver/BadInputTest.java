package dev.atsdispatch.devserver;

import static dev.atsdispatch.testing.ApiChecks.expect;
import static dev.atsdispatch.testing.ApiChecks.expectError;
import static dev.atsdispatch.testing.ApiChecks.expectErrorExactly;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Http.Resp;
import dev.atsdispatch.testing.RawHttp;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad requests get the right status and a specific JSON error, and change nothing: after each
 * one the task list, the stats, one task's thread and the project counts are exactly as before.
 */
class BadInputTest {
  private static final int MiB = 1 << 20;
  private static DevServer server;
  private static Http http;

  /** A pending task and an in_progress task, made fresh for every test. */
  private long pending;
  private long running;
  private JsonNode before;
  private boolean checkUnchanged;

  @BeforeAll
  static void start() {
    server = DevServer.builder().port(0).inMemory().enableTestReset(true).start();
    http = new Http(server.url());
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @BeforeEach
  void seed() {
    expect(200, http.post("/_test/reset", (String) null));
    pending = http.create("pending one", "default");
    running = http.create("running one", "default");
    expect(200, http.post("/tasks/" + running + "/claim", "{\"lease_duration\":600000}"));
    expect(201, http.post("/tasks/" + pending + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"hello\"}]}"));
    before = snapshot();
    checkUnchanged = true;
  }

  /** Every test except the ones that change state on purpose ends with nothing changed. */
  @AfterEach
  void nothingChanged() {
    if (checkUnchanged) assertEquals(before, snapshot(), "state changed by a refused request");
  }

  private JsonNode snapshot() {
    ObjectNode s = Http.JSON.createObjectNode();
    s.set("tasks", expect(200, http.get("/tasks")).body());
    s.set("stats", expect(200, http.get("/tasks/stats")).body());
    s.set("pending", expect(200, http.get("/tasks/" + pending)).body());
    s.set("running", expect(200, http.get("/tasks/" + running)).body());
    s.set("orgs", expect(200, http.get("/orgs")).body());
    s.set("projects", expect(200, http.get("/orgs/default/projects?counts=true")).body());
    return s;
  }

  private String path(String template) {
    return template.replace("{p}", Long.toString(pending)).replace("{r}", Long.toString(running));
  }

  // ---- request bodies -----------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
      "POST  | /tasks                | {\"title\":",
      "POST  | /tasks                | {title:\"x\"}",
      "POST  | /tasks                | {\"title\":\"x\"} trailing",
      "PATCH | /tasks/{p}            | {\"priority\":",
      "POST  | /tasks/{p}/claim      | {\"lease_duration\":",
      "POST  | /tasks/{r}/complete   | not json",
      "POST  | /tasks/{p}/messages   | {]",
      "POST  | /tasks/{r}/fail       | {\"reason\":\"x\"",
  })
  void malformedJsonIs400(String method, String template, String body) {
    expectError(400, "Invalid JSON", http.call(method, path(template), body));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
      "POST  | /tasks              | [{\"title\":\"x\"}]",
      "POST  | /tasks              | \"just a string\"",
      "POST  | /tasks              | 42",
      "POST  | /tasks              | null",
      "POST  | /tasks              | true",
      "PATCH | /tasks/{p}          | [\"title\"]",
      "POST  | /tasks/{p}/claim    | []",
      "POST  | /tasks/{p}/messages | \"hello\"",
      "POST  | /orgs               | [\"acme\"]",
  })
  void bodyThatIsNotAnObjectIs400(String method, String template, String body) {
    expectErrorExactly(400, "Request body must be a JSON object",
        http.call(method, path(template), body));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{}", "{\"title\":\"\"}", "{\"title\":\"   \"}", "{\"title\":null}",
      "{\"priority\":5,\"channel\":\"default\"}"})
  void missingOrEmptyTitleIs400(String body) {
    expectErrorExactly(400, "Title is required", http.post("/tasks", body));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"title\":5}", "{\"title\":[\"x\"]}", "{\"title\":{\"a\":1}}",
      "{\"title\":true}"})
  void nonStringTitleIs400(String body) {
    expectErrorExactly(400, "title must be a string", http.post("/tasks", body));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "11", "5.5", "\"5\"", "-1", "true", "[5]"})
  void priorityOutsideOneToTenOrNotIntegerIs400(String priority) {
    expectError(400, "priority must be an integer from 1 to 10",
        http.post("/tasks", "{\"title\":\"t\",\"priority\":" + priority + "}"));
    expectError(400, "priority must be an integer from 1 to 10",
        http.patch("/tasks/" + pending, "{\"priority\":" + priority + "}"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"\"done\"", "\"PENDING\"", "\"\"", "3", "\"pending,completed\""})
  void unknownStatusInPatchIs400(String status) {
    // A valid field alongside must not be applied either.
    expectError(400, "Invalid status",
        http.patch("/tasks/" + pending, "{\"title\":\"renamed\",\"status\":" + status + "}"));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "done            | Invalid status: done",
      "pending,bogus   | Invalid status: bogus",
      "IN_PROGRESS     | Invalid status: IN_PROGRESS",
  })
  void unknownStatusInListIs400(String status, String message) {
    expectError(400, message, http.get("/tasks?status=" + status));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
      "{\"title\":\"\"}             | title must be a non-empty string",
      "{\"title\":7}                | title must be a non-empty string",
      "{\"channel\":\"\"}           | channel must be a non-empty string",
      "{\"type\":\"\"}              | type must be a non-empty string",
      "{\"description\":5}          | description must be a string",
      "{\"payload\":\"x\"}          | payload must be a JSON object",
  })
  void badPatchFieldsAre400(String body, String message) {
    expectError(400, message, http.patch("/tasks/" + pending, body));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "999", "86400001", "\"abc\"", "-1", "1500.5", "\"2000\"", "{}"})
  void leaseOutsideRangeIs400(String lease) {
    String error = expectError(400, "lease_duration",
        http.post("/tasks/" + pending + "/claim", "{\"lease_duration\":" + lease + "}"));
    assertTrue(error.contains("1000") && error.contains("86400000"), error);
  }

  @Test
  void leaseBoundsAreAccepted() {
    checkUnchanged = false;
    Resp low = expect(200, http.post("/tasks/" + pending + "/claim", "{\"lease_duration\":1000}"));
    Instant at = Instant.parse(low.task().path("updated_at").asText());
    assertEquals(1000, Duration.between(at, Instant.parse(low.task().path("lease_expires").asText()))
        .toMillis());
    Resp high = expect(200,
        http.post("/tasks/" + pending + "/claim", "{\"lease_duration\":86400000}"));
    at = Instant.parse(high.task().path("updated_at").asText());
    assertEquals(86_400_000, Duration.between(at,
        Instant.parse(high.task().path("lease_expires").asText())).toMillis());
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"response\":\"ok\"}", "\"ok\"", "5", "true"})
  void outputsNotAnArrayIs400(String outputs) {
    expectErrorExactly(400, "outputs must be an array",
        http.post("/tasks/" + running + "/complete", "{\"outputs\":" + outputs + "}"));
    expectErrorExactly(400, "outputs must be an array",
        http.post("/tasks/" + pending + "/complete", "{\"outputs\":" + outputs + "}"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{}", "{\"parts\":null}", "{\"parts\":[]}", "{\"parts\":\"hi\"}",
      "{\"parts\":{\"type\":\"text\",\"content\":\"hi\"}}", "{\"parts\":[\"hi\"]}",
      "{\"parts\":[{\"content\":\"no type\"}]}", "{\"parts\":[{\"type\":5}]}",
      "{\"parts\":[{\"type\":\"text\",\"content\":\"ok\"},42]}", "{\"content\":\"hi\"}"})
  void badMessagePartsAre400(String body) {
    expectError(400, "part", http.post("/tasks/" + pending + "/messages", body));
  }

  @ParameterizedTest
  @ValueSource(strings = {"[1]", "\"x\"", "5", "true"})
  void payloadNotAnObjectIs400(String payload) {
    expectErrorExactly(400, "payload must be a JSON object",
        http.post("/tasks", "{\"title\":\"t\",\"payload\":" + payload + "}"));
    expectErrorExactly(400, "payload must be a JSON object",
        http.patch("/tasks/" + pending, "{\"payload\":" + payload + "}"));
  }

  // ---- ids ----------------------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "POST  | /tasks/abc/claim",
      "GET   | /tasks/abc",
      "PATCH | /tasks/abc",
      "GET   | /tasks/1.5",
      "POST  | /tasks/-1/claim",
      "POST  | /tasks/0/complete",
      "GET   | /tasks/0x10/messages",
      "POST  | /orgs/default/projects/main/tasks/abc/claim",
  })
  void nonNumericTaskIdIs400(String method, String path) {
    expectError(400, "Invalid task id", http.call(method, path, "{}"));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
      "GET   | /tasks/999999          | ",
      "PATCH | /tasks/999999          | {\"priority\":3}",
      "POST  | /tasks/999999/claim    | {}",
      "POST  | /tasks/999999/complete | {\"outputs\":[]}",
      "POST  | /tasks/999999/fail     | {}",
      "POST  | /tasks/999999/cancel   | ",
      "POST  | /tasks/999999/reject   | {}",
      "POST  | /tasks/999999/reopen   | {}",
      "GET   | /tasks/999999/messages | ",
      "POST  | /tasks/999999/messages | {\"parts\":[{\"type\":\"text\",\"content\":\"x\"}]}",
  })
  void unknownTaskIdIs404(String method, String path, String body) {
    expectErrorExactly(404, "Task not found", http.call(method, path, body));
  }

  // ---- sizes --------------------------------------------------------------------------------

  @Test
  void bodyOverTheLimitIs413() {
    String big = "x".repeat(9 * MiB);
    expectError(413, "too large",
        http.post("/tasks", "{\"title\":\"big\",\"description\":\"" + big + "\"}"));
    expectError(413, "too large", http.post("/tasks/" + running + "/complete",
        "{\"outputs\":[{\"response\":\"" + big + "\"}]}"));
  }

  @Test
  void bodyOverOneMebibyteIsAccepted() throws Exception {
    checkUnchanged = false;
    String response = "y".repeat(3 * MiB / 2);
    String outputs = "[{\"response\":\"" + response + "\"}]";
    Resp done = expect(200,
        http.post("/tasks/" + running + "/complete", "{\"outputs\":" + outputs + "}"));
    assertEquals("completed", done.task().path("status").asText());
    JsonNode stored = expect(200, http.get("/tasks/" + running)).task().path("outputs");
    assertEquals(Http.JSON.readTree(outputs), stored);
  }

  // ---- empty bodies -------------------------------------------------------------------------

  @Test
  void emptyBodiesWorkOnEveryAction() {
    checkUnchanged = false;
    String p = "/tasks/" + pending;
    Resp claim = expect(200, http.post(p + "/claim", (String) null));
    assertEquals("in_progress", claim.task().path("status").asText());
    assertEquals(60_000, Duration.between(Instant.parse(claim.task().path("updated_at").asText()),
        Instant.parse(claim.task().path("lease_expires").asText())).toMillis());
    assertEquals("failed",
        expect(200, http.post(p + "/fail", (String) null)).task().path("status").asText());
    assertEquals("pending",
        expect(200, http.post(p + "/reopen", (String) null)).task().path("status").asText());
    assertEquals("cancelled",
        expect(200, http.post(p + "/cancel", (String) null)).task().path("status").asText());
    expect(200, http.post(p + "/reopen", (String) null));
    assertEquals("rejected",
        expect(200, http.post(p + "/reject", (String) null)).task().path("status").asText());
    expect(200, http.post(p + "/reopen", (String) null));
    Resp done = expect(200, http.post("/tasks/" + running + "/complete", (String) null));
    assertEquals("completed", done.task().path("status").asText());
    assertEquals(0, done.task().path("outputs").size());
    // An empty PATCH is an empty update (PATCH answers the task without its messages).
    ObjectNode unchanged = (ObjectNode) expect(200, http.get(p)).task().deepCopy();
    unchanged.remove("messages");
    assertEquals(unchanged, expect(200, http.patch(p, null)).task());
    expectErrorExactly(400, "Title is required", http.post("/tasks", (String) null));
    assertEquals("pending", expect(200, http.get(p)).task().path("status").asText());
  }

  // ---- methods and routes -------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "DELETE | /tasks/{p}",
      "DELETE | /tasks",
      "PUT    | /tasks",
      "POST   | /tasks/{p}",
      "PUT    | /tasks/{p}",
      "GET    | /tasks/{p}/claim",
      "DELETE | /tasks/{r}/complete",
      "PUT    | /tasks/{p}/messages",
      "POST   | /health",
      "PATCH  | /tasks/stats",
      "POST   | /tasks/stats",
      "GET    | /_test/reset",
      "DELETE | /orgs/default",
      "DELETE | /orgs/default/projects/main",
      "DELETE | /orgs/default/projects/main/tasks/{p}",
  })
  void wrongMethodIs405(String method, String template) {
    expectError(405, "Method " + method + " not allowed", http.call(method, path(template),
        method.equals("GET") ? null : "{}"));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "GET  | /",
      "GET  | /nope",
      "POST | /nope",
      "GET  | /health/extra",
      "GET  | /task",
      "GET  | /tasks/{p}/bogus",
      "POST | /tasks/{p}/bogus",
      "POST | /tasks/{p}/claim/extra",
      "GET  | /orgs/default/nope",
      "GET  | /orgs/default/projects/main/nope",
      "GET  | /_test/other",
  })
  void unknownRouteIs404(String method, String template) {
    expectError(404, "Not found", http.call(method, path(template),
        method.equals("GET") ? null : "{}"));
  }

  /**
   * Requests the HTTP layer itself refuses (bad percent-encoding, an oversized request line)
   * still get a JSON body with a string {@code error} (§2.1: the CLI parses every body as JSON).
   * Sent over a raw socket because HTTP clients re-encode such targets.
   */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "GET /tasks/%zz HTTP/1.1         | 400",
      "POST /tasks/%zz/claim HTTP/1.1  | 400",
      "GET /tasks?search=%zz HTTP/1.1  | 400",
      "GET /tasks/%E9 HTTP/1.1         | 400",
      "GET /LONG HTTP/1.1              | 414",
  })
  void refusalsBelowTheApiAreJsonToo(String requestLine, int status) throws Exception {
    requestLine = requestLine.replace("/LONG", "/tasks?search=" + "a".repeat(20_000));
    RawHttp.Response r = RawHttp.exchange("127.0.0.1", server.port(), requestLine,
        requestLine.startsWith("POST") ? new byte[0] : null, "Content-Type: application/json");
    assertEquals(status, r.status(), r.bodyText());
    assertTrue(r.headers().getOrDefault("content-type", "").startsWith("application/json"),
        () -> "content type " + r.headers());
    JsonNode body = Http.JSON.readTree(r.body());
    assertTrue(body.isObject() && body.path("error").isTextual() && !body.path("error").asText()
        .isBlank(), () -> "not a JSON error: " + r.bodyText());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "limit=abc                  | limit must be an integer",
      "limit=-1                   | limit must be an integer",
      "limit=1.5                  | limit must be an integer",
      "offset=x                   | offset must be an integer",
      "offset=-3                  | offset must be an integer",
      "created_after=yesterday    | created_after must be an ISO-8601 timestamp",
      "created_after=2026-13-01   | created_after must be an ISO-8601 timestamp",
      "updated_after=nope         | updated_after must be an ISO-8601 timestamp",
      "sort_by=name               | Invalid sort_by: name",
      "sort_dir=up                | Invalid sort_dir: up",
      "priority=11                | priority must be an integer from 1 to 10",
      "min_priority=0             | min_priority must be an integer from 1 to 10",
      "max_priority=x             | max_priority must be an integer from 1 to 10",
      "project_id=abc             | project_id must be an integer",
  })
  void badListParametersAre400(String query, String message) {
    expectError(400, message, http.get("/tasks?" + query));
  }
}
