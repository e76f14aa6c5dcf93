package dev.atsdispatch.ats;

import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.source.TaskStatus;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The {@code http} transport: the ATS REST API through OkHttp (ats-protocol.md §2, §8). Sends the
 * actor headers on every request, unwraps {@code {"task":…}} or a bare body, and maps statuses to
 * {@link AtsException.Kind}. A light list ({@link TaskQuery#light()}) is parsed as it streams in,
 * so a page of tasks with huge descriptions never sits in memory. One instance per service;
 * thread-safe; {@link #close()} releases the connection pool.
 */
public final class HttpAtsClient implements AtsClient {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  /** A list answer that fails after this much was read failed because of its size (a timeout, mostly). */
  private static final long CUT_OFF_LARGE = 8 << 20;
  /** The fields a light task keeps (payload as a tree); every other field is skipped unread. */
  private static final Set<String> LIGHT_FIELDS = Set.of("id", "uuid", "status", "priority", "type",
      "channel", "payload", "assignee_type", "assignee_id", "assignee_name", "lease_expires",
      "created_at", "updated_at");

  private final AtsSettings settings;
  private final HttpUrl base;
  private final OkHttpClient http;

  public HttpAtsClient(AtsSettings settings, Duration callTimeout) {
    this.settings = settings;
    this.base = HttpUrl.parse(settings.baseUrl());
    if (base == null) throw new IllegalArgumentException("ATS URL is not an http(s) URL: " + settings.url());
    OkHttpClient.Builder b = new OkHttpClient.Builder()
        .connectTimeout(Duration.ofSeconds(10))
        .readTimeout(callTimeout)
        .callTimeout(callTimeout)
        .retryOnConnectionFailure(false)
        .followRedirects(false);
    // a plain-http ATS (no redirects followed) never needs TLS: without it OkHttp loads no trust store
    if (!base.isHttps()) b.connectionSpecs(java.util.List.of(okhttp3.ConnectionSpec.CLEARTEXT));
    this.http = b.build();
  }

  @Override
  public String transport() {
    return "http";
  }

  @Override
  public Task get(long id) {
    return task(call("GET", settings.tasksPath() + "/" + id, null, null));
  }

  /** Parsed as it streams in, like a light list: the description is skipped, never held. */
  @Override
  public Task getLight(long id) {
    return exchange("GET", settings.tasksPath() + "/" + id, null, null, HttpAtsClient::lightTask);
  }

  @Override
  public TaskPage list(TaskQuery q) {
    List<String[]> params = new ArrayList<>();
    if (q.statuses() != null) {
      params.add(new String[] {"status",
          q.statuses().stream().map(TaskStatus::wire).sorted().collect(Collectors.joining(","))});
    }
    if (q.channel() != null) params.add(new String[] {"channel", q.channel()});
    if (q.limit() != null) params.add(new String[] {"limit", q.limit().toString()});
    if (q.offset() != null) params.add(new String[] {"offset", q.offset().toString()});
    if (q.createdAfter() != null) {
      params.add(new String[] {"created_after", WireTime.format(q.createdAfter())});
    }
    if (q.sortBy() != null) params.add(new String[] {"sort_by", q.sortBy()});
    if (q.sortDir() != null) params.add(new String[] {"sort_dir", q.sortDir()});
    if (q.light()) return exchange("GET", settings.tasksPath(), params, null, HttpAtsClient::lightPage);
    JsonNode body = call("GET", settings.tasksPath(), params, null);
    JsonNode arr = body.isArray() ? body : body.get("tasks");
    if (arr == null || !arr.isArray()) throw noTasksArray();
    List<Task> tasks = new ArrayList<>(arr.size());
    for (JsonNode n : arr) tasks.add(parseTask(n));
    int count = body.path("count").asInt(0);
    return new TaskPage(tasks, count > 0 ? count : tasks.size());
  }

  @Override
  public Task create(NewTask t) {
    ObjectNode b = MAPPER.createObjectNode();
    b.put("title", t.title());
    b.put("type", t.type());
    b.put("channel", t.channel());
    b.put("priority", t.priority());
    if (t.description() != null) b.put("description", t.description());
    if (t.payload() != null) b.set("payload", t.payload());
    return task(call("POST", settings.tasksPath(), null, b));
  }

  @Override
  public Task claim(long id, Duration lease) {
    ObjectNode b = MAPPER.createObjectNode();
    b.put("lease_duration", lease.toMillis());
    return task(call("POST", settings.tasksPath() + "/" + id + "/claim", null, b));
  }

  @Override
  public void complete(long id, List<JsonNode> outputs) {
    ObjectNode b = MAPPER.createObjectNode();
    ArrayNode a = b.putArray("outputs");
    outputs.forEach(a::add);
    send("POST", settings.tasksPath() + "/" + id + "/complete", b);
  }

  @Override
  public void fail(long id, String reason) {
    ObjectNode b = MAPPER.createObjectNode();
    if (reason != null) b.put("reason", reason);
    send("POST", settings.tasksPath() + "/" + id + "/fail", b);
  }

  @Override
  public void reopen(long id, String reason) {
    ObjectNode b = MAPPER.createObjectNode();
    if (reason != null) b.put("reason", reason);
    send("POST", settings.tasksPath() + "/" + id + "/reopen", b);
  }

  @Override
  public void release(long id) {
    send("PATCH", settings.tasksPath() + "/" + id, MAPPER.createObjectNode().put("status", "pending"));
  }

  @Override
  public void addMessage(long id, List<JsonNode> parts) {
    ObjectNode b = MAPPER.createObjectNode();
    ArrayNode a = b.putArray("parts");
    parts.forEach(a::add);
    send("POST", settings.tasksPath() + "/" + id + "/messages", b);
  }

  @Override
  public List<JsonNode> messages(long id) {
    JsonNode body = call("GET", settings.tasksPath() + "/" + id + "/messages", null, null);
    JsonNode arr = body.isArray() ? body : body.get("messages");
    List<JsonNode> out = new ArrayList<>();
    if (arr != null && arr.isArray()) arr.forEach(out::add);
    return out;
  }

  @Override
  public void health() {
    JsonNode n = call("GET", "/health", null, null);
    String status = n.path("status").asText("");
    if (!status.equals("ok")) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 200, "ATS health is " + status);
    }
  }

  @Override
  public void close() {
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  private Task task(JsonNode body) {
    JsonNode t = body.has("task") && body.get("task").isObject() ? body.get("task") : body;
    return parseTask(t);
  }

  private static Task parseTask(JsonNode n) {
    try {
      return Task.fromJson(n);
    } catch (IllegalArgumentException e) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 200, "unusable task in answer: "
          + e.getMessage());
    }
  }

  private static AtsException noTasksArray() {
    return new AtsException(AtsException.Kind.UNAVAILABLE, 200, "list answer has no tasks array");
  }

  /**
   * Reads a list answer straight from the socket with a streaming parser, keeping only
   * {@link #LIGHT_FIELDS} of each task: a description of any size is skipped, never held.
   */
  private static TaskPage lightPage(InputStream in) throws IOException {
    try (JsonParser p = MAPPER.getFactory().createParser(in)) {
      try {
        return lightPage(p);
      } catch (IOException e) {
        long read = p.currentLocation().getByteOffset();
        if (e instanceof JsonProcessingException || read < CUT_OFF_LARGE) throw e;
        throw new AtsException(AtsException.Kind.UNAVAILABLE, 200, "list answer cut off after "
            + (read >> 20) + " MiB: " + e.getMessage(), e).tooLarge();
      }
    }
  }

  private static TaskPage lightPage(JsonParser p) throws IOException {
    {
      JsonToken top = p.nextToken();
      List<Task> tasks = null;
      int count = 0;
      if (top == JsonToken.START_ARRAY) {
        tasks = lightTasks(p);
      } else if (top == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String field = p.currentName();
          JsonToken v = p.nextToken();
          if (field.equals("tasks") && v == JsonToken.START_ARRAY) {
            tasks = lightTasks(p);
          } else if (field.equals("count") && v == JsonToken.VALUE_NUMBER_INT) {
            count = p.getIntValue();
          } else {
            p.skipChildren();
          }
        }
      }
      if (tasks == null) throw noTasksArray();
      return new TaskPage(tasks, count > 0 ? count : tasks.size(), p.currentLocation().getByteOffset());
    }
  }

  /** The parser is on START_ARRAY; leaves it on the matching END_ARRAY. */
  private static List<Task> lightTasks(JsonParser p) throws IOException {
    List<Task> tasks = new ArrayList<>();
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      ObjectNode kept = MAPPER.createObjectNode();
      if (t == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) keepLight(p, kept);
      } else {
        p.skipChildren();
      }
      tasks.add(parseTask(kept).toLight());
    }
    return tasks;
  }

  /** The parser is on a task field's name: keeps it in {@code kept} if a light task has it, else skips it. */
  private static void keepLight(JsonParser p, ObjectNode kept) throws IOException {
    String field = p.currentName();
    p.nextToken();
    if (LIGHT_FIELDS.contains(field)) {
      kept.set(field, MAPPER.readTree(p));
    } else if (field.equals("title") && p.currentToken() == JsonToken.VALUE_STRING
        && p.getTextLength() <= Task.LIGHT_TITLE) {
      kept.put("title", p.getText()); // a short title is kept: it tells a registration
    } else if (field.equals("reason") && p.currentToken() == JsonToken.VALUE_STRING
        && p.getTextLength() <= Task.LIGHT_REASON) {
      kept.put("reason", p.getText()); // a short reason is kept: it tells a task parked for a question
    } else {
      p.skipChildren();
    }
  }

  /**
   * Reads a one-task answer ({@code {"task":…}} or the bare task) with a streaming parser, keeping
   * only {@link #LIGHT_FIELDS} and a short title.
   */
  private static Task lightTask(InputStream in) throws IOException {
    try (JsonParser p = MAPPER.getFactory().createParser(in)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new AtsException(AtsException.Kind.UNAVAILABLE, 200, "task answer is not an object");
      }
      ObjectNode kept = MAPPER.createObjectNode();
      ObjectNode wrapped = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        if (p.currentName().equals("task") && p.nextToken() == JsonToken.START_OBJECT) {
          wrapped = MAPPER.createObjectNode();
          while (p.nextToken() == JsonToken.FIELD_NAME) keepLight(p, wrapped);
        } else if (p.currentToken() == JsonToken.FIELD_NAME) {
          keepLight(p, kept); // a bare task
        } else {
          p.skipChildren(); // "task" that is not an object
        }
      }
      return parseTask(wrapped != null ? wrapped : kept).toLight();
    }
  }

  /** Reads a successful answer's body; may throw {@link AtsException}. */
  private interface BodyReader<T> {
    T read(InputStream body) throws IOException;
  }

  /** Parses the answer straight from the socket (no copy of the body as bytes and as text first). */
  private JsonNode call(String method, String path, List<String[]> params, JsonNode body) {
    return exchange(method, path, params, body, in -> {
      JsonNode n = MAPPER.readTree(in);
      return n == null || n.isMissingNode() ? MAPPER.createObjectNode() : n;
    });
  }

  /**
   * A call whose answer is not used (complete, fail, release, a message): a 2xx answer is read to
   * its end and dropped unparsed, since it may echo the whole task, description and all.
   */
  private void send(String method, String path, JsonNode body) {
    exchange(method, path, null, body, in -> in.transferTo(OutputStream.nullOutputStream()));
  }

  /**
   * Sends one request. A 2xx answer goes to {@code reader} (an answer it cannot parse as JSON is
   * UNAVAILABLE); any other status is an {@link AtsException} of its kind with the server's message.
   */
  private <T> T exchange(String method, String path, List<String[]> params, JsonNode body,
      BodyReader<T> reader) {
    HttpUrl.Builder u = base.newBuilder();
    for (String seg : path.substring(1).split("/")) u.addPathSegment(seg);
    if (params != null) params.forEach(p -> u.addQueryParameter(p[0], p[1]));
    RequestBody rb = body == null ? (method.equals("GET") ? null : RequestBody.create(new byte[0], JSON))
        : RequestBody.create(body.toString().getBytes(StandardCharsets.UTF_8), JSON);
    Request req = new Request.Builder().url(u.build()).method(method, rb)
        .header("Content-Type", "application/json")
        .header("X-Actor-Type", settings.actorType())
        .header("X-Actor-ID", settings.actorId())
        .header("X-Actor-Name", latin1(settings.actorName()))
        .build();
    String where = method + " " + path;
    try (Response r = http.newCall(req).execute()) {
      ResponseBody rbody = r.body();
      if (r.isSuccessful()) {
        try {
          return reader.read(rbody == null ? InputStream.nullInputStream() : rbody.byteStream());
        } catch (JsonProcessingException e) {
          throw new AtsException(AtsException.Kind.UNAVAILABLE, r.code(), where + ": answer is not JSON");
        }
      }
      String text = rbody == null ? "" : rbody.string();
      JsonNode json = null;
      if (!text.isBlank()) {
        try {
          json = MAPPER.readTree(text);
        } catch (IOException e) {
          // not JSON: the status alone says what went wrong
        }
      }
      String msg = json == null ? null : json.path("error").asText(null);
      if (msg == null && json != null) msg = json.path("message").asText(null);
      if (msg == null) msg = "HTTP " + r.code();
      throw new AtsException(AtsException.kindOf(r.code()), r.code(), msg);
    } catch (IOException e) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, where + ": " + e.getMessage(), e);
    }
  }

  /** OkHttp only sends ASCII-safe header values; the CLI sends Latin-1, so encode like it. */
  private static String latin1(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (char c : s.toCharArray()) b.append(c >= 0x20 && c < 0x7f ? c : '?');
    return b.toString();
  }
}
