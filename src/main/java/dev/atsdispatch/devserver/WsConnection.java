package dev.atsdispatch.devserver;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@code /ws} connection (ats-protocol.md §4). Sends {@code connected} on open, answers
 * {@code subscribe}, {@code unsubscribe} and {@code ping}, and delivers task events that match the
 * latest subscription; none before the first subscribe. Outgoing frames go through one queue with
 * at most one send in flight, so order is kept; a consumer that falls {@link #MAX_QUEUED} frames
 * behind is disconnected (it must reconnect and re-list). Lives from upgrade to close. Public only
 * because Jetty reflects on its listener methods.
 */
public final class WsConnection implements Session.Listener.AutoDemanding {
  static final int MAX_QUEUED = 50_000;
  private static final Logger log = LoggerFactory.getLogger(WsConnection.class);

  /** A subscription; a null set means no filter on that dimension. */
  private record Filter(Set<String> channels, Set<String> taskTypes, Set<String> eventTypes) {}

  private final EventHub hub;
  private final ObjectMapper mapper;
  private final Actor actor;
  private final String clientId = UUID.randomUUID().toString();
  private final ArrayDeque<String> queue = new ArrayDeque<>();
  private volatile Filter filter;
  private volatile Session session;
  private boolean sending;
  private boolean closed;

  WsConnection(EventHub hub, ObjectMapper mapper, Actor actor) {
    this.hub = hub;
    this.mapper = mapper;
    this.actor = actor;
  }

  boolean wants(TaskEvent e) {
    Filter f = filter;
    if (f == null) return false;
    return (f.channels == null || f.channels.contains(e.channel()))
        && (f.taskTypes == null || f.taskTypes.contains(e.taskType()))
        && (f.eventTypes == null || f.eventTypes.contains(e.type()));
  }

  /** Queues the event if the current subscription wants it (atomically with subscribe). */
  void offer(TaskEvent e, String text) {
    Runnable then;
    synchronized (this) {
      if (!wants(e)) return;
      then = enqueue(text);
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
      then = enqueue(reply);
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
    enqueue(text).run();
  }

  private static final Runnable NOTHING = () -> {};

  /**
   * Adds a frame to the queue; returns what to do once the monitor is released (start pumping,
   * drop a consumer that is too far behind, or nothing), so no Jetty call is made under it.
   */
  private synchronized Runnable enqueue(String text) {
    if (closed) return NOTHING;
    if (queue.size() >= MAX_QUEUED) {
      log.warn("websocket client {} is {} events behind; disconnecting it", clientId, MAX_QUEUED);
      closed = true;
      queue.clear();
      return () -> close(1008, "too far behind");
    }
    queue.add(text);
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
      String next;
      synchronized (this) {
        next = closed ? null : queue.poll();
        if (next == null) {
          sending = false;
          return;
        }
      }
      AtomicInteger state = new AtomicInteger(); // 0 pending, 1 done inline, 2 gone async
      session.sendText(next, Callback.from(() -> {
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
