package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local ATS-compatible server: the REST API and the {@code /ws} event stream on one port, with
 * durable SQLite storage (ats-protocol.md §7). Build with {@link #builder()}, {@link #start()} it,
 * and {@link #close()} it; a stopped server cannot be restarted (build a new one on the same file).
 * Used by {@code ats-dispatch dev-server}, by {@code run --embedded}, and by tests in-process.
 *
 * <p>Limits against slow or stalled clients (it may be exposed on a LAN): at most {@link #THREADS}
 * request threads, none of which waits on a client (bodies are read without blocking, see
 * {@link BodyReader}); a body must arrive within the body read timeout; an HTTP connection silent
 * for {@link #HTTP_IDLE_TIMEOUT} is closed; a WebSocket client whose unsent frames pass
 * {@link #WS_QUEUE_BODIES} times the body limit in bytes is dropped (see {@link WsConnection}).
 */
public final class DevServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DevServer.class);
  static final int THREADS = 64;
  static final Duration HTTP_IDLE_TIMEOUT = Duration.ofSeconds(30);
  /** A WebSocket client's byte limit, in request bodies: room for a burst of the largest events. */
  static final int WS_QUEUE_BODIES = 8;

  private final Builder config;
  private final ObjectMapper mapper = new ObjectMapper();
  private Database db;
  private TaskStore store;
  private EventHub hub;
  private Server jetty;
  private ScheduledExecutorService sweeper;
  private int port;

  private DevServer(Builder config) {
    this.config = config;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Opens the database, binds the port and starts serving. */
  public synchronized DevServer start() {
    if (jetty != null) throw new IllegalStateException("already started");
    db = Database.open(config.inMemory ? null : config.database, config.fsync, mapper);
    try {
      hub = new EventHub(mapper);
      store = new TaskStore(db, config.clock, hub, config.strictOwnership);

      QueuedThreadPool threads = new QueuedThreadPool(THREADS, 4);
      threads.setName("ats-dev-http");
      threads.setDaemon(true);
      jetty = new Server(threads);
      jetty.setErrorHandler(new JsonErrorHandler());
      HttpConfiguration http = new HttpConfiguration();
      http.setSendServerVersion(false);
      // The CLI joins base URL and path without normalising: tolerate "//tasks".
      http.setUriCompliance(UriCompliance.LEGACY);
      ServerConnector connector = new ServerConnector(jetty, new HttpConnectionFactory(http));
      connector.setHost(config.host);
      connector.setPort(config.port);
      // While a request is read or between requests; a WebSocket connection gets its own below.
      connector.setIdleTimeout(HTTP_IDLE_TIMEOUT.toMillis());
      jetty.addConnector(connector);
      long wsQueueBytes = (long) WS_QUEUE_BODIES * config.maxBodyBytes;
      Scheduler scheduler = jetty.getScheduler();
      WebSocketUpgradeHandler ws = WebSocketUpgradeHandler.from(jetty, container -> {
        container.setIdleTimeout(config.idleTimeout);
        container.setMaxTextMessageSize(1 << 20);
        container.addMapping("/ws", (req, resp, cb) -> {
          var q = HttpApi.query(req.getHttpURI().getQuery());
          return new WsConnection(hub, mapper,
              Actor.of(q.get("actor_type"), q.get("actor_id"), q.get("actor_name")),
              wsQueueBytes, scheduler);
        });
      });
      ws.setHandler(new HttpApi(store, mapper, config.maxBodyBytes, config.bodyReadTimeout,
          config.testReset));
      jetty.setHandler(ws);
      jetty.start();
      port = connector.getLocalPort();

      sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ats-dev-lease-sweeper");
        t.setDaemon(true);
        return t;
      });
      long every = config.sweepInterval.toMillis();
      sweeper.scheduleWithFixedDelay(this::sweep, every, every, TimeUnit.MILLISECONDS);
      log.info("ATS dev server listening on {} ({}, {} tasks)", url(), db.description(),
          store.size());
      return this;
    } catch (Exception e) {
      close();
      if (e instanceof RuntimeException re) throw re;
      throw new IllegalStateException("cannot start the dev server on " + config.host + ":"
          + config.port + ": " + e.getMessage(), e);
    }
  }

  private void sweep() {
    try {
      store.sweep();
    } catch (RuntimeException e) {
      log.error("lease sweep failed", e);
    }
  }

  public int port() {
    return port;
  }

  /** The base URL, e.g. {@code http://127.0.0.1:7878}, as ATS_URL takes it. */
  public String url() {
    String h = config.host.contains(":") ? "[" + config.host + "]" : config.host;
    if (h.equals("0.0.0.0")) h = "127.0.0.1";
    return "http://" + h + ":" + port;
  }

  public InetSocketAddress address() {
    return new InetSocketAddress(config.host, port);
  }

  /** Number of open WebSocket connections (for tests and status). */
  public int connections() {
    return hub == null ? 0 : hub.size();
  }

  /** Stops serving, closes WebSockets and the database. Idempotent. */
  @Override
  public synchronized void close() {
    if (sweeper != null) {
      sweeper.shutdownNow();
      sweeper = null;
    }
    if (hub != null) hub.closeAll();
    if (jetty != null) {
      try {
        jetty.stop();
      } catch (Exception e) {
        log.warn("error stopping the HTTP server: {}", e.toString());
      }
    }
    if (db != null) {
      db.close();
      db = null;
    }
  }

  /** Settings for one server. Defaults: 127.0.0.1:7878, ./ats-dev.sqlite. */
  public static final class Builder {
    private String host = "127.0.0.1";
    private int port = 7878;
    private Path database = Path.of("ats-dev.sqlite");
    private boolean inMemory;
    private boolean fsync;
    private boolean testReset;
    private boolean strictOwnership;
    private int maxBodyBytes = 8 << 20;
    private Clock clock = Clock.systemUTC();
    private Duration sweepInterval = Duration.ofMillis(250);
    private Duration idleTimeout = Duration.ofMinutes(5);
    private Duration bodyReadTimeout = Duration.ofSeconds(60);

    private Builder() {}

    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** 0 picks an ephemeral port; read it back with {@link DevServer#port()}. */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    public Builder database(Path file) {
      this.database = file;
      this.inMemory = false;
      return this;
    }

    /** Keeps everything in memory; nothing survives a stop. For tests. */
    public Builder inMemory() {
      this.inMemory = true;
      return this;
    }

    /** Syncs every commit to disk (survives power loss, not only process death). */
    public Builder fsync(boolean fsync) {
      this.fsync = fsync;
      return this;
    }

    /** Serves {@code POST /_test/reset}, which wipes all data. */
    public Builder enableTestReset(boolean on) {
      this.testReset = on;
      return this;
    }

    /** Only the assignee may complete or fail an in_progress task (403 otherwise). */
    public Builder strictOwnership(boolean on) {
      this.strictOwnership = on;
      return this;
    }

    public Builder maxBodyBytes(int bytes) {
      if (bytes < (1 << 20)) throw new IllegalArgumentException("maxBodyBytes must be at least 1 MiB");
      this.maxBodyBytes = bytes;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    public Builder sweepInterval(Duration d) {
      this.sweepInterval = d;
      return this;
    }

    /**
     * How long an idle WebSocket connection is kept; at least 90 s (the CLI pings every 30 s). An
     * HTTP connection is kept {@link DevServer#HTTP_IDLE_TIMEOUT} without traffic.
     */
    public Builder idleTimeout(Duration d) {
      if (d.compareTo(Duration.ofSeconds(90)) < 0) {
        throw new IllegalArgumentException("idle timeout must be at least 90 s");
      }
      this.idleTimeout = d;
      return this;
    }

    /**
     * How long a request body may take to arrive in full, however steadily it trickles (default
     * 60 s: 8 MiB at about 140 KB/s); a body not received in time gets 408 and the connection closed.
     */
    public Builder bodyReadTimeout(Duration d) {
      if (d.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("body read timeout must be at least 1 s");
      }
      this.bodyReadTimeout = d;
      return this;
    }

    public DevServer build() {
      return new DevServer(this);
    }

    public DevServer start() {
      return build().start();
    }
  }
}
