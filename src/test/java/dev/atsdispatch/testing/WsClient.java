package dev.atsdispatch.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.java_websocket.client.WebSocketClient;
import org.java_websocket.handshake.ServerHandshake;

/**
 * A real WebSocket client (Java-WebSocket) for tests of {@code /ws}. Records every text frame as
 * parsed JSON, with its receive time; binary frames and non-JSON text fail the test when read.
 */
public final class WsClient implements AutoCloseable {
  /** One received frame. */
  public record Frame(JsonNode json, String raw, long receivedNanos) {
    public String type() {
      return json.path("type").asText();
    }

    public long taskId() {
      return json.path("data").path("task").path("id").asLong();
    }
  }

  private final BlockingQueue<Object> frames = new LinkedBlockingQueue<>();
  private final WebSocketClient client;
  private volatile Integer closeCode;

  private WsClient(URI uri) {
    client = new WebSocketClient(uri) {
      @Override
      public void onOpen(ServerHandshake h) {}

      @Override
      public void onMessage(String message) {
        long now = System.nanoTime();
        try {
          frames.add(new Frame(Http.JSON.readTree(message), message, now));
        } catch (IOException e) {
          frames.add(new AssertionError("non-JSON text frame: " + message));
        }
      }

      @Override
      public void onMessage(ByteBuffer bytes) {
        frames.add(new AssertionError("binary frame received"));
      }

      @Override
      public void onClose(int code, String reason, boolean remote) {
        closeCode = code;
      }

      @Override
      public void onError(Exception ex) {}
    };
  }

  /** Connects with the actor query string, as {@code ats watch} does (§4.1). */
  public static WsClient connect(String httpBase, String actorType, String actorId, String actorName) {
    return connectTo(httpBase, "/ws?actor_type=" + enc(actorType) + "&actor_id=" + enc(actorId)
        + "&actor_name=" + enc(actorName), true);
  }

  /**
   * Connects to {@code pathAndQuery} (sent exactly as given) on the server at {@code httpBase}.
   * With {@code keepAlivePings} false the client never sends WebSocket ping frames, like the
   * ats CLI's Node client, so only the application-level {@code ping} messages a test sends
   * keep the connection busy; Java-WebSocket otherwise pings every 60 s on its own.
   */
  public static WsClient connectTo(String httpBase, String pathAndQuery, boolean keepAlivePings) {
    String ws = httpBase.replaceFirst("http", "ws") + pathAndQuery;
    WsClient c = new WsClient(URI.create(ws));
    if (!keepAlivePings) c.client.setConnectionLostTimeout(0);
    try {
      if (!c.client.connectBlocking(10, TimeUnit.SECONDS)) {
        throw new AssertionError("WebSocket did not connect to " + ws);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    return c;
  }

  public static WsClient connect(String httpBase) {
    return connect(httpBase, "agent", "ada-dispatch", "Ada Dispatch");
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  public void send(String json) {
    client.send(json);
  }

  /** Sends subscribe with the given filters (null leaves a filter out) and waits for subscribed. */
  public void subscribe(List<String> channels, List<String> taskTypes, List<String> eventTypes) {
    StringBuilder b = new StringBuilder("{\"type\":\"subscribe\",\"id\":\"cli-sub-1\"");
    if (channels != null) b.append(",\"channels\":").append(Http.json(channels));
    if (taskTypes != null) b.append(",\"task_types\":").append(Http.json(taskTypes));
    if (eventTypes != null) b.append(",\"event_types\":").append(Http.json(eventTypes));
    send(b.append('}').toString());
    await(f -> f.type().equals("subscribed"), Duration.ofSeconds(5));
  }

  /** The next frame, or null after the timeout. */
  public Frame poll(Duration timeout) {
    try {
      Object o = frames.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
      if (o instanceof AssertionError e) throw e;
      return (Frame) o;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Skips frames until one matches; fails the test after the timeout. */
  public Frame await(Predicate<Frame> match, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<String> skipped = new ArrayList<>();
    while (true) {
      long left = deadline - System.nanoTime();
      Frame f = left <= 0 ? null : poll(Duration.ofNanos(left));
      if (f == null) throw new AssertionError("no matching frame within " + timeout + "; skipped " + skipped);
      if (match.test(f)) return f;
      skipped.add(f.raw());
    }
  }

  /** The next task event (skipping connected/subscribed/pong), or fails. */
  public Frame nextEvent(Duration timeout) {
    return await(f -> f.type().startsWith("task."), timeout);
  }

  /** The next {@code n} task events in arrival order (skipping other frames), or fails. */
  public List<Frame> nextEvents(int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Frame> out = new ArrayList<>(n);
    while (out.size() < n) {
      long left = deadline - System.nanoTime();
      Frame f = left <= 0 ? null : poll(Duration.ofNanos(left));
      if (f == null) {
        throw new AssertionError("only " + out.size() + " of " + n + " events within " + timeout);
      }
      if (f.type().startsWith("task.")) out.add(f);
    }
    return out;
  }

  /** Asserts that no task event arrives within {@code d}; returns what else arrived. */
  public List<Frame> expectNoEvent(Duration d) {
    long deadline = System.nanoTime() + d.toNanos();
    List<Frame> other = new ArrayList<>();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) return other;
      Frame f = poll(Duration.ofNanos(left));
      if (f == null) return other;
      if (f.type().startsWith("task.")) throw new AssertionError("unexpected event: " + f.raw());
      other.add(f);
    }
  }

  public boolean isOpen() {
    return client.isOpen();
  }

  public Integer closeCode() {
    return closeCode;
  }

  @Override
  public void close() {
    try {
      client.closeBlocking();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
