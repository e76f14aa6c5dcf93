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
  private final long startedNanos = System.nanoTime();

  private StatusServer(HttpServer http, ExecutorService workers, DispatchMetrics metrics,
      Readiness readiness) {
    this.http = http;
    this.workers = workers;
    this.metrics = metrics;
    this.readiness = readiness;
  }

  /** Binds {@code host:port} ({@code port} 0: any free port) and starts serving. */
  public static StatusServer start(String host, int port, DispatchMetrics metrics, Readiness readiness) {
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
    StatusServer s = new StatusServer(http, workers, metrics, readiness);
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
    try (ex) {
      if (OwnAgents.isOwnAgent(ex.getRemoteAddress(), port())) {
        // an agent on the host's network (agent.network = true) gets nothing of the service
        send(ex, 403, JSON_TYPE, error("the status port does not serve the service's own agents"));
        return;
      }
      String path = ex.getRequestURI().getPath();
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
    }
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
