package dev.atsdispatch.devserver;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.WireTime;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev server's REST API (ats-protocol.md §2, §7): routing, request checking and JSON
 * responses. Every response body is JSON; errors are {@code {"error": "..."}}. Task routes are
 * served unscoped under {@code /tasks} and project-scoped under
 * {@code /orgs/{org}/projects/{project}/tasks}. Stateless apart from the store it calls. A request's
 * body is read by a {@link BodyReader} before it is routed, so no thread waits on a slow client;
 * routing runs on whichever thread completed the body (a Jetty pool thread).
 */
final class HttpApi extends Handler.Abstract {
  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
  private static final Set<String> PATCH_FIELDS =
      Set.of("title", "description", "priority", "status", "type", "channel", "payload");
  private static final Set<String> ACTIONS =
      Set.of("claim", "complete", "fail", "cancel", "reject", "reopen");

  private final TaskStore store;
  private final ObjectMapper mapper;
  /** Reads request bodies; anything after the first JSON value makes the body malformed. */
  private final ObjectReader bodyReader;
  private final int maxBodyBytes;
  private final Duration bodyTimeout;
  private final boolean testReset;

  HttpApi(TaskStore store, ObjectMapper mapper, int maxBodyBytes, Duration bodyTimeout,
      boolean testReset) {
    this.store = store;
    this.mapper = mapper;
    this.bodyReader = mapper.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    this.maxBodyBytes = maxBodyBytes;
    this.bodyTimeout = bodyTimeout;
    this.testReset = testReset;
  }

  /** One parsed request: method, path segments, query, body (parsed lazily) and actor. */
  private final class Call {
    final String method;
    final List<String> path;
    final Map<String, String> query;
    final Actor actor;
    final Request request;
    final BodyReader.Body raw;

    Call(Request request, BodyReader.Body raw) {
      this.request = request;
      this.raw = raw;
      this.method = request.getMethod();
      this.path = segments(request.getHttpURI().getPath());
      this.query = query(request.getHttpURI().getQuery());
      this.actor = Actor.of(header(request, "X-Actor-Type"), header(request, "X-Actor-ID"),
          header(request, "X-Actor-Name"));
    }

    /** The body as a JSON object; an empty body is {}. A body over the limit is a 413 here. */
    ObjectNode body() {
      if (raw.error() != null) throw raw.error();
      byte[] bytes = raw.bytes();
      if (bytes.length == 0 || new String(bytes, StandardCharsets.UTF_8).isBlank()) {
        return mapper.createObjectNode();
      }
      JsonNode n;
      try {
        n = bodyReader.readTree(bytes);
      } catch (JsonProcessingException e) {
        throw ApiException.badRequest("Invalid JSON: " + e.getOriginalMessage());
      } catch (IOException e) {
        throw ApiException.badRequest("Invalid JSON: " + e.getMessage());
      }
      if (n == null || !n.isObject()) {
        throw ApiException.badRequest("Request body must be a JSON object");
      }
      return (ObjectNode) n;
    }
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    BodyReader.read(request, maxBodyBytes, bodyTimeout, raw -> {
      try {
        answer(request, raw, response, callback);
      } catch (RuntimeException e) {
        callback.failed(e);
      }
    });
    return true;
  }

  /**
   * Routes the request and writes the answer. A body that did not arrive in time or could not be
   * read is answered at once, unrouted; one over the limit only when a route reads it (so an
   * unknown path is still a 404). A body not read to its end closes the connection after the answer.
   */
  private void answer(Request request, BodyReader.Body raw, Response response, Callback callback) {
    int status;
    JsonNode body;
    try {
      if (raw.error() != null && raw.error().status() != 413) throw raw.error();
      Call call = new Call(request, raw);
      Reply r = route(call);
      status = r.status;
      body = r.body;
    } catch (ApiException e) {
      status = e.status();
      body = error(e.getMessage());
    } catch (RuntimeException e) {
      log.error("request failed: {} {}", request.getMethod(), request.getHttpURI().getPath(), e);
      status = 500;
      body = error("Internal server error: " + e.getMessage());
    }
    byte[] bytes;
    try {
      bytes = mapper.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      status = 500;
      bytes = "{\"error\":\"Internal server error\"}".getBytes(StandardCharsets.UTF_8);
    }
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
    if (!raw.complete()) response.getHeaders().put(HttpHeader.CONNECTION, "close");
    response.write(true, ByteBuffer.wrap(bytes), callback);
  }

  private record Reply(int status, JsonNode body) {}

  private Reply ok(String key, JsonNode value) {
    ObjectNode n = mapper.createObjectNode();
    n.set(key, value);
    return new Reply(200, n);
  }

  private Reply created(String key, JsonNode value) {
    ObjectNode n = mapper.createObjectNode();
    n.set(key, value);
    return new Reply(201, n);
  }

  private ObjectNode error(String message) {
    ObjectNode n = mapper.createObjectNode();
    n.put("error", message);
    return n;
  }

  // ---- routing ------------------------------------------------------------------------------

  private Reply route(Call c) {
    List<String> p = c.path;
    if (p.isEmpty()) throw ApiException.notFound("Not found: /");
    switch (p.get(0)) {
      case "health":
        if (p.size() == 1) {
          allow(c, "GET");
          ObjectNode n = mapper.createObjectNode();
          n.put("status", "ok");
          n.put("timestamp", WireTime.format(store.now()));
          return new Reply(200, n);
        }
        break;
      case "tasks":
        return tasks(c, null, p.subList(1, p.size()));
      case "orgs":
        return orgs(c, p.subList(1, p.size()));
      case "_test":
        if (p.size() == 2 && p.get(1).equals("reset") && testReset) {
          allow(c, "POST");
          store.reset();
          ObjectNode n = mapper.createObjectNode();
          n.put("status", "reset");
          return new Reply(200, n);
        }
        break;
      default:
        break;
    }
    throw ApiException.notFound("Not found: " + c.request.getHttpURI().getPath());
  }

  private Reply orgs(Call c, List<String> p) {
    if (p.isEmpty()) {
      if (c.method.equals("GET")) {
        ArrayNode a = mapper.createArrayNode();
        for (Org o : store.orgs()) a.add(o.toJson());
        return ok("organizations", a);
      }
      allow(c, "POST");
      ObjectNode b = c.body();
      String slug = optString(b, "slug");
      return created("organization", store.createOrg(slug, optString(b, "name")).toJson());
    }
    String org = p.get(0);
    if (p.size() == 1) {
      if (c.method.equals("GET")) return ok("organization", store.org(org).toJson());
      allow(c, "PATCH");
      ObjectNode b = c.body();
      return ok("organization",
          store.updateOrg(org, optString(b, "slug"), optString(b, "name")).toJson());
    }
    if (!p.get(1).equals("projects")) throw ApiException.notFound("Not found");
    if (p.size() == 2) {
      if (c.method.equals("GET")) {
        boolean counts = "true".equals(c.query.get("counts"));
        ArrayNode a = mapper.createArrayNode();
        for (Project pr : store.projects(org)) {
          ObjectNode n = pr.toJson(org);
          if (counts) store.counts(pr).forEach(n::put);
          a.add(n);
        }
        return ok("projects", a);
      }
      allow(c, "POST");
      ObjectNode b = c.body();
      Project pr = store.createProject(org, optString(b, "slug"), optString(b, "name"),
          optString(b, "description"));
      return created("project", pr.toJson(org));
    }
    String project = p.get(2);
    if (p.size() == 3) {
      if (c.method.equals("GET")) {
        Project pr = store.project(org, project);
        ObjectNode n = pr.toJson(org);
        if ("true".equals(c.query.get("counts"))) store.counts(pr).forEach(n::put);
        return ok("project", n);
      }
      allow(c, "PATCH");
      ObjectNode b = c.body();
      Project pr = store.updateProject(org, project, optString(b, "slug"), optString(b, "name"),
          optString(b, "description"), b.has("description"));
      return ok("project", pr.toJson(store.orgSlugOf(pr)));
    }
    if (p.get(3).equals("tasks")) {
      return tasks(c, store.project(org, project), p.subList(4, p.size()));
    }
    throw ApiException.notFound("Not found");
  }

  private Reply tasks(Call c, Project scope, List<String> p) {
    if (p.isEmpty()) {
      if (c.method.equals("GET")) {
        TaskStore.Page page = store.list(scope, ListQuery.parse(c.query));
        ObjectNode n = mapper.createObjectNode();
        ArrayNode a = n.putArray("tasks");
        for (StoredTask t : page.tasks()) a.add(t.toJson());
        n.put("count", page.count());
        return new Reply(200, n);
      }
      allow(c, "POST");
      return created("task", store.create(scope, newTask(c.body()), c.actor).toJson());
    }
    if (p.get(0).equals("stats")) {
      if (p.size() > 1) throw ApiException.notFound("Not found");
      allow(c, "GET");
      return ok("stats", store.stats(scope));
    }
    long id = taskId(p.get(0));
    if (p.size() == 1) {
      if (c.method.equals("GET")) {
        TaskStore.TaskView v = store.get(scope, id);
        ObjectNode n = v.task().toJson();
        ArrayNode a = n.putArray("messages");
        for (StoredMessage m : v.messages()) a.add(m.toJson());
        return ok("task", n);
      }
      allow(c, "PATCH");
      return ok("task", store.update(scope, id, patch(c.body()), c.actor).toJson());
    }
    if (p.size() != 2) throw ApiException.notFound("Not found");
    String action = p.get(1);
    if (action.equals("messages")) {
      if (c.method.equals("GET")) {
        ArrayNode a = mapper.createArrayNode();
        for (StoredMessage m : store.messages(scope, id)) a.add(m.toJson());
        return ok("messages", a);
      }
      allow(c, "POST");
      return created("message", store.addMessage(scope, id, parts(c.body()), c.actor).toJson());
    }
    if (!ACTIONS.contains(action)) throw ApiException.notFound("Not found");
    allow(c, "POST");
    return switch (action) {
      case "claim" -> ok("task", store.claim(scope, id, lease(c.body()), c.actor).toJson());
      case "complete" -> ok("task", store.complete(scope, id, outputs(c.body()), c.actor).toJson());
      case "fail" -> ok("task", store.fail(scope, id, reason(c.body()), c.actor).toJson());
      case "cancel" -> ok("task", store.cancel(scope, id, reason(c.body()), c.actor).toJson());
      case "reject" -> ok("task", store.reject(scope, id, reason(c.body()), c.actor).toJson());
      case "reopen" -> ok("task", store.reopen(scope, id, reason(c.body()), c.actor).toJson());
      default -> throw ApiException.notFound("Not found");
    };
  }

  private static void allow(Call c, String method) {
    if (!c.method.equals(method)) {
      throw new ApiException(405, "Method " + c.method + " not allowed here");
    }
  }

  // ---- request checking -------------------------------------------------------------------

  private static long taskId(String s) {
    if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
      throw ApiException.badRequest("Invalid task id: " + s + " (task ids are positive integers)");
    }
    long id = Long.parseLong(s);
    if (id <= 0) throw ApiException.badRequest("Invalid task id: " + s + " (task ids are positive integers)");
    return id;
  }

  private static TaskStore.NewTask newTask(ObjectNode b) {
    JsonNode title = b.get("title");
    if (title == null || title.isNull() || (title.isTextual() && title.asText().isBlank())) {
      throw ApiException.badRequest("Title is required");
    }
    if (!title.isTextual()) throw ApiException.badRequest("title must be a string");
    return new TaskStore.NewTask(
        title.asText(),
        optString(b, "description"),
        b.has("priority") && !b.get("priority").isNull() ? priority(b.get("priority")) : 5,
        nonEmpty(b, "type", "task"),
        nonEmpty(b, "channel", "default"),
        payload(b));
  }

  private static TaskStore.Patch patch(ObjectNode b) {
    Set<String> present = new HashSet<>();
    b.fieldNames().forEachRemaining(f -> {
      if (PATCH_FIELDS.contains(f)) present.add(f);
    });
    String title = null;
    if (present.contains("title")) {
      JsonNode t = b.get("title");
      if (!t.isTextual() || t.asText().isBlank()) {
        throw ApiException.badRequest("title must be a non-empty string");
      }
      title = t.asText();
    }
    TaskStatus status = null;
    if (present.contains("status")) {
      JsonNode s = b.get("status");
      status = TaskStatus.fromWire(s.isTextual() ? s.asText() : s.toString())
          .orElseThrow(() -> ApiException.badRequest("Invalid status: " + (s.isTextual() ? s.asText() : s)
              + " (expected one of " + TaskStatus.wireNames() + ")"));
    }
    return new TaskStore.Patch(present, title,
        present.contains("description") ? optString(b, "description") : null,
        present.contains("priority") ? priority(b.get("priority")) : null,
        status,
        present.contains("type") ? nonEmpty(b, "type", null) : null,
        present.contains("channel") ? nonEmpty(b, "channel", null) : null,
        present.contains("payload") ? payload(b) : null);
  }

  private static int priority(JsonNode p) {
    if (!p.isIntegralNumber() || p.asLong() < 1 || p.asLong() > 10) {
      throw ApiException.badRequest("priority must be an integer from 1 to 10, got: " + p);
    }
    return p.asInt();
  }

  private static long lease(ObjectNode b) {
    JsonNode l = b.get("lease_duration");
    if (l == null || l.isNull()) return TaskStore.DEFAULT_LEASE_MS;
    if (!l.isIntegralNumber() || l.asLong() < TaskStore.MIN_LEASE_MS
        || l.asLong() > TaskStore.MAX_LEASE_MS) {
      throw ApiException.badRequest("lease_duration must be an integer number of milliseconds from "
          + TaskStore.MIN_LEASE_MS + " to " + TaskStore.MAX_LEASE_MS + ", got: " + l);
    }
    return l.asLong();
  }

  private static JsonNode outputs(ObjectNode b) {
    JsonNode o = b.get("outputs");
    if (o == null || o.isNull()) return null;
    if (!o.isArray()) throw ApiException.badRequest("outputs must be an array");
    return o;
  }

  private static String reason(ObjectNode b) {
    return optString(b, "reason");
  }

  private static JsonNode parts(ObjectNode b) {
    JsonNode parts = b.get("parts");
    if (parts == null || !parts.isArray() || parts.isEmpty()) {
      throw ApiException.badRequest("parts must be a non-empty array of {\"type\", ...} objects");
    }
    for (JsonNode part : parts) {
      if (!part.isObject() || !part.path("type").isTextual()) {
        throw ApiException.badRequest("each part must be an object with a string \"type\"");
      }
    }
    return parts;
  }

  private static JsonNode payload(ObjectNode b) {
    JsonNode p = b.get("payload");
    if (p == null || p.isNull()) return null;
    if (!p.isObject()) throw ApiException.badRequest("payload must be a JSON object");
    return p;
  }

  private static String optString(ObjectNode b, String field) {
    JsonNode v = b.get(field);
    if (v == null || v.isNull()) return null;
    if (!v.isTextual()) throw ApiException.badRequest(field + " must be a string");
    return v.asText();
  }

  private static String nonEmpty(ObjectNode b, String field, String fallback) {
    String v = optString(b, field);
    if (v == null) {
      if (fallback == null) throw ApiException.badRequest(field + " must be a non-empty string");
      return fallback;
    }
    if (v.isEmpty()) throw ApiException.badRequest(field + " must be a non-empty string");
    return v;
  }

  // ---- low-level ----------------------------------------------------------------------------

  /** Header values are decoded as ISO-8859-1, the way the CLI sends them (ats-protocol.md §1.4). */
  private static String header(Request r, String name) {
    return r.getHeaders().get(name);
  }

  /** Path segments with empty ones (from duplicate or trailing slashes) dropped. */
  static List<String> segments(String path) {
    List<String> out = new ArrayList<>();
    if (path == null) return out;
    for (String s : path.split("/")) {
      if (s.isEmpty()) continue;
      try {
        out.add(URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest("Malformed path segment: " + s);
      }
    }
    return out;
  }

  /** Query parameters, form-decoded ({@code +} is a space); the last of a repeated key wins. */
  static Map<String, String> query(String q) {
    Map<String, String> out = new HashMap<>();
    if (q == null || q.isEmpty()) return out;
    for (String pair : q.split("&")) {
      if (pair.isEmpty()) continue;
      int eq = pair.indexOf('=');
      String k = eq < 0 ? pair : pair.substring(0, eq);
      String v = eq < 0 ? "" : pair.substring(eq + 1);
      try {
        out.put(URLDecoder.decode(k, StandardCharsets.UTF_8),
            URLDecoder.decode(v, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest("Malformed query string: " + pair);
      }
    }
    return out;
  }
}
