package dev.atsdispatch.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** Assertions on dev server responses shared by the HTTP-level tests. */
public final class ApiChecks {
  private ApiChecks() {}

  /** Asserts the status and returns the response. */
  public static Http.Resp expect(int status, Http.Resp r) {
    assertEquals(status, r.status(), () -> "unexpected status; body: " + r.text());
    return r;
  }

  /**
   * Asserts an error response: the status, a JSON object body, and an {@code error} that is a
   * string containing {@code fragment} (ats-protocol.md §2.1: the CLI prints body.error).
   */
  public static String expectError(int status, String fragment, Http.Resp r) {
    assertEquals(status, r.status(), () -> "unexpected status; body: " + r.text());
    assertTrue(r.body().isObject(), () -> "error body is not a JSON object: " + r.text());
    JsonNode e = r.body().get("error");
    if (e == null || !e.isTextual()) fail("\"error\" is missing or not a string: " + r.text());
    assertTrue(e.asText().contains(fragment),
        () -> "error \"" + e.asText() + "\" does not contain \"" + fragment + "\"");
    return e.asText();
  }

  /** Like {@link #expectError} but the error text must equal {@code exact}. */
  public static void expectErrorExactly(int status, String exact, Http.Resp r) {
    assertEquals(exact, expectError(status, exact, r), () -> "error text of " + r.text());
  }

  /** The ids of a {@code {"tasks": [...]}} list response, in order. */
  public static List<Long> ids(Http.Resp r) {
    assertEquals(200, r.status(), () -> "list failed: " + r.text());
    JsonNode tasks = r.body().get("tasks");
    assertTrue(tasks != null && tasks.isArray(), () -> "no tasks array: " + r.text());
    List<Long> out = new ArrayList<>();
    for (JsonNode t : tasks) out.add(t.path("id").asLong());
    return out;
  }
}
