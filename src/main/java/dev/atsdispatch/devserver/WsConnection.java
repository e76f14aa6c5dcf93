package dev.atsdispatch.devserver;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.util.thread.Scheduler;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@code /ws} connection (ats-protocol.md §4). Sends {@code connected} on open, answers
 * {@code subscribe}, {@code unsubscribe} and {@code ping}, and delivers task events that match the
 * latest subscription; none before the first subscribe. Outgoing frames go through one queue with
 * at most one send in flight, so order is kept. A consumer that falls behind is dropped: when its
 * unsent frames (queued and in flight) would pass the byte limit (UTF-8 bytes, as sent) or
 * {@link #MAX_QUEUED} frames, its queue is freed, it is closed with 1008 "too slow", and if it has
 * not taken the close within {@link #DROP_GRACE} its connection is cut; it must reconnect and
 * re-list. A frame is always taken when nothing is pending, however large, so any event can reach
 * a client that keeps up. Lives from upgrade to close; frames are queued on the store's committing
 * thread and Jetty's threads, and sent from whichever thread queued the first or completed the
 * last send. Public only because Jetty reflects on its listener methods.
 */
public final class WsConnection implements Session.Listener.AutoDemanding {
  static final int MAX_QUEUED = 50_000;
  static final Duration DROP_GRACE = Duration.ofSeconds(10);
  private static final Logger log = LoggerFactory.getLogger(WsConnection.class);

  /** A frame to send and its size in bytes. */
  private record Out(String text, long bytes) {}

  /** A subscription; a null set means no filter on that dimension. */
  private record Filter(Set<String> channels, Set<String> taskTypes, Set<String> eventTypes) {}

  private final EventHub hub;
  private final ObjectMapper mapper;
  private final Actor actor;
  private final String clientId = UUID.randomUUID().toString();
  private final long maxQueuedBytes;
  private final Scheduler scheduler;
  private final ArrayDeque<Out> queue = new ArrayDeque<>();
  private volatile Filter filter;
  private volatile Session session;
  /** Bytes queued plus the frame in flight. */
  private long pendingBytes;
  private boolean sending;
  private boolean closed;

  WsConnection(EventHub hub, ObjectMapper mapper, Actor actor, long maxQueuedBytes,
      Scheduler scheduler) {
    this.hub = hub;
    this.mapper = mapper;
    this.actor = actor;
    this.maxQueuedBytes = maxQueuedBytes;
    this.scheduler = scheduler;
  }

  /** The size of {@code s} in UTF-8, without encoding it. */
  static long utf8Length(String s) {
    long n = s.length();
    for (int i = 0, len = s.length(); i < len; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) n += c >= 0x800 && !Character.isSurrogate(c) ? 2 : 1;
    }
    return n;
  }

  boolean wants(TaskEvent e) {
    Filter f = filter;
    if (f == null) return false;
    return (f.channels == null || f.channels.contains(e.channel()))
        && (f.taskTypes == null || f.taskTypes.contains(e.taskType()))
        && (f.eventTypes == null || f.eventTypes.contains(e.type()));
  }

  /**
   * Queues the event if the current subscription wants it (atomically with subscribe);
   * {@code bytes} is the text's {@link #utf8Length}.
   */
  void offer(TaskEvent e, String text, long bytes) {
    Runnable then;
    synchronized (this) {
      if (!wants(e)) return;
      then = enqueue(text, bytes);
    }
    then.run();
  }

  /**
   * Installs a new filter and queues its reply in one step with respect to {@link #offer}: the
   * filter is in place before the reply can reach the client (so an event committed after the
   * client saw the reply is delivered), and the reply is queued before any event that matches it.
   */
  private void replaceFilter(Filter f, String reply) {
    Runnable then;
    synchronized (this) {
      filter = f;
      then = enqueue(reply, utf8Length(reply));
    }
    then.run();
  }

  @Override
  public void onWebSocketOpen(Session s) {
    this.session = s;
    ObjectNode hello = mapper.createObjectNode();
    hello.put("type", "connected");
    hello.put("client_id", clientId);
    ObjectNode a = hello.putObject("actor");
    a.put("type", actor.type());
    a.put("id", actor.id());
    a.put("name", actor.name());
    send(hello.toString());
    hub.add(this);
  }

  @Override
  public void onWebSocketText(String text) {
    JsonNode msg;
    try {
      msg = mapper.readTree(text);
    } catch (JsonProcessingException e) {
      sendError("invalid JSON message");
      return;
    }
    if (msg == null || !msg.isObject()) {
      sendError("message must be a JSON object");
      return;
    }
    String type = msg.path("type").asText("");
    switch (type) {
      case "ping" -> send("{\"type\":\"pong\"}");
      case "subscribe" -> subscribe(msg);
      case "unsubscribe" -> {
        ObjectNode reply = mapper.createObjectNode();
        reply.put("type", "unsubscribed");
        if (msg.has("id")) reply.set("id", msg.get("id"));
        replaceFilter(null, reply.toString());
      }
      default -> sendError("unknown message type: " + (type.isEmpty() ? "(none)" : type));
    }
  }

  private void subscribe(JsonNode msg) {
    Set<String> channels;
    Set<String> taskTypes;
    Set<String> eventTypes;
    try {
      channels = strings(msg, "channels");
      taskTypes = strings(msg, "task_types");
      eventTypes = strings(msg, "event_types");
    } catch (IllegalArgumentException e) {
      sendError(e.getMessage());
      return;
    }
    ObjectNode reply = mapper.createObjectNode();
    reply.put("type", "subscribed");
    if (msg.has("id")) reply.set("id", msg.get("id"));
    reply.set("channels", msg.has("channels") ? msg.get("channels") : null);
    reply.set("task_types", msg.has("task_types") ? msg.get("task_types") : null);
    reply.set("event_types", msg.has("event_types") ? msg.get("event_types") : null);
    replaceFilter(new Filter(channels, taskTypes, eventTypes), reply.toString());
  }

  private static Set<String> strings(JsonNode msg, String field) {
    JsonNode v = msg.get(field);
    if (v == null || v.isNull()) return null;
    if (!v.isArray()) throw new IllegalArgumentException(field + " must be an array of strings");
    Set<String> out = new HashSet<>();
    for (JsonNode item : (ArrayNode) v) {
      if (!item.isTextual()) throw new IllegalArgumentException(field + " must be an array of strings");
      out.add(item.asText());
    }
    return out;
  }

  private void sendError(String message) {
    ObjectNode err = mapper.createObjectNode();
    err.put("type", "error");
    err.put("error", message);
    send(err.toString());
  }

  @Override
  public void onWebSocketClose(int statusCode, String reason) {
    shutdown();
  }

  @Override
  public void onWebSocketError(Throwable cause) {
    log.debug("websocket error: {}", cause.toString());
    shutdown();
  }

  private void shutdown() {
    synchronized (this) {
      closed = true;
      queue.clear();
      pendingBytes = 0;
    }
    hub.remove(this);
  }

  void close(int code, String reason) {
    Session s = session;
    shutdown();
    if (s != null && s.isOpen()) s.close(code, reason, Callback.NOOP);
  }

  /** Queues one text frame; never blocks. */
  void send(String text) {
    enqueue(text, utf8Length(text)).run();
  }

  /** Closes with 1008 "too slow" and cuts the connection if the close cannot get through. */
  private void drop() {
    Session s = session;
    close(1008, "too slow");
    if (s != null) scheduler.schedule(s::disconnect, DROP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static final Runnable NOTHING = () -> {};

  /**
   * Adds a frame to the queue; returns what to do once the monitor is released (start pumping,
   * drop a consumer that is too far behind, or nothing), so no Jetty call is made under it.
   */
  private synchronized Runnable enqueue(String text, long bytes) {
    if (closed) return NOTHING;
    if (queue.size() >= MAX_QUEUED || (pendingBytes > 0 && pendingBytes + bytes > maxQueuedBytes)) {
      log.warn("websocket client {} is too slow ({} frames, {} bytes unsent; limits {} frames, {}"
          + " bytes); dropping it", clientId, queue.size(), pendingBytes, MAX_QUEUED, maxQueuedBytes);
      closed = true;
      queue.clear();
      pendingBytes = 0;
      return this::drop;
    }
    queue.add(new Out(text, bytes));
    pendingBytes += bytes;
    if (sending) return NOTHING;
    sending = true;
    return this::pump;
  }

  /**
   * Sends queued frames one at a time. A send that completes at once continues the loop here;
   * one that completes later resumes the loop from its callback (no recursion either way).
   */
  private void pump() {
    while (true) {
      Out next;
      synchronized (this) {
        next = closed ? null : queue.poll();
        if (next == null) {
          sending = false;
          return;
        }
      }
      AtomicInteger state = new AtomicInteger(); // 0 pending, 1 done inline, 2 gone async
      session.sendText(next.text, Callback.from(() -> {
        synchronized (this) {
          if (!closed) pendingBytes -= next.bytes;
        }
        if (!state.compareAndSet(0, 1)) pump();
      }, failure -> {
        log.debug("websocket send failed: {}", failure.toString());
        close(1011, "send failed");
      }));
      if (!state.compareAndSet(0, 2)) continue;
      return;
    }
  }
}
