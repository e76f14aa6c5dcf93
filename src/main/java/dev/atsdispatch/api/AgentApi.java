package dev.atsdispatch.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.files.OwnerOnly;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent API (issue 15): what an agent may read and do about its own task while its attempt
 * runs, as JSON over HTTP on a Unix socket, so that it is reachable inside the sandbox with the
 * network off and the agent never needs the source's credentials. Each attempt gets a token good
 * for that task and that attempt only ({@link #open}); the token is void once the attempt ends.
 *
 * <p>Endpoints ({@code Authorization: Bearer <token>}; {@code /task} is the token's own task):
 * {@code GET /tasks/{id}} the task (fields, comments, attempt, retry count); {@code POST
 * /tasks/{id}/comments} {@code {"comment": text}} a message on the task's thread; {@code PUT
 * /tasks/{id}/outputs} a JSON object reported as the outputs on completion instead of stdout;
 * {@code POST /task/questions} (or {@code /tasks/{id}/questions}) {@code {"text": question}} a question to people: when the
 * attempt ends the task waits for the answer, and the next attempt is given it.
 * Another task's id is 403, a missing, unknown or spent token 401, what the source cannot do 409.
 *
 * <p>Threads: Jetty's small pool (daemon) serves requests; {@link #open} and {@link Grant#close}
 * come from attempt threads; grants live in a concurrent map keyed by the token's SHA-256.
 */
public final class AgentApi implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AgentApi.class);
  private static final ObjectMapper M = new ObjectMapper();
  private static final int MAX_BODY = 1 << 20;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path socket;
  private final TaskSource source;
  private final Server server;
  private final Map<String, Grant> grants = new ConcurrentHashMap<>();
  private final dev.atsdispatch.status.AgentEvents events; // may be null: no event stream
  /** Event streams open now; beyond {@link #STREAMS} the API answers 503 (each holds a pool thread). */
  private final java.util.concurrent.atomic.AtomicInteger streams = new java.util.concurrent.atomic.AtomicInteger();
  private static final int STREAMS = 4;

  private AgentApi(Path socket, TaskSource source, Server server, dev.atsdispatch.status.AgentEvents events) {
    this.socket = socket;
    this.source = source;
    this.server = server;
    this.events = events;
  }

  /**
   * Serves the API on {@code dir/agent.sock} ({@code dir} made 0700 if missing; a stale socket
   * from an earlier run is replaced). IOException says why it cannot listen.
   */
  public static AgentApi start(Path dir, TaskSource source) throws IOException {
    return start(dir, source, null);
  }

  /** As above; {@code events} serves {@code GET /tasks/{id}/events} (its own attempt's, as server-sent events). */
  public static AgentApi start(Path dir, TaskSource source, dev.atsdispatch.status.AgentEvents events) throws IOException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    String problem = OwnerOnly.problem(dir);
    if (problem != null) throw new IOException("agent API directory " + dir + ": " + problem);
    Path sock = dir.resolve("agent.sock");
    Files.deleteIfExists(sock);
    QueuedThreadPool pool = new QueuedThreadPool(12, 2);
    pool.setName("agent-api");
    pool.setDaemon(true);
    Server server = new Server(pool);
    UnixDomainServerConnector c = new UnixDomainServerConnector(server, 1, 1, new HttpConnectionFactory());
    c.setUnixDomainPath(sock);
    server.addConnector(c);
    AgentApi api = new AgentApi(sock, source, server, events);
    server.setHandler(api.new Routes());
    try {
      server.start();
    } catch (Exception e) {
      try {
        server.stop();
      } catch (Exception ignored) {
        // it did not start
      }
      throw new IOException("agent API cannot listen on " + sock + ": " + e.getMessage(), e);
    }
    Files.setPosixFilePermissions(sock, PosixFilePermissions.fromString("rw-------"));
    return api;
  }

  public Path socket() {
    return socket;
  }

  /**
   * A token for one attempt of one task; {@code task} is what the agent may read of it (the
   * opened fields of an encrypted task: the agent has them in its prompt already).
   */
  public Grant open(TaskKey key, int attempt, ObjectNode task, boolean encrypted) {
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    Grant g = new Grant(this, token, key, attempt, task.deepCopy(), encrypted);
    grants.put(digest(token), g);
    return g;
  }

  void revoke(Grant g) {
    grants.remove(digest(g.token), g);
  }

  /** How many attempts hold a token now (for tests and the status). */
  public int granted() {
    return grants.size();
  }

  @Override
  public void close() {
    grants.clear();
    try {
      server.stop();
    } catch (Exception e) {
      log.warn("agent API did not stop cleanly: {}", e.toString());
    }
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      // the next start replaces it
    }
  }

  private static String digest(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** One attempt's access: its token, the environment that carries it, and what the agent set. */
  public static final class Grant implements AutoCloseable {
    private final AgentApi api;
    private final String token;
    private final TaskKey key;
    private final int attempt;
    private final ObjectNode task;
    private final boolean encrypted;
    private volatile ObjectNode outputs;
    private volatile String question;

    Grant(AgentApi api, String token, TaskKey key, int attempt, ObjectNode task, boolean encrypted) {
      this.api = api;
      this.token = token;
      this.key = key;
      this.attempt = attempt;
      this.task = task;
      this.encrypted = encrypted;
    }

    /** {@code ATS_DISPATCH_API} (the address), {@code ATS_DISPATCH_API_SOCKET} (for curl) and {@code ATS_DISPATCH_TOKEN}. */
    public Map<String, String> env() {
      Map<String, String> e = new LinkedHashMap<>();
      e.put("ATS_DISPATCH_API", "unix:" + api.socket);
      e.put("ATS_DISPATCH_API_SOCKET", api.socket.toString());
      e.put("ATS_DISPATCH_TOKEN", token);
      return e;
    }

    /** The outputs the agent set (PUT .../outputs), or null: then stdout is the response. */
    public ObjectNode outputs() {
      return outputs;
    }

    /** The question the agent asked (POST .../questions; the last one wins), or null. */
    public String question() {
      return question;
    }

    /** The token is void from now on. */
    @Override
    public void close() {
      api.revoke(this);
    }
  }

  // ---- requests ------------------------------------------------------------------------------

  private static final class Refusal extends RuntimeException {
    final int status;

    Refusal(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  private final class Routes extends Handler.Abstract {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      int status = 200;
      JsonNode body;
      try {
        if (request.getMethod().equals("GET") && request.getHttpURI().getPath().endsWith("/events")) {
          stream(request, response, callback);
          return true;
        }
        body = route(request);
        if (body == null) status = 204;
      } catch (Refusal r) {
        status = r.status;
        body = M.createObjectNode().put("error", r.getMessage());
      } catch (SourceException x) {
        status = switch (x.kind()) {
          case UNAVAILABLE -> 503;
          case NOT_FOUND -> 404;
          case CONFLICT, REFUSED -> 409;
        };
        body = M.createObjectNode().put("error", x.getMessage());
      } catch (RuntimeException x) {
        log.warn("agent API: {} {} failed", request.getMethod(), request.getHttpURI().getPath(), x);
        status = 500;
        body = M.createObjectNode().put("error", "internal error in ats-dispatch");
      }
      response.setStatus(status);
      if (body == null) {
        callback.succeeded();
        return true;
      }
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
      response.write(true, ByteBuffer.wrap((body + "\n").getBytes(StandardCharsets.UTF_8)), callback);
      return true;
    }

    private JsonNode route(Request request) {
      Grant g = grant(request);
      List<String> path = segments(request.getHttpURI().getPath());
      String method = request.getMethod();
      if (!path.isEmpty() && path.get(0).equals("task")) { // /task/... is the token's own task
        List<String> own = new java.util.ArrayList<>(List.of("tasks", g.key.id()));
        own.addAll(path.subList(1, path.size()));
        path = own;
      }
      if (path.size() < 2 || !path.get(0).equals("tasks")) throw new Refusal(404, "no such endpoint");
      if (!path.get(1).equals(g.key.id())) {
        throw new Refusal(403, "this token is for task " + g.key.display() + " only");
      }
      String what = path.size() == 2 ? "" : String.join("/", path.subList(2, path.size()));
      switch (method + " " + what) {
        case "GET ":
          return read(g);
        case "POST comments":
          comment(g, body(request));
          return M.createObjectNode().put("ok", true);
        case "PUT outputs":
        case "POST outputs": {
          JsonNode b = body(request);
          if (!b.isObject()) throw new Refusal(400, "outputs must be a JSON object");
          g.outputs = (ObjectNode) b;
          return null;
        }
        case "POST questions": {
          JsonNode t = body(request).path("text");
          if (!t.isTextual() || t.asText().isBlank()) throw new Refusal(400, "{\"text\": \"question\"} is required");
          g.question = t.asText();
          return M.createObjectNode().put("ok", true).put("note", "Asked. End your run now: the task waits for "
              + "the answer, and your next run is given it.");
        }
        case "PATCH ": {
          JsonNode b = body(request);
          if (!b.isObject()) throw new Refusal(400, "the fields must be a JSON object");
          source.update(g.key, (ObjectNode) b);
          return M.createObjectNode().put("ok", true);
        }
        case "POST move": {
          String q = body(request).path("target_queue").asText("");
          if (q.isBlank()) throw new Refusal(400, "{\"target_queue\": \"name\"} is required");
          source.move(g.key, q);
          return M.createObjectNode().put("ok", true);
        }
        default:
          throw new Refusal(404, "no such endpoint: " + method + " /" + String.join("/", path));
      }
    }

    /** {@code GET /task/events} or {@code /tasks/{id}/events}: the attempt's events so far, then as they come. */
    private void stream(Request request, Response response, Callback callback) {
      Grant g = grant(request);
      List<String> path = segments(request.getHttpURI().getPath());
      boolean own = path.equals(List.of("task", "events")) || path.equals(List.of("tasks", g.key.id(), "events"));
      if (!own) {
        throw new Refusal(path.size() == 3 && path.get(0).equals("tasks") ? 403 : 404,
            path.size() == 3 ? "this token is for task " + g.key.display() + " only" : "no such endpoint");
      }
      dev.atsdispatch.status.AgentEvents.History h = events == null ? null : events.get(g.key);
      if (h == null) throw new Refusal(404, "no events for this attempt");
      if (streams.incrementAndGet() > STREAMS) {
        streams.decrementAndGet();
        throw new Refusal(503, "at most " + STREAMS + " event streams at once");
      }
      java.util.concurrent.BlockingQueue<dev.atsdispatch.status.AgentEvents.Event> q =
          new java.util.concurrent.LinkedBlockingQueue<>(10_000);
      java.util.function.Consumer<dev.atsdispatch.status.AgentEvents.Event> live = q::offer;
      try (java.io.OutputStream out = Content.Sink.asOutputStream(response)) {
        List<dev.atsdispatch.status.AgentEvents.Event> past = h.subscribe(live);
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        boolean ended = false;
        for (var e : past) ended |= frame(out, e);
        out.flush();
        while (!ended && grants.containsValue(g)) {
          var e = q.poll(2, java.util.concurrent.TimeUnit.SECONDS);
          if (e != null) ended = frame(out, e);
          else out.write(": still here\n\n".getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
        callback.succeeded();
      } catch (IOException e) {
        callback.failed(e); // the agent stopped reading
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        callback.failed(e);
      } finally {
        h.unsubscribe(live);
        streams.decrementAndGet();
      }
    }

    private boolean frame(java.io.OutputStream out, dev.atsdispatch.status.AgentEvents.Event e) throws IOException {
      out.write(("id: " + e.seq() + "\nevent: " + e.type() + "\ndata: " + e.json() + "\n\n").getBytes(StandardCharsets.UTF_8));
      return e.type().equals("finished");
    }

    private Grant grant(Request request) {
      String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
      if (auth == null || !auth.startsWith("Bearer ")) throw new Refusal(401, "a bearer token is required (ATS_DISPATCH_TOKEN)");
      Grant g = grants.get(digest(auth.substring(7).strip()));
      if (g == null) throw new Refusal(401, "the token is not valid (it is good for one attempt, while it runs)");
      return g;
    }

    private JsonNode body(Request request) {
      byte[] bytes;
      try (InputStream in = Content.Source.asInputStream(request)) {
        bytes = in.readNBytes(MAX_BODY + 1);
      } catch (IOException e) {
        throw new Refusal(400, "the body could not be read: " + e.getMessage());
      }
      if (bytes.length > MAX_BODY) throw new Refusal(413, "the body is over " + MAX_BODY + " bytes");
      try {
        JsonNode n = M.readTree(bytes);
        if (n == null || n.isMissingNode()) throw new Refusal(400, "a JSON body is required");
        return n;
      } catch (IOException e) {
        throw new Refusal(400, "the body is not JSON");
      }
    }

    private JsonNode read(Grant g) {
      ObjectNode t = g.task.deepCopy();
      t.put("id", g.key.id());
      t.put("source", g.key.source());
      t.put("attempt", g.attempt);
      t.put("retry_count", g.attempt - 1);
      ArrayNode comments = t.putArray("comments");
      for (JsonNode m : source.comments(g.key)) comments.add(m);
      return t;
    }

    private void comment(Grant g, JsonNode b) {
      String text = b.path("comment").asText("");
      if (text.isBlank()) throw new Refusal(400, "{\"comment\": \"text\"} is required");
      if (g.encrypted) throw new Refusal(409, "an encrypted task's thread is readable by others: comments would be plaintext");
      source.comment(g.key, text);
    }
  }

  private static List<String> segments(String path) {
    java.util.ArrayList<String> out = new java.util.ArrayList<>();
    for (String s : path.split("/")) if (!s.isEmpty()) out.add(s);
    return out;
  }
}
