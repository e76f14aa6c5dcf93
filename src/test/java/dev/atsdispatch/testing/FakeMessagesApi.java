package dev.atsdispatch.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A small Anthropic Messages API for the real {@code claude} CLI to talk to
 * ({@code ANTHROPIC_BASE_URL}): {@code POST /v1/messages} answers from a script, one reply per
 * request in order (then the last one again): streamed text (SSE, as the API streams it) or an
 * error status with the API's error body. Every request body is kept for the test to read. Threads:
 * the JDK server's small pool.
 */
public final class FakeMessagesApi implements AutoCloseable {
  private static final ObjectMapper M = new ObjectMapper();

  /** One scripted reply. */
  public sealed interface Reply {}

  public record Text(String text) implements Reply {}

  public record Error(int status, String type, String message) implements Reply {}

  /** The model calls a tool ({@code name} with {@code input}); Claude Code runs it and asks again with its result. */
  public record ToolUse(String name, ObjectNode input, String said) implements Reply {
    public ToolUse(String name, ObjectNode input) {
      this(name, input, null);
    }

    /** The same call, preceded in its message by the model's words ({@code said}). */
    public static ToolUse saying(String said, String name, ObjectNode input) {
      return new ToolUse(name, input, said);
    }
  }

  /**
   * A streamed reply that starts and never ends: pings every half second until the client goes
   * away or the API closes (a run to kill in the middle). Counted in {@link #held()} while it lasts.
   */
  public record Hold() implements Reply {}

  private final HttpServer http;
  private final ConcurrentLinkedQueue<Reply> script = new ConcurrentLinkedQueue<>();
  private volatile Reply last = new Text("ok");
  private final List<JsonNode> requests = new CopyOnWriteArrayList<>();
  private final java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);
  private final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();

  private FakeMessagesApi(HttpServer http) {
    this.http = http;
  }

  public static FakeMessagesApi start() throws IOException {
    HttpServer h = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    FakeMessagesApi api = new FakeMessagesApi(h);
    h.createContext("/", api::handle);
    h.setExecutor(Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "fake-messages-api");
      t.setDaemon(true);
      return t;
    }));
    h.start();
    return api;
  }

  public String url() {
    return "http://127.0.0.1:" + http.getAddress().getPort();
  }

  public FakeMessagesApi then(Reply r) {
    script.add(r);
    return this;
  }

  /** The bodies of the message requests so far, in order. */
  public List<JsonNode> requests() {
    return new ArrayList<>(requests);
  }

  /** How many {@link Hold} replies are going now (their clients still there). */
  public int held() {
    return held.get();
  }

  /** The text of every user content block of a request, joined. */
  public static String userText(JsonNode request) {
    StringBuilder b = new StringBuilder();
    for (JsonNode m : request.path("messages")) {
      if (!m.path("role").asText().equals("user")) continue;
      if (m.path("content").isTextual()) b.append(m.path("content").asText()).append('\n');
      for (JsonNode c : m.path("content")) if (c.path("type").asText().equals("text")) b.append(c.path("text").asText()).append('\n');
    }
    return b.toString();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      byte[] body = ex.getRequestBody().readAllBytes();
      String path = ex.getRequestURI().getPath();
      if (!ex.getRequestMethod().equals("POST") || !path.startsWith("/v1/messages")) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      JsonNode req = M.readTree(body);
      if (path.endsWith("/count_tokens")) {
        send(ex, 200, "application/json", "{\"input_tokens\":10}");
        return;
      }
      requests.add(req);
      Reply r = script.poll();
      if (r == null) r = last;
      last = r;
      if (r instanceof Error e) {
        ObjectNode err = M.createObjectNode().put("type", "error");
        err.putObject("error").put("type", e.type()).put("message", e.message());
        send(ex, e.status(), "application/json", err.toString());
        return;
      }
      String model = req.path("model").asText("claude");
      if (r instanceof ToolUse u) {
        toolUse(ex, req, model, u);
        return;
      }
      if (r instanceof Hold) {
        hold(ex, model);
        return;
      }
      String text = ((Text) r).text();
      if (!req.path("stream").asBoolean(false)) {
        ObjectNode m = message(model);
        m.putArray("content").addObject().put("type", "text").put("text", text);
        m.put("stop_reason", "end_turn");
        send(ex, 200, "application/json", m.toString());
        return;
      }
      ex.getResponseHeaders().set("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      ObjectNode start = M.createObjectNode().put("type", "message_start");
      start.set("message", message(model).putNull("stop_reason"));
      event(out, "message_start", start);
      ObjectNode block = M.createObjectNode().put("type", "content_block_start").put("index", 0);
      block.putObject("content_block").put("type", "text").put("text", "");
      event(out, "content_block_start", block);
      ObjectNode delta = M.createObjectNode().put("type", "content_block_delta").put("index", 0);
      delta.putObject("delta").put("type", "text_delta").put("text", text);
      event(out, "content_block_delta", delta);
      event(out, "content_block_stop", M.createObjectNode().put("type", "content_block_stop").put("index", 0));
      ObjectNode md = M.createObjectNode().put("type", "message_delta");
      md.putObject("delta").put("stop_reason", "end_turn").putNull("stop_sequence");
      md.putObject("usage").put("output_tokens", 7);
      event(out, "message_delta", md);
      event(out, "message_stop", M.createObjectNode().put("type", "message_stop"));
    }
  }

  private void toolUse(HttpExchange ex, JsonNode req, String model, ToolUse u) throws IOException {
    String id = "toolu_fake_" + requests.size();
    if (!req.path("stream").asBoolean(false)) {
      ObjectNode m = message(model);
      var content = m.putArray("content");
      if (u.said() != null) content.addObject().put("type", "text").put("text", u.said());
      content.addObject().put("type", "tool_use").put("id", id).put("name", u.name()).set("input", u.input());
      m.put("stop_reason", "tool_use");
      send(ex, 200, "application/json", m.toString());
      return;
    }
    ex.getResponseHeaders().set("Content-Type", "text/event-stream");
    ex.sendResponseHeaders(200, 0);
    OutputStream out = ex.getResponseBody();
    ObjectNode start = M.createObjectNode().put("type", "message_start");
    start.set("message", message(model).putNull("stop_reason"));
    event(out, "message_start", start);
    int index = 0;
    if (u.said() != null) {
      ObjectNode tb = M.createObjectNode().put("type", "content_block_start").put("index", index);
      tb.putObject("content_block").put("type", "text").put("text", "");
      event(out, "content_block_start", tb);
      ObjectNode td = M.createObjectNode().put("type", "content_block_delta").put("index", index);
      td.putObject("delta").put("type", "text_delta").put("text", u.said());
      event(out, "content_block_delta", td);
      event(out, "content_block_stop", M.createObjectNode().put("type", "content_block_stop").put("index", index));
      index++;
    }
    ObjectNode block = M.createObjectNode().put("type", "content_block_start").put("index", index);
    block.putObject("content_block").put("type", "tool_use").put("id", id).put("name", u.name()).putObject("input");
    event(out, "content_block_start", block);
    ObjectNode delta = M.createObjectNode().put("type", "content_block_delta").put("index", index);
    delta.putObject("delta").put("type", "input_json_delta").put("partial_json", u.input().toString());
    event(out, "content_block_delta", delta);
    event(out, "content_block_stop", M.createObjectNode().put("type", "content_block_stop").put("index", index));
    ObjectNode md = M.createObjectNode().put("type", "message_delta");
    md.putObject("delta").put("stop_reason", "tool_use").putNull("stop_sequence");
    md.putObject("usage").put("output_tokens", 9);
    event(out, "message_delta", md);
    event(out, "message_stop", M.createObjectNode().put("type", "message_stop"));
  }

  private void hold(HttpExchange ex, String model) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "text/event-stream");
    ex.sendResponseHeaders(200, 0);
    OutputStream out = ex.getResponseBody();
    ObjectNode start = M.createObjectNode().put("type", "message_start");
    start.set("message", message(model).putNull("stop_reason"));
    held.incrementAndGet();
    try {
      event(out, "message_start", start);
      while (!closing.await(500, java.util.concurrent.TimeUnit.MILLISECONDS)) {
        event(out, "ping", M.createObjectNode().put("type", "ping")); // throws once the client is gone
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      held.decrementAndGet();
    }
  }

  private static ObjectNode message(String model) {
    ObjectNode m = M.createObjectNode().put("id", "msg_fake").put("type", "message").put("role", "assistant").put("model", model);
    m.putArray("content");
    m.putNull("stop_sequence");
    m.putObject("usage").put("input_tokens", 12).put("output_tokens", 1);
    return m;
  }

  private static void event(OutputStream out, String type, JsonNode data) throws IOException {
    out.write(("event: " + type + "\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, b.length);
    ex.getResponseBody().write(b);
  }

  @Override
  public void close() {
    closing.countDown();
    http.stop(0);
  }
}
