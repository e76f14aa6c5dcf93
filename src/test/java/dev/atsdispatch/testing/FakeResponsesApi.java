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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small OpenAI Responses API for the real {@code codex} CLI to talk to (a model provider whose
 * {@code base_url} is {@link #url()}): {@code POST .../responses} answers from a script, one reply
 * per request in order (then the last one again): a streamed assistant message (SSE, as the API
 * streams it, with usage in {@code response.completed}) or an error status with the API's error
 * body. Every request body is kept for the test to read; other paths answer 404. Threads: the JDK
 * server's small pool.
 */
public final class FakeResponsesApi implements AutoCloseable {
  private static final ObjectMapper M = new ObjectMapper();

  /** One scripted reply. */
  public sealed interface Reply {}

  public record Text(String text) implements Reply {}

  public record Error(int status, String type, String code, String message) implements Reply {}

  private final HttpServer http;
  private final ConcurrentLinkedQueue<Reply> script = new ConcurrentLinkedQueue<>();
  private volatile Reply last = new Text("ok");
  private final List<JsonNode> requests = new CopyOnWriteArrayList<>();
  private final List<String> paths = new CopyOnWriteArrayList<>();
  private final AtomicInteger ids = new AtomicInteger();

  private FakeResponsesApi(HttpServer http) {
    this.http = http;
  }

  public static FakeResponsesApi start() throws IOException {
    HttpServer h = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    FakeResponsesApi api = new FakeResponsesApi(h);
    h.createContext("/", api::handle);
    h.setExecutor(Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "fake-responses-api");
      t.setDaemon(true);
      return t;
    }));
    h.start();
    return api;
  }

  /** The base URL, ending in {@code /v1}. */
  public String url() {
    return "http://127.0.0.1:" + http.getAddress().getPort() + "/v1";
  }

  public FakeResponsesApi then(Reply r) {
    script.add(r);
    return this;
  }

  /** The bodies of the response requests so far, in order. */
  public List<JsonNode> requests() {
    return new ArrayList<>(requests);
  }

  /** Every path asked for, in order (the CLI may ask for more than responses). */
  public List<String> paths() {
    return new ArrayList<>(paths);
  }

  /** The text of every user message of a request's input, joined. */
  public static String userText(JsonNode request) {
    StringBuilder b = new StringBuilder();
    JsonNode input = request.path("input");
    if (input.isTextual()) return input.asText();
    for (JsonNode m : input) {
      if (!m.path("role").asText().equals("user")) continue;
      if (m.path("content").isTextual()) b.append(m.path("content").asText()).append('\n');
      for (JsonNode c : m.path("content")) if (c.has("text")) b.append(c.path("text").asText()).append('\n');
    }
    return b.toString();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      byte[] body = ex.getRequestBody().readAllBytes();
      String path = ex.getRequestURI().getPath();
      paths.add(ex.getRequestMethod() + " " + path);
      if (!ex.getRequestMethod().equals("POST") || !path.endsWith("/responses")) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      JsonNode req = M.readTree(body);
      requests.add(req);
      Reply r = script.poll();
      if (r == null) r = last;
      last = r;
      if (r instanceof Error e) {
        ObjectNode err = M.createObjectNode();
        err.putObject("error").put("type", e.type()).put("code", e.code()).put("message", e.message()).putNull("param");
        byte[] b = err.toString().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(e.status(), b.length);
        ex.getResponseBody().write(b);
        return;
      }
      String text = ((Text) r).text();
      int n = ids.incrementAndGet();
      String id = "resp_fake" + n;
      String model = req.path("model").asText("gpt-fake");
      ex.getResponseHeaders().set("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      ObjectNode created = M.createObjectNode().put("type", "response.created");
      created.putObject("response").put("id", id).put("object", "response").put("model", model).put("status", "in_progress");
      event(out, created);
      ObjectNode item = M.createObjectNode().put("type", "message").put("id", "msg_fake" + n).put("role", "assistant")
          .put("status", "in_progress");
      item.putArray("content");
      event(out, M.createObjectNode().put("type", "response.output_item.added").put("output_index", 0).set("item", item));
      event(out, M.createObjectNode().put("type", "response.output_text.delta").put("item_id", "msg_fake" + n)
          .put("output_index", 0).put("content_index", 0).put("delta", text));
      ObjectNode done = item.deepCopy().put("status", "completed");
      done.putArray("content").addObject().put("type", "output_text").put("text", text).putArray("annotations");
      event(out, M.createObjectNode().put("type", "response.output_item.done").put("output_index", 0).set("item", done));
      ObjectNode completed = M.createObjectNode().put("type", "response.completed");
      ObjectNode resp = completed.putObject("response").put("id", id).put("object", "response").put("model", model)
          .put("status", "completed");
      ObjectNode usage = resp.putObject("usage").put("input_tokens", 12).put("output_tokens", 7).put("total_tokens", 19);
      usage.putObject("input_tokens_details").put("cached_tokens", 3);
      usage.putObject("output_tokens_details").put("reasoning_tokens", 0);
      event(out, completed);
    }
  }

  private static void event(OutputStream out, JsonNode data) throws IOException {
    out.write(("event: " + data.path("type").asText() + "\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  @Override
  public void close() {
    http.stop(0);
  }
}
