package dev.atsdispatch.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The status port over real HTTP on an ephemeral loopback port. */
@Timeout(30)
final class StatusServerTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final OkHttpClient HTTP = new OkHttpClient.Builder().proxy(Proxy.NO_PROXY)
      .connectTimeout(5, TimeUnit.SECONDS).readTimeout(5, TimeUnit.SECONDS).build();

  final DispatchMetrics metrics = DispatchMetrics.create();
  final AtomicBoolean subscribed = new AtomicBoolean(true);
  final AtomicBoolean reachable = new AtomicBoolean(true);
  final Readiness readiness = new Readiness() {
    @Override
    public boolean subscribed() {
      return subscribed.get();
    }

    @Override
    public boolean atsReachable() {
      return reachable.get();
    }

    @Override
    public String detail() {
      return reachable.get() ? "" : "health check: connection refused";
    }
  };
  StatusServer server;

  @AfterEach
  void stop() {
    if (server != null) server.close();
  }

  static String allow(Got g) {
    return g.allow();
  }

  record Got(int status, String type, String body, String allow) {
    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  Got call(String method, String path) throws IOException {
    Request.Builder b = new Request.Builder().url("http://127.0.0.1:" + server.port() + path);
    if (method.equals("POST")) b.post(RequestBody.create(new byte[0]));
    else if (method.equals("HEAD")) b.head();
    try (Response r = HTTP.newCall(b.build()).execute()) {
      return new Got(r.code(), r.header("Content-Type"), r.body().string(), r.header("Allow"));
    }
  }

  Got get(String path) throws IOException {
    return call("GET", path);
  }

  StatusServer start() {
    server = StatusServer.start(StatusServer.DEFAULT_HOST, 0, metrics, readiness);
    return server;
  }

  @Test
  void healthzIsOkWhileTheProcessRuns() throws Exception {
    start();
    assertTrue(server.port() > 0);
    Got g = get("/healthz");
    assertEquals(200, g.status());
    assertEquals("application/json", g.type());
    assertEquals("ok", g.json().path("status").asText());
    assertEquals(ProcessHandle.current().pid(), g.json().path("pid").asLong());
    // health does not depend on readiness
    subscribed.set(false);
    reachable.set(false);
    assertEquals(200, get("/healthz").status());
  }

  @Test
  void readyzIs200OnlyWhenSubscribedAndAtsReachable() throws Exception {
    start();
    Got ok = get("/readyz");
    assertEquals(200, ok.status());
    assertEquals("ready", ok.json().path("status").asText());
    assertEquals(0, ok.json().path("missing").size());

    subscribed.set(false);
    Got notSub = get("/readyz");
    assertEquals(503, notSub.status());
    assertEquals("application/json", notSub.type());
    assertFalse(notSub.json().path("subscribed").asBoolean());
    assertTrue(notSub.json().path("ats_reachable").asBoolean());
    assertEquals(List.of("websocket not subscribed"), missing(notSub));

    subscribed.set(true);
    reachable.set(false);
    Got down = get("/readyz");
    assertEquals(503, down.status());
    assertEquals(List.of("ATS not reachable"), missing(down));
    assertEquals("health check: connection refused", down.json().path("detail").asText());

    subscribed.set(false);
    assertEquals(List.of("websocket not subscribed", "ATS not reachable"), missing(get("/readyz")));

    subscribed.set(true);
    reachable.set(true);
    assertEquals(200, get("/readyz").status(), "ready again");
  }

  @Test
  void aReadinessThatThrowsIsNotReady() throws Exception {
    server = StatusServer.start("127.0.0.1", 0, metrics, new Readiness() {
      @Override
      public boolean subscribed() {
        throw new IllegalStateException("watcher not built yet");
      }

      @Override
      public boolean atsReachable() {
        return true;
      }
    });
    Got g = get("/readyz");
    assertEquals(503, g.status());
    assertTrue(g.json().path("detail").asText().contains("watcher not built yet"), g.body());
  }

  static List<String> missing(Got g) throws IOException {
    return JSON.convertValue(g.json().path("missing"), JSON.getTypeFactory()
        .constructCollectionType(List.class, String.class));
  }

  @Test
  void metricsServesThePrometheusTextWithCurrentValues() throws Exception {
    start();
    metrics.gauges(() -> 3, () -> 9, () -> 2, () -> 4);
    metrics.taskFinished("completed");
    metrics.taskFinished("poisoned");
    metrics.strike();
    metrics.webSocketReconnected();
    metrics.webSocketReconnected();
    metrics.agentFinished(Duration.ofSeconds(20));
    Got g = get("/metrics");
    assertEquals(200, g.status());
    assertEquals("text/plain; version=0.0.4; charset=utf-8", g.type());
    MetricsText t = MetricsText.parse(g.body());
    assertEquals(1.0, t.value("ats_dispatch_tasks_total", "outcome", "completed"));
    assertEquals(1.0, t.value("ats_dispatch_tasks_total", "outcome", "poisoned"));
    assertEquals(0.0, t.value("ats_dispatch_tasks_total", "outcome", "failed"));
    assertEquals(1.0, t.value("ats_dispatch_strikes_total"));
    assertEquals(2.0, t.value("ats_dispatch_websocket_reconnects_total"));
    assertEquals(3.0, t.value("ats_dispatch_tasks_running"));
    assertEquals(9.0, t.value("ats_dispatch_tasks_waiting"));
    assertEquals(2.0, t.value("ats_dispatch_tasks_deferred"));
    assertEquals(4.0, t.value("ats_dispatch_outbox_depth"));
    assertEquals(1.0, t.value("ats_dispatch_agent_duration_seconds_bucket", "le", "30.0"));
    assertEquals(0.0, t.value("ats_dispatch_agent_duration_seconds_bucket", "le", "15.0"));

    metrics.taskFinished("completed");
    assertEquals(2.0, MetricsText.parse(get("/metrics").body())
        .value("ats_dispatch_tasks_total", "outcome", "completed"), "every scrape is current");
  }

  @Test
  void otherPathsAre404AndOtherMethods405() throws Exception {
    start();
    for (String p : List.of("/", "/health", "/healthz/x", "/metricsx", "/readyz/")) {
      Got g = get(p);
      assertEquals(404, g.status(), p);
      assertTrue(g.json().path("error").asText().startsWith("not found"), p + ": " + g.body());
    }
    Got post = call("POST", "/metrics");
    assertEquals(405, post.status());
    assertEquals("GET, HEAD", allow(post));
    for (String p : List.of("/healthz", "/readyz", "/metrics")) {
      Got head = call("HEAD", p);
      assertEquals(200, head.status(), p);
      assertEquals("", head.body(), p);
    }
  }

  @Test
  void bindsLoopbackAndStopsAnsweringWhenClosed() throws Exception {
    start();
    int port = server.port();
    assertEquals("http://127.0.0.1:" + port, server.url());
    assertEquals(200, get("/healthz").status());
    server.close();
    server = null;
    assertThrows(ConnectException.class, () -> {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      }
    });
  }

  /** Beyond loopback the operator API asks for the bearer token, and without one is not served; /healthz still is. */
  @Test
  void beyondLoopbackTheOperatorApiNeedsTheToken() throws Exception {
    AgentEvents ev = new AgentEvents();
    ev.started(dev.atsdispatch.source.TaskKey.of("ats", 7), 1, java.time.Instant.now());
    server = StatusServer.start("0.0.0.0", 0, metrics, readiness, ev)
        .serveStatus(() -> JSON.createObjectNode().put("capacity", 4));
    assertEquals(403, get("/agents").status(), "served beyond loopback with no token set");
    assertEquals(403, get("/status").status());
    assertEquals(200, get("/healthz").status());
    server.operatorToken("s3cret-token-value");
    assertEquals(401, get("/agents").status());
    Request.Builder b = new Request.Builder().url("http://127.0.0.1:" + server.port() + "/agents")
        .header("Authorization", "Bearer wrong");
    try (Response r = HTTP.newCall(b.build()).execute()) {
      assertEquals(401, r.code());
    }
    b.header("Authorization", "Bearer s3cret-token-value");
    try (Response r = HTTP.newCall(b.build()).execute()) {
      assertEquals(200, r.code());
      assertEquals("ats:7", JSON.readTree(r.body().string()).path("agents").get(0).path("task").asText());
    }
  }

  /** A request with its own Host header (OkHttp sets the one it is given). */
  Got withHost(String path, String host) throws IOException {
    Request r = new Request.Builder().url("http://127.0.0.1:" + server.port() + path).header("Host", host).build();
    try (Response x = HTTP.newCall(r).execute()) {
      return new Got(x.code(), x.header("Content-Type"), x.body().string(), x.header("Allow"));
    }
  }

  /** The dashboard: its page for anyone who may see the port; its API and actions guarded. */
  @Test
  void theDashboardsActionsNeedItsTokenAndAPostAndLoopbackNamesOnly() throws Exception {
    server = StatusServer.start("127.0.0.1", 0, metrics, readiness, new AgentEvents())
        .serveDashboard(new dev.atsdispatch.dispatch.Operations(List.of(), new AgentEvents()));
    Got page = get("/");
    assertEquals(200, page.status());
    assertTrue(page.type().startsWith("text/html"), page.type());
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("ats-dispatch-action-token\" content=\"([0-9a-f]{48})\"")
        .matcher(page.body());
    assertTrue(m.find(), page.body());
    assertEquals(200, get("/dashboard.js").status());
    assertEquals(200, get("/api/overview").status());
    assertEquals(0, get("/api/overview").json().path("totals").path("running").asInt());
    // an action by GET is no action; a POST without the page's token is refused
    assertEquals(404, get("/api/tasks/ats:1/cancel").status());
    Got noToken = call("POST", "/api/tasks/ats:1/cancel");
    assertEquals(403, noToken.status());
    assertTrue(noToken.json().path("error").asText().contains("X-ATS-Dispatch-Token"), noToken.body());
    Request withToken = new Request.Builder().url("http://127.0.0.1:" + server.port() + "/api/tasks/ats:1/cancel")
        .header("X-ATS-Dispatch-Token", m.group(1)).post(RequestBody.create(new byte[0])).build();
    try (Response r = HTTP.newCall(withToken).execute()) {
      assertEquals(409, r.code(), "with the token the action is tried: nothing runs here");
      assertTrue(r.body().string().contains("ats:1 is not running here"));
    }
    // DNS rebinding: a foreign name for 127.0.0.1 gets nothing of the operator's views
    assertEquals(403, withHost("/api/overview", "attacker.example:" + server.port()).status());
    assertEquals(403, withHost("/", "attacker.example").status());
    assertEquals(403, withHost("/agents", "attacker.example").status());
    assertEquals(200, withHost("/api/overview", "localhost:" + server.port()).status());
    assertEquals(200, withHost("/api/overview", "localhost:8080").status(), "an SSH tunnel's port is another");
    assertEquals(200, withHost("/healthz", "attacker.example").status(), "health stays open");
  }

  @Test
  void beyondLoopbackTheDashboardsApiNeedsTheBearerTokenButItsPageDoesNot() throws Exception {
    server = StatusServer.start("0.0.0.0", 0, metrics, readiness, new AgentEvents())
        .serveDashboard(new dev.atsdispatch.dispatch.Operations(List.of(), new AgentEvents()))
        .operatorToken("s3cret-token-value");
    assertEquals(200, get("/").status(), "the page holds nothing of the service");
    assertEquals(401, get("/api/overview").status());
    assertEquals(401, call("POST", "/api/tasks/ats:1/cancel").status());
    Request r = new Request.Builder().url("http://127.0.0.1:" + server.port() + "/api/overview")
        .header("Authorization", "Bearer s3cret-token-value").build();
    try (Response x = HTTP.newCall(r).execute()) {
      assertEquals(200, x.code());
    }
    assertEquals(401, withHost("/api/overview", "attacker.example").status(),
        "beyond loopback the host name is not checked; the token is");
  }

  @Test
  void aTakenPortIsAClearError() {
    start();
    var e = assertThrows(UncheckedIOException.class,
        () -> StatusServer.start("127.0.0.1", server.port(), metrics, readiness).close());
    assertTrue(e.getMessage().startsWith("cannot bind the status port 127.0.0.1:" + server.port()),
        e.getMessage());
  }

  @Test
  void itsThreadsNeverKeepTheJvmAlive() throws Exception {
    start();
    get("/healthz");
    List<Thread> mine = Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("status-http") || t.getName().equals("HTTP-Dispatcher"))
        .toList();
    assertTrue(mine.stream().anyMatch(t -> t.getName().equals("HTTP-Dispatcher")), mine.toString());
    assertTrue(mine.stream().anyMatch(t -> t.getName().startsWith("status-http-")), mine.toString());
    for (Thread t : mine) assertTrue(t.isDaemon(), t + " is not a daemon");
  }
}
