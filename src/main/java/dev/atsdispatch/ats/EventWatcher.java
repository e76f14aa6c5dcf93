package dev.atsdispatch.ats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.Clock;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.java_websocket.client.WebSocketClient;
import org.java_websocket.handshake.ServerHandshake;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one WebSocket subscription to an ATS channel alive (ats-protocol.md §4). On every
 * successful subscribe it calls {@link Listener#onSubscribed()} (the engine reconciles then, so
 * events missed while disconnected are found by listing). It sends an application ping every
 * {@code pingEvery}; a connection that has sent nothing for {@code deadAfter} is closed and
 * replaced. Reconnects back off with jitter from 2 s doubling to 60 s (configurable), reset once a
 * subscription is confirmed. Listener calls come on the socket thread and must not block.
 */
public final class EventWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventWatcher.class);
  private static final ObjectMapper M = new ObjectMapper();

  /** Receives what the watcher sees; implementations hand work off and return at once. */
  public interface Listener {
    void onSubscribed();

    void onEvent(AtsEvent event);

    default void onDisconnected(String why) {}
  }

  /** Timing of the watcher; the defaults are the protocol's. */
  public record Timing(Duration pingEvery, Duration deadAfter, Duration backoffBase, Duration backoffMax) {
    public static final Timing DEFAULT = new Timing(Duration.ofSeconds(30), Duration.ofSeconds(75),
        Duration.ofSeconds(2), Duration.ofSeconds(60));
  }

  private final AtsSettings settings;
  private final String channel;
  private final List<String> eventTypes;
  private final Listener listener;
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final Timing timing;
  private final Backoff backoff;
  private final AtomicLong lastHeard = new AtomicLong();
  private final AtomicInteger reconnects = new AtomicInteger();
  private volatile boolean subscribed;
  private volatile boolean closed;
  private WebSocketClient current;
  private ScheduledFuture<?> pinger;
  private int generation;

  public EventWatcher(AtsSettings settings, String channel, List<String> eventTypes, Listener listener,
      Clock clock, ScheduledExecutorService scheduler, Timing timing) {
    this.settings = settings;
    this.channel = channel;
    this.eventTypes = List.copyOf(eventTypes);
    this.listener = listener;
    this.clock = clock;
    this.scheduler = scheduler;
    this.timing = timing;
    this.backoff = new Backoff(timing.backoffBase(), timing.backoffMax());
  }

  public synchronized void start() {
    if (pinger != null) return;
    connect();
    long every = Math.max(50, Math.min(timing.pingEvery().toMillis(), timing.deadAfter().toMillis() / 3));
    pinger = scheduler.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
  }

  /** True while a subscription is confirmed on an open connection. */
  public boolean subscribed() {
    return subscribed;
  }

  /** How many times the connection has been replaced (for metrics). */
  public int reconnects() {
    return reconnects.get();
  }

  private URI uri() {
    String q = "?actor_type=" + enc(settings.actorType()) + "&actor_id=" + enc(settings.actorId())
        + "&actor_name=" + enc(settings.actorName());
    return URI.create(settings.webSocketUrl() + q);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private synchronized void connect() {
    if (closed) return;
    final int gen = ++generation;
    lastHeard.set(clock.nanoTime());
    WebSocketClient c = new WebSocketClient(uri()) {
      @Override
      public void onOpen(ServerHandshake h) {
        heard();
        ObjectNode sub = M.createObjectNode();
        sub.put("type", "subscribe");
        sub.put("id", "ats-dispatch-" + gen);
        sub.putArray("channels").add(channel);
        ArrayNode ev = sub.putArray("event_types");
        eventTypes.forEach(ev::add);
        send(sub.toString());
      }

      @Override
      public void onMessage(String text) {
        heard();
        handle(gen, text);
      }

      @Override
      public void onClose(int code, String reason, boolean remote) {
        lost(gen, "closed (" + code + (reason == null || reason.isEmpty() ? "" : " " + reason) + ")");
      }

      @Override
      public void onError(Exception ex) {
        log.debug("websocket error: {}", ex.toString());
      }
    };
    c.setConnectionLostTimeout(0); // liveness is ours: application pings on the clock seam
    c.setTcpNoDelay(true);
    current = c;
    c.connect();
  }

  private void heard() {
    lastHeard.set(clock.nanoTime());
  }

  private void handle(int gen, String text) {
    JsonNode msg;
    try {
      msg = M.readTree(text);
    } catch (Exception e) {
      log.warn("ignoring a WebSocket frame that is not JSON ({} chars)", text.length());
      return;
    }
    String type = msg.path("type").asText("");
    if (type.equals("subscribed")) {
      synchronized (this) {
        if (gen != generation) return;
        subscribed = true;
        backoff.reset();
      }
      log.info("subscribed to channel {} for {}", channel, eventTypes);
      listener.onSubscribed();
      return;
    }
    if (!type.startsWith("task.")) return; // connected, pong, error
    JsonNode t = msg.path("data").path("task");
    if (!t.isObject()) t = msg.path("task");
    if (!t.isObject()) {
      log.warn("ignoring {} event without a task", type);
      return;
    }
    try {
      listener.onEvent(new AtsEvent(type, Task.fromJson(t)));
    } catch (IllegalArgumentException e) {
      log.warn("ignoring {} event: {}", type, e.getMessage());
    }
  }

  private void tick() {
    WebSocketClient c;
    synchronized (this) {
      c = current;
    }
    if (closed || c == null) return;
    long silent = clock.nanoTime() - lastHeard.get();
    if (c.isOpen()) {
      if (silent > timing.deadAfter().toNanos()) {
        log.warn("no frame from ATS for {} ms; replacing the WebSocket connection", silent / 1_000_000);
        c.closeConnection(1001, "unresponsive");
        return;
      }
      try {
        c.send("{\"type\":\"ping\"}");
      } catch (RuntimeException e) {
        log.debug("ping failed: {}", e.toString());
      }
    }
  }

  private void lost(int gen, String why) {
    Duration delay;
    synchronized (this) {
      if (gen != generation || closed) return;
      subscribed = false;
      delay = backoff.next();
      generation++; // late callbacks from this client are ignored
    }
    reconnects.incrementAndGet();
    log.warn("WebSocket to ATS {}; reconnecting in {} ms", why, delay.toMillis());
    listener.onDisconnected(why);
    scheduler.schedule(this::connect, delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    WebSocketClient c;
    synchronized (this) {
      closed = true;
      subscribed = false;
      if (pinger != null) pinger.cancel(false);
      c = current;
    }
    if (c != null) {
      try {
        c.closeBlocking();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
