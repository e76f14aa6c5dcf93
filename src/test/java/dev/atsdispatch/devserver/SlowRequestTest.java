package dev.atsdispatch.devserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.Http;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Finding 8a over real sockets: clients that send request headers and part of a body and then
 * stall (or trickle it) must not starve anyone else, and the server must end them. Each test has
 * a server of its own with a short body read limit.
 */
@Timeout(60)
final class SlowRequestTest {
  private static final Duration BODY_LIMIT = Duration.ofSeconds(5);
  private static final int STALLED = 100;

  private DevServer server;
  private final List<Socket> sockets = new ArrayList<>();
  private final HttpClient client = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void start() {
    server = DevServer.builder().port(0).inMemory().bodyReadTimeout(BODY_LIMIT).start();
  }

  @AfterEach
  void stop() throws IOException {
    for (Socket s : sockets) s.close();
    server.close();
  }

  /** Opens a connection and sends a POST's headers, declaring 1000 bytes, and {@code sent} of them. */
  private Socket halfPost(int sent) throws IOException {
    Socket s = new Socket("127.0.0.1", server.port());
    sockets.add(s);
    OutputStream out = s.getOutputStream();
    String head = "POST /tasks HTTP/1.1\r\nHost: 127.0.0.1:" + server.port()
        + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.write(("{\"title\":\"" + "s".repeat(990)).substring(0, sent).getBytes(StandardCharsets.UTF_8));
    out.flush();
    return s;
  }

  /** GET /health with a 2 s limit; returns the elapsed time. */
  private Duration health() throws Exception {
    long t0 = System.nanoTime();
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(server.url() + "/health"))
        .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  /** Everything the server sends on {@code s} until it closes it; fails if it has not within {@code d}. */
  private static String readUntilClosed(Socket s, Duration d) throws IOException {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    InputStream in = s.getInputStream();
    long end = System.nanoTime() + d.toNanos();
    byte[] buf = new byte[4096];
    try {
      while (true) {
        long left = (end - System.nanoTime()) / 1_000_000;
        if (left <= 0) throw new AssertionError("still open after " + d + "; got: " + got);
        s.setSoTimeout((int) left);
        int n = in.read(buf);
        if (n < 0) return got.toString(StandardCharsets.ISO_8859_1);
        got.write(buf, 0, n);
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("still open after " + d + "; got: " + got);
    } catch (SocketException e) {
      return got.toString(StandardCharsets.ISO_8859_1); // reset after the answer
    }
  }

  /** Whether nothing has come back on {@code s} and it is still open. */
  private static boolean silentAndOpen(Socket s) throws IOException {
    s.setSoTimeout(1);
    try {
      s.getInputStream().read(); // a byte or EOF: answered or closed
      return false;
    } catch (SocketTimeoutException e) {
      return true;
    }
  }

  @Test
  void healthAnswersWhileAHundredBodiesStallAndTheStalledConnectionsAreClosed() throws Exception {
    long t0 = System.nanoTime();
    for (int i = 0; i < STALLED; i++) halfPost(500);
    for (int i = 0; i < 10; i++) {
      Duration took = health();
      assertTrue(took.compareTo(Duration.ofSeconds(2)) < 0, "/health took " + took);
    }
    Http http = new Http(server.url());
    long id = http.create("while they stall", "slow-clients");
    assertEquals(201, http.post("/tasks/" + id + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"text\":\"still served\"}]}").status());
    assertTrue(System.nanoTime() - t0 < BODY_LIMIT.toNanos(),
        "the checks took longer than the body limit: the stalls may have ended already");
    for (Socket s : sockets) assertTrue(silentAndOpen(s), "a stalled request was answered early");

    for (Socket s : sockets) {
      String answer = readUntilClosed(s, BODY_LIMIT.plusSeconds(10));
      assertTrue(answer.startsWith("HTTP/1.1 408 "), answer);
      assertTrue(answer.contains("\"error\":\"Request body not received within 5 s\""), answer);
    }
    assertTrue(health().compareTo(Duration.ofSeconds(2)) < 0);
  }

  @Test
  void aTricklingBodyIsCutAtTheLimit() throws Exception {
    Socket s = halfPost(10);
    OutputStream out = s.getOutputStream();
    long t0 = System.nanoTime();
    s.setSoTimeout(300);
    int first;
    // One byte every 300 ms: never idle for long, but the whole body would take 5 minutes.
    while (true) {
      try {
        first = s.getInputStream().read();
        assertTrue(first >= 0, "closed without an answer");
        break;
      } catch (SocketTimeoutException e) {
        assertTrue(System.nanoTime() - t0 < BODY_LIMIT.plusSeconds(10).toNanos(),
            "a trickling body is still being read after " + BODY_LIMIT.plusSeconds(10));
        out.write('s');
        out.flush();
      }
    }
    long took = System.nanoTime() - t0;
    assertTrue(took >= BODY_LIMIT.minusMillis(500).toNanos(), "answered after " + took / 1_000_000 + " ms");
    String answer = (char) first + readUntilClosed(s, Duration.ofSeconds(5));
    assertTrue(answer.startsWith("HTTP/1.1 408 "), answer);
    assertTrue(answer.toLowerCase().contains("connection: close"), answer);
  }
}
