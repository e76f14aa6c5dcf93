package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.time.Clock;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The watcher against peers that misbehave at the TCP level, on 127.0.0.1: one that accepts but
 * never answers the upgrade, and one that subscribes and then goes silent (half-open). Every
 * connect, handshake, liveness and close step must end within its bound.
 */
@Timeout(20)
final class EventWatcherDeadlinesTest {
  final ScheduledThreadPoolExecutor sched = new ScheduledThreadPoolExecutor(1);
  final AtomicInteger subscribes = new AtomicInteger();
  RawPeer peer;
  EventWatcher watcher;

  {
    sched.setRemoveOnCancelPolicy(true);
  }

  @AfterEach
  @Timeout(10)
  void tearDown() throws IOException {
    if (peer != null) peer.close(); // first: an unbounded close() would wait for the peer forever
    if (watcher != null) watcher.close();
    sched.shutdownNow();
  }

  EventWatcher watcher(Duration deadAfter, Duration backoff, Duration handshake) {
    AtsSettings s = new AtsSettings(peer.url(), "default", "main", false, "agent", "ada-dispatch",
        "Ada Dispatch");
    EventWatcher.Listener l = new EventWatcher.Listener() {
      @Override
      public void onSubscribed() {
        subscribes.incrementAndGet();
      }

      @Override
      public void onEvent(AtsEvent event) {}
    };
    EventWatcher.Timing t = new EventWatcher.Timing(Duration.ofMillis(100), deadAfter, backoff,
        backoff.multipliedBy(2), handshake);
    watcher = new EventWatcher(s, "ada-dispatch", List.of("task.created"), l, Clock.SYSTEM, sched, t);
    return watcher;
  }

  @Test
  void aPeerThatNeverAnswersTheUpgradeIsGivenUpWithinTheHandshakeTimeoutAndRetried() throws Exception {
    peer = new RawPeer(false);
    // silence alone (deadAfter) would take 30 s: only the handshake deadline can end the first try
    watcher(Duration.ofSeconds(30), Duration.ofMillis(100), Duration.ofMillis(300)).start();
    assertTrue(waitFor(Duration.ofSeconds(5), () -> peer.accepted.size() >= 2),
        "connections accepted: " + peer.accepted.size());
    assertTrue(peer.closedByClient(0, Duration.ofSeconds(5)), "the stuck connection was closed");
    assertEquals(0, subscribes.get());
  }

  @Test
  void closeReturnsPromptlyWhenThePeerNeverAnswersTheCloseHandshake() throws Exception {
    peer = new RawPeer(true);
    watcher(Duration.ofSeconds(30), Duration.ofMillis(100), Duration.ofSeconds(5)).start();
    assertTrue(waitFor(Duration.ofSeconds(5), () -> watcher.subscribed()), "subscribed");
    long t0 = System.nanoTime();
    watcher.close();
    long tookMs = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(tookMs < 3000, "close() took " + tookMs + " ms");
    assertTrue(peer.closedByClient(0, Duration.ofSeconds(5)), "the socket was closed, not left open");
  }

  @Test
  void aConnectionThatGoesSilentWhileOpenIsReplaced() throws Exception {
    peer = new RawPeer(true);
    watcher(Duration.ofMillis(600), Duration.ofMillis(100), Duration.ofSeconds(5)).start();
    assertTrue(waitFor(Duration.ofSeconds(10), () -> subscribes.get() >= 2),
        "subscriptions: " + subscribes.get());
    assertTrue(peer.accepted.size() >= 2, "connections accepted: " + peer.accepted.size());
    assertTrue(peer.closedByClient(0, Duration.ofSeconds(5)), "the silent connection was closed");
  }

  @Test
  void closeCancelsAPendingReconnect() throws Exception {
    peer = new RawPeer(false);
    peer.hangUpAtOnce = true;
    // the first connection fails at once; the reconnect waits 5-10 s, so it is pending at close()
    watcher(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(5)).start();
    assertTrue(waitFor(Duration.ofSeconds(5), () -> watcher.reconnects() >= 1), "connection lost");
    watcher.close();
    assertTrue(sched.getQueue().isEmpty(), "still scheduled after close(): " + sched.getQueue());
  }

  static boolean waitFor(Duration within, BooleanSupplier ok) throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (!ok.getAsBoolean()) {
      if (System.nanoTime() > deadline) return false;
      Thread.sleep(20);
    }
    return true;
  }

  /**
   * A TCP peer on 127.0.0.1 that accepts connections and either says nothing at all, or performs
   * the RFC 6455 upgrade by hand, confirms the subscription and then says nothing more: no pongs,
   * no close frame, and it reads nothing either (a half-open peer, as seen from the client).
   */
  static final class RawPeer implements AutoCloseable {
    private static final ObjectMapper M = new ObjectMapper();
    private static final Pattern KEY = Pattern.compile("(?im)^Sec-WebSocket-Key:\\s*(\\S+)\\s*$");
    final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final List<Socket> accepted = new CopyOnWriteArrayList<>();
    final boolean upgrade;
    volatile boolean hangUpAtOnce;

    RawPeer(boolean upgrade) throws IOException {
      this.upgrade = upgrade;
      Thread t = new Thread(this::acceptLoop, "raw-peer");
      t.setDaemon(true);
      t.start();
    }

    String url() {
      return "http://127.0.0.1:" + server.getLocalPort();
    }

    private void acceptLoop() {
      try {
        while (true) {
          Socket s = server.accept();
          accepted.add(s);
          if (hangUpAtOnce) {
            s.close();
          } else if (upgrade) {
            Thread t = new Thread(() -> upgradeAndSubscribe(s), "raw-peer-conn");
            t.setDaemon(true);
            t.start();
          }
        }
      } catch (IOException closed) {
        // the test is over
      }
    }

    private static void upgradeAndSubscribe(Socket s) {
      try {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        Matcher m = KEY.matcher(readHead(in));
        if (!m.find()) throw new IOException("no Sec-WebSocket-Key");
        byte[] key = (m.group(1) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII);
        String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest(key));
        out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        String id = M.readTree(readTextFrame(in)).path("id").asText();
        byte[] reply = M.createObjectNode().put("type", "subscribed").put("id", id).toString()
            .getBytes(StandardCharsets.UTF_8);
        out.write(new byte[] {(byte) 0x81, (byte) reply.length}); // FIN + text, short unmasked
        out.write(reply);
        out.flush();
      } catch (Exception e) {
        // the client went away early; nothing to answer
      }
    }

    private static String readHead(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int matched = 0;
      while (matched < 4) {
        int b = in.read();
        if (b < 0) throw new IOException("eof in the upgrade request");
        head.write(b);
        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
      }
      return head.toString(StandardCharsets.US_ASCII);
    }

    /** One masked client text frame, without extended lengths beyond 16 bits. */
    private static String readTextFrame(InputStream in) throws IOException {
      byte[] h = in.readNBytes(2);
      int len = h[1] & 0x7f;
      if (len == 126) {
        byte[] ext = in.readNBytes(2);
        len = ((ext[0] & 0xff) << 8) | (ext[1] & 0xff);
      }
      byte[] mask = in.readNBytes(4);
      byte[] payload = in.readNBytes(len);
      for (int i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      return new String(payload, StandardCharsets.UTF_8);
    }

    /** True when the client closes the i-th connection within the bound (a read reaches EOF). */
    boolean closedByClient(int i, Duration within) throws IOException {
      Socket s = accepted.get(i);
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      long deadline = System.nanoTime() + within.toNanos();
      while (true) { // skips what the client sent before it hung up: request, pings, a close frame
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) return false;
        s.setSoTimeout((int) left);
        try {
          if (in.read(buf) < 0) return true;
        } catch (SocketTimeoutException e) {
          return false;
        } catch (IOException e) {
          return true; // reset by the client
        }
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : accepted) s.close();
    }
  }
}
