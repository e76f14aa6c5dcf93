package dev.atsdispatch.status;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status port: {@code GET /healthz} (200 while the process runs), {@code /readyz} (200 when
 * subscribed and ATS is reachable, else 503 naming what is missing) and {@code /metrics}
 * (Prometheus text). Anything else is 404. A request from one of the service's own agents is
 * refused (403, {@link OwnAgents}). Built on the JDK's HTTP server, with two daemon worker
 * threads and a daemon dispatcher, so it never keeps the JVM alive. {@link #start} binds and
 * serves; {@link #close} stops it.
 */
public final class StatusServer implements AutoCloseable {
  /** Where the status port binds unless told otherwise: loopback only. */
  public static final String DEFAULT_HOST = "127.0.0.1";

  private static final Logger log = LoggerFactory.getLogger(StatusServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String JSON_TYPE = "application/json";

  private final HttpServer http;
  private final ExecutorService workers;
  private final DispatchMetrics metrics;
  private final Readiness readiness;
  private final AgentEvents agents; // null: no operator endpoints
  private volatile java.util.function.Supplier<ObjectNode> status = () -> null;
  private volatile byte[] token; // the operator API's bearer token beyond loopback; null: not served there
  private volatile java.util.function.Supplier<com.fasterxml.jackson.databind.JsonNode> routes = () -> null;

  /** What {@code GET /routes} shows (read-only: routes change in the settings file). */
  public StatusServer serveRoutes(java.util.function.Supplier<com.fasterxml.jackson.databind.JsonNode> r) {
    this.routes = r;
    return this;
  }

  /** The bearer token the operator API asks for when the port is bound beyond loopback (empty: none). */
  public StatusServer operatorToken(String t) {
    this.token = t == null || t.isEmpty() ? null : t.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return this;
  }

  /** Loopback binds serve the operator API to anyone on the machine; others only with the token. */
  private String operatorRefusal(HttpExchange ex) {
    if (http.getAddress().getAddress().isLoopbackAddress()) return null;
    byte[] want = token;
    if (want == null) return "the operator API is served beyond loopback only with status.token set";
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    byte[] got = auth != null && auth.startsWith("Bearer ")
        ? auth.substring(7).strip().getBytes(java.nio.charset.StandardCharsets.UTF_8) : new byte[0];
    return java.security.MessageDigest.isEqual(want, got) ? null : "a bearer token is required (status.token)";
  }

  private volatile Dashboard dashboard;

  /** Serves the operator's dashboard at {@code /} (and its API under {@code /api/}) from {@code ops}. */
  public StatusServer serveDashboard(dev.atsdispatch.dispatch.Operations ops) {
    this.dashboard = new Dashboard(ops);
    return this;
  }

  /**
   * On a loopback bind, a request must name a loopback host: a page of another site whose name was
   * re-pointed at 127.0.0.1 (DNS rebinding) gets nothing of the operator's views.
   */
  private String hostRefusal(HttpExchange ex) {
    if (!http.getAddress().getAddress().isLoopbackAddress()) return null;
    String host = ex.getRequestHeaders().getFirst("Host");
    if (host == null) return null; // HTTP/1.0 without Host: not a browser's request
    String name = host.startsWith("[") ? host.substring(0, host.indexOf(']') + 1)
        : host.contains(":") ? host.substring(0, host.lastIndexOf(':')) : host;
    name = name.toLowerCase(java.util.Locale.ROOT);
    boolean loopback = name.equals("localhost") || name.endsWith(".localhost") || name.equals("[::1]")
        || name.matches("127(\\.\\d{1,3}){3}");
    return loopback ? null : "this port answers only requests to a loopback host name (localhost, 127.0.0.1), not " + name;
  }

  /** What {@code GET /status} shows (capacity, running, waiting, deferred); set once the engine runs. */
  public StatusServer serveStatus(java.util.function.Supplier<ObjectNode> s) {
    this.status = s;
    return this;
  }
  private final long startedNanos = System.nanoTime();

  private StatusServer(HttpServer http, ExecutorService workers, DispatchMetrics metrics,
      Readiness readiness, AgentEvents agents) {
    this.http = http;
    this.workers = workers;
    this.metrics = metrics;
    this.readiness = readiness;
    this.agents = agents;
  }

  /** Binds {@code host:port} ({@code port} 0: any free port) and starts serving. */
  public static StatusServer start(String host, int port, DispatchMetrics metrics, Readiness readiness) {
    return start(host, port, metrics, readiness, null);
  }

  /**
   * As above, with the operator's view of the agents: {@code GET /agents} (the running ones),
   * {@code /agents/{task}} (one, with its buffered history of events) and
   * {@code /agents/{task}/events} (that history, then the events as they happen, as
   * server-sent events until the attempt ends). Served on a loopback bind only.
   */
  public static StatusServer start(String host, int port, DispatchMetrics metrics, Readiness readiness,
      AgentEvents agents) {
    HttpServer http;
    try {
      http = HttpServer.create(new InetSocketAddress(host, port), 16);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind the status port " + host + ":" + port + ": "
          + e.getMessage(), e);
    }
    AtomicInteger n = new AtomicInteger();
    ExecutorService workers = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "status-http-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    StatusServer s = new StatusServer(http, workers, metrics, readiness, agents);
    http.createContext("/", s::handle);
    http.setExecutor(workers);
    // the JDK server's dispatcher thread inherits daemon status from the thread that starts it
    Thread starter = new Thread(http::start, "status-http-start");
    starter.setDaemon(true);
    starter.start();
    try {
      starter.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log.info("status port listening on http://{}:{}", host, s.port());
    return s;
  }

  public int port() {
    return http.getAddress().getPort();
  }

  /** {@code http://host:port} as a client on this machine reaches it. */
  public String url() {
    String h = http.getAddress().getAddress().getHostAddress();
    if (http.getAddress().getAddress().isAnyLocalAddress()) h = "127.0.0.1";
    return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + port();
  }

  @Override
  public void close() {
    http.stop(0);
    workers.shutdownNow();
  }

  private void handle(HttpExchange ex) {
    boolean handedOff = false;
    try {
      if (OwnAgents.isOwnAgent(ex.getRemoteAddress(), port())) {
        // an agent on the host's network (agent.network = true) gets nothing of the service
        send(ex, 403, JSON_TYPE, error("the status port does not serve the service's own agents"));
        return;
      }
      String path = ex.getRequestURI().getPath();
      boolean operatorPath = path.equals("/routes") || path.equals("/status") || path.startsWith("/agents")
          || (dashboard != null && Dashboard.serves(path));
      String wrongHost = operatorPath ? hostRefusal(ex) : null;
      if (wrongHost != null) {
        send(ex, 403, JSON_TYPE, error(wrongHost));
        return;
      }
      Dashboard d = dashboard;
      if (d != null && Dashboard.serves(path)) {
        String no = Dashboard.isStatic(path) ? null : operatorRefusal(ex);
        if (no != null) {
          send(ex, no.startsWith("a bearer") ? 401 : 403, JSON_TYPE, error(no));
        } else {
          d.handle(ex, path);
        }
        return;
      }
      if (path.equals("/routes") && routes.get() != null) {
        String no = operatorRefusal(ex);
        if (no != null) {
          send(ex, no.startsWith("a bearer") ? 401 : 403, JSON_TYPE, error(no));
        } else if (!ex.getRequestMethod().equals("GET")) {
          ex.getResponseHeaders().set("Allow", "GET");
          send(ex, 405, JSON_TYPE, error("routes are read-only here: change them in the settings file and restart"));
        } else {
          ObjectNode n = JSON.createObjectNode();
          n.set("routes", routes.get());
          send(ex, 200, JSON_TYPE, JSON.writeValueAsBytes(n));
        }
        return;
      }
      if (path.equals("/status") && status.get() != null) {
        String no = operatorRefusal(ex);
        if (no != null) {
          send(ex, no.startsWith("a bearer") ? 401 : 403, JSON_TYPE, error(no));
        } else {
          ObjectNode n = status.get();
          n.put("agents", agents == null ? 0 : agents.running().size());
          send(ex, 200, JSON_TYPE, JSON.writeValueAsBytes(n));
        }
        return;
      }
      if (agents != null && (path.equals("/agents") || path.startsWith("/agents/"))) {
        handedOff = operator(ex, path);
        return;
      }
      boolean known = path.equals("/healthz") || path.equals("/readyz") || path.equals("/metrics");
      if (!known) {
        send(ex, 404, JSON_TYPE, error("not found: " + path + " (try /healthz, /readyz, /metrics)"));
        return;
      }
      String method = ex.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        ex.getResponseHeaders().set("Allow", "GET, HEAD");
        send(ex, 405, JSON_TYPE, error("method not allowed: " + method));
        return;
      }
      switch (path) {
        case "/healthz" -> health(ex);
        case "/readyz" -> ready(ex);
        default -> metrics(ex);
      }
    } catch (IOException | RuntimeException e) {
      log.warn("status request failed: {}", e.toString());
    } finally {
      if (!handedOff) ex.close();
    }
  }

  // ---- the operator's view of the agents -----------------------------------------------------

  /** Answers an /agents request; true when an SSE stream took the exchange to a thread of its own. */
  private boolean operator(HttpExchange ex, String path) throws IOException {
    String no = operatorRefusal(ex);
    if (no != null) {
      send(ex, no.startsWith("a bearer") ? 401 : 403, JSON_TYPE, error(no));
      return false;
    }
    if (!ex.getRequestMethod().equals("GET")) {
      ex.getResponseHeaders().set("Allow", "GET");
      send(ex, 405, JSON_TYPE, error("method not allowed: " + ex.getRequestMethod()));
      return false;
    }
    java.time.Instant now = java.time.Instant.now();
    if (path.equals("/agents") || path.equals("/agents/")) {
      ObjectNode n = JSON.createObjectNode();
      var list = n.putArray("agents");
      for (AgentEvents.History h : agents.running()) list.add(h.summary(now));
      send(ex, 200, JSON_TYPE, JSON.writeValueAsBytes(n));
      return false;
    }
    String rest = path.substring("/agents/".length());
    boolean stream = rest.endsWith("/events");
    if (stream) rest = rest.substring(0, rest.length() - "/events".length());
    dev.atsdispatch.source.TaskKey key;
    try {
      key = rest.contains(":") ? dev.atsdispatch.source.TaskKey.parse(rest)
          : new dev.atsdispatch.source.TaskKey("ats", rest);
    } catch (IllegalArgumentException e) {
      send(ex, 400, JSON_TYPE, error("not a task: " + rest + " (ats:123, or 123 for ATS)"));
      return false;
    }
    AgentEvents.History h = agents.get(key);
    if (h == null) {
      send(ex, 404, JSON_TYPE, error("no agent ran for " + key + " lately"));
      return false;
    }
    if (!stream) {
      ObjectNode n = h.summary(now);
      var ev = n.putArray("events");
      for (AgentEvents.Event e : h.events()) ev.add(e.json());
      send(ex, 200, JSON_TYPE, JSON.writeValueAsBytes(n));
      return false;
    }
    Thread t = new Thread(() -> sse(ex, h), "status-sse");
    t.setDaemon(true);
    t.start();
    return true;
  }

  /** The history, then each new event as it comes, until the attempt ends or the client goes. */
  private static void sse(HttpExchange ex, AgentEvents.History h) {
    java.util.concurrent.BlockingQueue<AgentEvents.Event> q = new java.util.concurrent.LinkedBlockingQueue<>(10_000);
    java.util.concurrent.atomic.AtomicBoolean overflow = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.function.Consumer<AgentEvents.Event> live = e -> {
      if (!q.offer(e)) overflow.set(true);
    };
    try (ex) {
      java.util.List<AgentEvents.Event> past = h.subscribe(live);
      ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
      ex.getResponseHeaders().set("Cache-Control", "no-store");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      boolean ended = false;
      for (AgentEvents.Event e : past) ended |= write(out, e);
      out.flush();
      while (!ended && !overflow.get()) {
        AgentEvents.Event e = q.poll(15, java.util.concurrent.TimeUnit.SECONDS);
        if (e == null) {
          out.write(": still here\n\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } else {
          ended = write(out, e);
        }
        out.flush();
      }
    } catch (IOException e) {
      // the client went away
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      h.unsubscribe(live);
    }
  }

  /** One event in SSE framing; true when it ends the attempt. */
  private static boolean write(OutputStream out, AgentEvents.Event e) throws IOException {
    String frame = "id: " + e.seq() + "\nevent: " + e.type() + "\ndata: " + e.json() + "\n\n";
    out.write(frame.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return e.type().equals("finished");
  }

  private void health(HttpExchange ex) throws IOException {
    ObjectNode n = JSON.createObjectNode();
    n.put("status", "ok");
    n.put("uptime_seconds", (System.nanoTime() - startedNanos) / 1_000_000_000L);
    n.put("pid", ProcessHandle.current().pid());
    send(ex, 200, JSON_TYPE, JSON.writeValueAsBytes(n));
  }

  private void ready(HttpExchange ex) throws IOException {
    String detail = "";
    boolean subscribed;
    boolean reachable;
    try {
      subscribed = readiness.subscribed();
      reachable = readiness.atsReachable();
      detail = readiness.detail();
    } catch (RuntimeException e) {
      subscribed = false;
      reachable = false;
      detail = "readiness check failed: " + e;
    }
    boolean ready = subscribed && reachable;
    ObjectNode n = JSON.createObjectNode();
    n.put("status", ready ? "ready" : "not ready");
    n.put("subscribed", subscribed);
    n.put("ats_reachable", reachable);
    var missing = n.putArray("missing");
    if (!subscribed) missing.add("websocket not subscribed");
    if (!reachable) missing.add("ATS not reachable");
    if (detail != null && !detail.isEmpty()) n.put("detail", detail);
    send(ex, ready ? 200 : 503, JSON_TYPE, JSON.writeValueAsBytes(n));
  }

  private void metrics(HttpExchange ex) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(4096);
    try {
      metrics.writeText(b);
    } catch (IOException | RuntimeException e) {
      send(ex, 500, JSON_TYPE, error("cannot collect metrics: " + e.getMessage()));
      return;
    }
    send(ex, 200, DispatchMetrics.CONTENT_TYPE, b.toByteArray());
  }

  private static byte[] error(String message) throws IOException {
    return JSON.writeValueAsBytes(JSON.createObjectNode().put("error", message));
  }

  private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.getResponseHeaders().set("Cache-Control", "no-store");
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
