package dev.atsdispatch.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * A small HTTP client for tests against the dev server over real sockets. Sends the X-Actor-*
 * headers and {@code Content-Type: application/json} on every request, as the ats CLI does.
 */
public final class Http {
  public static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final OkHttpClient SHARED = new OkHttpClient.Builder()
      .connectTimeout(10, TimeUnit.SECONDS).readTimeout(30, TimeUnit.SECONDS).build();

  /** A response: status, parsed JSON body (never null: the server always sends JSON), raw text. */
  public record Resp(int status, JsonNode body, String text) {
    public JsonNode task() {
      return body.path("task");
    }

    public String error() {
      return body.path("error").asText(null);
    }
  }

  private final String base;
  private final String actorType;
  private final String actorId;
  private final String actorName;

  public Http(String base) {
    this(base, "agent", "ada-dispatch", "Ada Dispatch");
  }

  public Http(String base, String actorType, String actorId, String actorName) {
    this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    this.actorType = actorType;
    this.actorId = actorId;
    this.actorName = actorName;
  }

  public Http as(String type, String id, String name) {
    return new Http(base, type, id, name);
  }

  public String base() {
    return base;
  }

  public Resp get(String path) {
    return call("GET", path, null);
  }

  public Resp post(String path, String body) {
    return call("POST", path, body);
  }

  public Resp post(String path, JsonNode body) {
    return call("POST", path, body.toString());
  }

  public Resp patch(String path, String body) {
    return call("PATCH", path, body);
  }

  /** Sends {@code body} as given; null sends an empty body (POST/PATCH) or none (GET). */
  public Resp call(String method, String path, String body) {
    RequestBody rb = null;
    if (!method.equals("GET") && !method.equals("HEAD")) {
      rb = RequestBody.create(body == null ? new byte[0] : body.getBytes(
          java.nio.charset.StandardCharsets.UTF_8), JSON_TYPE);
    }
    Request.Builder b = new Request.Builder().url(base + path).method(method, rb)
        .header("Content-Type", "application/json");
    if (actorType != null) b.header("X-Actor-Type", actorType);
    if (actorId != null) b.header("X-Actor-ID", actorId);
    if (actorName != null) b.header("X-Actor-Name", actorName);
    try (Response r = SHARED.newCall(b.build()).execute()) {
      String text = r.body() == null ? "" : r.body().string();
      JsonNode json;
      try {
        json = JSON.readTree(text);
      } catch (IOException e) {
        throw new AssertionError("response to " + method + " " + path + " is not JSON: " + text);
      }
      if (json == null) throw new AssertionError("empty response to " + method + " " + path);
      return new Resp(r.code(), json, text);
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + path, e);
    }
  }

  /** Any value as JSON text. */
  public static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Creates a task and returns its id; fails the test unless the server answers 201. */
  public long create(String title, String channel) {
    Resp r = post("/tasks", "{\"title\":" + json(title) + ",\"channel\":" + json(channel) + "}");
    if (r.status() != 201) throw new AssertionError("create failed: " + r);
    return r.task().path("id").asLong();
  }
}
