package dev.atsdispatch.ats;

import dev.atsdispatch.time.Backoff;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.java_websocket.client.WebSocketClient;
import org.java_websocket.drafts.Draft_6455;
import org.java_websocket.framing.CloseFrame;
import org.java_websocket.handshake.ServerHandshake;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one WebSocket subscription to an ATS channel alive (ats-protocol.md §4). On every
 * successful subscribe it calls {@link Listener#onSubscribed()} (the engine reconciles then, so
 * events missed while disconnected are found by listing).
 *
 * <p>Events carry light tasks ({@link Task#toLight()}): the outputs of the task in a frame are
 * skipped as it is parsed, and so are its description, title and reason when they are long (read
 * the full task with {@link AtsClient#get}). A task whose description is at most {@link
 * #WHOLE_DESCRIPTION_CHARS} keeps it and comes whole, enough to run it without reading it again.
 *
 * <p>No step waits without a bound. A connection that is not subscribed within {@code
 * handshakeTimeout} of its start (TCP connect, HTTP upgrade, subscribe), or that has sent nothing
 * for {@code deadAfter}, is dropped, whether it is connecting, upgrading or open. The watcher sends
 * an application ping every {@code pingEvery} (at most {@code deadAfter}/3), and the library's
 * ping/pong check runs too. A dropped connection is replaced after a backoff with jitter from 2 s
 * doubling to 60 s (configurable), reset once a subscription is confirmed. {@link #close()}
 * returns within about {@link #CLOSE_GRACE} even if the peer never answers.
 *
 * <p>Threads: each connection has the library's connect/read and write threads, and its ping timer
 * while open (all daemons); listener calls come on the read thread and must not block. The deadline checks, pings and reconnects run
 * on the given scheduler, and read time from the {@link Clock}.
 */
public final class EventWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventWatcher.class);
  private static final ObjectMapper M = new ObjectMapper();
  /** How long {@link #close()} waits for the peer's close frame before it drops the socket. */
  static final Duration CLOSE_GRACE = Duration.ofSeconds(1);

  /** Receives what the watcher sees; implementations hand work off and return at once. */
  public interface Listener {
    void onSubscribed();

    void onEvent(AtsEvent event);

    default void onDisconnected(String why) {}
  }

  /**
   * Timing of the watcher; the defaults are the protocol's. {@code handshakeTimeout} bounds the TCP
   * connect and the time from a connection's start until ATS confirms the subscription.
   */
  public record Timing(Duration pingEvery, Duration deadAfter, Duration backoffBase, Duration backoffMax,
      Duration handshakeTimeout) {
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Timing DEFAULT = new Timing(Duration.ofSeconds(30), Duration.ofSeconds(75),
        Duration.ofSeconds(2), Duration.ofSeconds(60), DEFAULT_HANDSHAKE_TIMEOUT);

    public Timing {
      for (Duration d : List.of(pingEvery, deadAfter, backoffBase, backoffMax, handshakeTimeout)) {
        if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("timings must be positive");
      }
    }

    /** With the default handshake timeout. */
    public Timing(Duration pingEvery, Duration deadAfter, Duration backoffBase, Duration backoffMax) {
      this(pingEvery, deadAfter, backoffBase, backoffMax, DEFAULT_HANDSHAKE_TIMEOUT);
    }
  }

  private final AtsSettings settings;
  private final String channel;
  private final List<String> eventTypes;
  private final Listener listener;
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final Timing timing;
  private final long pingEveryNanos;
  private final Backoff backoff;
  private final AtomicLong lastHeard = new AtomicLong();
  private final AtomicInteger reconnects = new AtomicInteger();
  private volatile boolean subscribed;
  private volatile boolean closed;
  private Connection current; // null while waiting to reconnect
  private ScheduledFuture<?> ticker;
  private ScheduledFuture<?> retry;
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
    this.pingEveryNanos = Math.min(timing.pingEvery().toNanos(), timing.deadAfter().toNanos() / 3);
    this.backoff = new Backoff(timing.backoffBase(), timing.backoffMax());
  }

  public synchronized void start() {
    if (ticker != null || closed) return;
    connect();
    long every = Math.min(pingEveryNanos, timing.handshakeTimeout().toNanos() / 4) / 1_000_000;
    every = Math.max(50, every);
    ticker = scheduler.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
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
    retry = null;
    if (closed) return;
    lastHeard.set(clock.nanoTime());
    Connection c = new Connection(++generation, uri());
    current = c;
    c.connect();
  }

  /** One connection attempt; callbacks from an attempt that is no longer current are ignored. */
  private final class Connection extends WebSocketClient {
    final int gen;
    final long startedAt = clock.nanoTime();
    final CountDownLatch gone = new CountDownLatch(1);
    long lastPing = startedAt; // read and written by tick() only

    Connection(int gen, URI uri) {
      super(uri, new Draft_6455(), null, (int) Math.min(Integer.MAX_VALUE,
          Math.max(1, timing.handshakeTimeout().toMillis()))); // the TCP connect timeout
      this.gen = gen;
      // The library's own check as well: while open it pings every T s and drops the connection
      // when no pong came for 1.5 T (real time). tick() covers every state, on the Clock.
      setConnectionLostTimeout((int) Math.max(1, timing.deadAfter().toSeconds() / 2));
      setTcpNoDelay(true);
      setDaemon(true); // a stuck library thread never keeps the JVM from exiting
    }

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
      gone.countDown();
      lost(gen, "closed (" + code + (reason == null || reason.isEmpty() ? "" : " " + reason) + ")");
    }

    @Override
    public void onError(Exception ex) {
      log.debug("websocket error: {}", ex.toString());
    }

    /**
     * Drops the connection at once, in any state and without a close handshake: onClose runs now,
     * and closing the socket ends the library's threads even if they are blocked on a silent peer.
     */
    void abort(String why) {
      closeConnection(CloseFrame.ABNORMAL_CLOSE, why);
      Socket s = getSocket();
      try {
        if (s != null) s.close();
      } catch (IOException e) {
        log.debug("closing the socket: {}", e.toString());
      }
    }
  }

  private void heard() {
    lastHeard.set(clock.nanoTime());
  }

  private void handle(int gen, String text) {
    JsonNode msg;
    try {
      msg = readLight(text);
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
      Task task = Task.fromJson(t);
      listener.onEvent(new AtsEvent(type, t.has(CUT) ? task.toLight() : task));
    } catch (IllegalArgumentException e) {
      log.warn("ignoring {} event: {}", type, e.getMessage());
    }
  }

  /**
   * A frame as a tree, but each task in it ({@code task} or {@code data.task}) without the fields
   * a light task drops (outputs, a long description, title or reason): an event carries the whole
   * task, and those can be megabytes. They are skipped by the parser, never made into strings.
   */
  /** The longest description an event's task keeps (chars): such a task comes whole. */
  static final int WHOLE_DESCRIPTION_CHARS = 64 * 1024;

  static JsonNode readLight(String text) throws IOException {
    try (JsonParser p = M.getFactory().createParser(text)) {
      ObjectNode msg = M.createObjectNode();
      if (p.nextToken() != JsonToken.START_OBJECT) return msg; // not an event: no type
      readObject(p, msg, false);
      return msg;
    }
  }

  /** Where {@link #readLight} left a task's content out, it marks the task with this field. */
  static final String CUT = "\u0000cut";

  /** The parser is on START_OBJECT; leaves it on the matching END_OBJECT. */
  private static void readObject(JsonParser p, ObjectNode into, boolean task) throws IOException {
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String f = p.currentName();
      JsonToken v = p.nextToken();
      boolean longText = v == JsonToken.VALUE_STRING && p.getTextLength() > (f.equals("title") ? Task.LIGHT_TITLE
          : WHOLE_DESCRIPTION_CHARS);
      if (task && (f.equals("outputs") || f.equals("reason") && (v != JsonToken.VALUE_STRING
          || p.getTextLength() > Task.LIGHT_REASON))) {
        p.skipChildren(); // a short reason is kept: it tells a task parked for a question
      } else if (task && (f.equals("title") || f.equals("description")) && (longText || v.isStructStart())) {
        p.skipChildren();
        into.put(CUT, true);
      } else if (!task && v == JsonToken.START_OBJECT && (f.equals("data") || f.equals("task"))) {
        readObject(p, into.putObject(f), f.equals("task"));
      } else {
        into.set(f, M.readTree(p));
      }
    }
  }

  private void tick() {
    Connection c;
    synchronized (this) {
      c = current;
    }
    if (closed || c == null) return;
    long now = clock.nanoTime();
    if (!subscribed && now - c.startedAt > timing.handshakeTimeout().toNanos()) {
      log.warn("ATS confirmed no subscription within {} ms ({}); replacing the WebSocket connection",
          timing.handshakeTimeout().toMillis(), c.getReadyState());
      c.abort("no subscription in time");
      return;
    }
    long silent = now - lastHeard.get();
    if (silent > timing.deadAfter().toNanos()) {
      log.warn("no frame from ATS for {} ms; replacing the WebSocket connection", silent / 1_000_000);
      c.abort("unresponsive");
      return;
    }
    if (c.isOpen() && now - c.lastPing >= pingEveryNanos) {
      c.lastPing = now;
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
      current = null;
      generation++; // late callbacks from this client are ignored
      delay = backoff.next();
      retry = scheduler.schedule(this::connect, delay.toMillis(), TimeUnit.MILLISECONDS);
    }
    reconnects.incrementAndGet();
    log.warn("WebSocket to ATS {}; reconnecting in {} ms", why, delay.toMillis());
    listener.onDisconnected(why);
  }

  /**
   * Stops the watcher: no reconnect runs after this. Sends a close frame and waits up to {@link
   * #CLOSE_GRACE} for the peer's answer (a real-time wait, so no Clock), then drops the socket.
   */
  @Override
  public void close() {
    Connection c;
    synchronized (this) {
      closed = true;
      subscribed = false;
      if (ticker != null) ticker.cancel(false);
      if (retry != null) retry.cancel(false);
      c = current;
      current = null;
    }
    if (c == null) return;
    if (c.isOpen()) {
      c.close();
      try {
        if (c.gone.await(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS)) return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    c.abort("watcher closed");
  }
}
