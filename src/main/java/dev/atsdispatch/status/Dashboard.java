package dev.atsdispatch.status;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.atsdispatch.dispatch.Operations;
import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;

/**
 * The operator's dashboard on the status port: the page ({@code /}, with its script and style
 * shipped in the jar, no CDN) and the JSON it reads ({@code /api/overview}, {@code /api/tasks/…},
 * {@code /api/deps}, {@code /api/failures}), plus the actions, which are POSTs only and carry the
 * page's action token in {@code X-ATS-Dispatch-Token} (a header no other site's page can send
 * without a CORS preflight this server never answers). Served on the status server's threads.
 */
final class Dashboard {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String TOKEN_HEADER = "X-ATS-Dispatch-Token";
  private static final Map<String, String> ASSETS = Map.of(
      "/dashboard.js", "application/javascript; charset=utf-8",
      "/dashboard.css", "text/css; charset=utf-8");
  /** Nothing from elsewhere, no inline script, no framing. */
  private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  private final Operations ops;
  private final String actionToken;

  Dashboard(Operations ops) {
    this.ops = ops;
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    this.actionToken = HexFormat.of().formatHex(b);
  }

  /** True for the paths the dashboard serves. */
  static boolean serves(String path) {
    return path.equals("/") || path.equals("/index.html") || ASSETS.containsKey(path) || path.startsWith("/api/");
  }

  /** Static parts need no token (they hold nothing of the service); the API's refusal is checked by the caller. */
  static boolean isStatic(String path) {
    return path.equals("/") || path.equals("/index.html") || ASSETS.containsKey(path);
  }

  void handle(HttpExchange ex, String path) throws IOException {
    String method = ex.getRequestMethod();
    if (isStatic(path)) {
      if (!method.equals("GET") && !method.equals("HEAD")) {
        methodNotAllowed(ex, "GET, HEAD");
        return;
      }
      if (ASSETS.containsKey(path)) {
        send(ex, 200, ASSETS.get(path), resource(path.substring(1)));
      } else {
        String page = new String(resource("index.html"), StandardCharsets.UTF_8).replace("{{ACTION_TOKEN}}", actionToken);
        send(ex, 200, "text/html; charset=utf-8", page.getBytes(StandardCharsets.UTF_8));
      }
      return;
    }
    String rest = path.substring("/api/".length());
    if (method.equals("POST")) {
      post(ex, rest);
      return;
    }
    if (!method.equals("GET")) {
      methodNotAllowed(ex, "GET, POST");
      return;
    }
    try {
      if (rest.equals("overview")) {
        ObjectNode o = ops.overview();
        var list = o.putArray("agents");
        Instant now = Instant.now();
        if (ops.agents() != null) for (AgentEvents.History h : ops.agents().running()) list.add(h.summary(now));
        json(ex, 200, o);
      } else if (rest.equals("deps")) {
        json(ex, 200, ops.deps());
      } else if (rest.equals("questions")) {
        ObjectNode o = JSON.createObjectNode();
        o.set("questions", ops.questions());
        json(ex, 200, o);
      } else if (rest.equals("failures")) {
        ObjectNode o = JSON.createObjectNode();
        o.set("failures", ops.failures());
        json(ex, 200, o);
      } else if (rest.startsWith("tasks/")) {
        getTask(ex, rest.substring("tasks/".length()));
      } else {
        error(ex, 404, "not found: /api/" + rest);
      }
    } catch (Operations.Refused r) {
      error(ex, r.status(), r.getMessage());
    }
  }

  private void getTask(HttpExchange ex, String rest) throws IOException {
    String[] parts = rest.split("/");
    TaskKey key = key(parts[0]);
    if (key == null) {
      error(ex, 400, "not a task: " + parts[0] + " (ats:123, or 123 for ATS)");
      return;
    }
    if (parts.length == 1) {
      ObjectNode t = ops.task(key);
      if (t == null) {
        error(ex, 404, "this service knows nothing of " + key);
      } else {
        json(ex, 200, t);
      }
      return;
    }
    if (parts.length == 4 && parts[1].equals("logs") && parts[2].matches("\\d{1,6}")) {
      Path p = ops.log(key, Integer.parseInt(parts[2]), parts[3]);
      if (p == null) {
        error(ex, 404, "no " + parts[3] + " log of attempt " + parts[2] + " of " + key + " (a sealed log opens with `ats-dispatch logs`)");
        return;
      }
      file(ex, p, tail(ex.getRequestURI().getRawQuery()));
      return;
    }
    error(ex, 404, "not found: /api/tasks/" + rest);
  }

  private void post(HttpExchange ex, String rest) throws IOException {
    String got = ex.getRequestHeaders().getFirst(TOKEN_HEADER);
    if (got == null || !java.security.MessageDigest.isEqual(actionToken.getBytes(StandardCharsets.UTF_8),
        got.getBytes(StandardCharsets.UTF_8))) {
      error(ex, 403, "an action needs the dashboard's token in " + TOKEN_HEADER + " (reload the page)");
      return;
    }
    String[] parts = rest.split("/");
    if (parts.length != 3 || !parts[0].equals("tasks")) {
      error(ex, 404, "not found: /api/" + rest + " (POST /api/tasks/{task}/cancel, give-back, reopen or answer)");
      return;
    }
    TaskKey key = key(parts[1]);
    if (key == null) {
      error(ex, 400, "not a task: " + parts[1]);
      return;
    }
    try {
      String done;
      if (parts[2].equals("answer")) {
        com.fasterxml.jackson.databind.JsonNode body;
        try (InputStream in = ex.getRequestBody()) {
          byte[] b = in.readNBytes(64 * 1024 + 1);
          if (b.length > 64 * 1024) {
            error(ex, 413, "an answer is at most 64 KiB");
            return;
          }
          body = JSON.readTree(b);
        } catch (IOException e) {
          error(ex, 400, "the body must be JSON: {\"text\": \"...\"}");
          return;
        }
        done = ops.answer(key, body == null ? null : body.path("text").asText(null));
      } else {
        done = ops.act(key, parts[2]);
      }
      json(ex, 200, JSON.createObjectNode().put("ok", true).put("message", done));
    } catch (Operations.Refused r) {
      error(ex, r.status(), r.getMessage());
    }
  }

  private static TaskKey key(String s) {
    try {
      String d = java.net.URLDecoder.decode(s, StandardCharsets.UTF_8);
      return d.contains(":") ? TaskKey.parse(d) : new TaskKey("ats", d);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** {@code tail=N} in the query: only the last N bytes; -1: the whole file. */
  private static long tail(String query) {
    if (query == null) return -1;
    for (String kv : query.split("&")) {
      if (kv.startsWith("tail=") && kv.substring(5).matches("\\d{1,12}")) return Long.parseLong(kv.substring(5));
    }
    return -1;
  }

  /** A log streamed as it is on disk (it may be large), or its tail: plain text, never rendered as HTML. */
  private static void file(HttpExchange ex, Path p, long tail) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    ex.getResponseHeaders().set("Content-Security-Policy", "default-src 'none'; sandbox");
    if (ex.getRequestMethod().equals("HEAD")) {
      ex.sendResponseHeaders(200, -1);
      return;
    }
    try (InputStream in = Files.newInputStream(p)) {
      long size = Files.size(p);
      if (tail >= 0 && size > tail) in.skipNBytes(size - tail);
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        in.transferTo(out);
      }
    }
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = Dashboard.class.getResourceAsStream("/dashboard/" + name)) {
      if (in == null) throw new IOException("the dashboard's " + name + " is missing from the jar");
      return in.readAllBytes();
    }
  }

  private static void methodNotAllowed(HttpExchange ex, String allow) throws IOException {
    ex.getResponseHeaders().set("Allow", allow);
    error(ex, 405, "method not allowed: " + ex.getRequestMethod());
  }

  private static void json(HttpExchange ex, int status, ObjectNode body) throws IOException {
    send(ex, status, "application/json", JSON.writeValueAsBytes(body));
  }

  private static void error(HttpExchange ex, int status, String message) throws IOException {
    json(ex, status, JSON.createObjectNode().put("error", message));
  }

  private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    ex.getResponseHeaders().set("X-Frame-Options", "DENY");
    ex.getResponseHeaders().set("Referrer-Policy", "no-referrer");
    ex.getResponseHeaders().set("Content-Security-Policy", CSP);
    if (ex.getRequestMethod().equals("HEAD")) {
      ex.sendResponseHeaders(status, -1);
      return;
    }
    ex.sendResponseHeaders(status, body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }
}
