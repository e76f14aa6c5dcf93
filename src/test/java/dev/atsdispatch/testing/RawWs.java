package dev.atsdispatch.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A WebSocket client over a plain {@link Socket} that reads only when the test says so, for a
 * subscriber that stops reading: no library thread drains the socket behind the test's back, and
 * the receive buffer is set small before connecting so the server's writes back up quickly.
 * Single-threaded: used by the test thread only.
 */
public final class RawWs implements AutoCloseable {
  /** One received frame: a text message, or the server's close frame (code -1 if it had none). */
  public record Frame(boolean close, int code, String text) {}

  private final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;

  private RawWs(Socket socket) throws IOException {
    this.socket = socket;
    this.in = new DataInputStream(socket.getInputStream());
    this.out = socket.getOutputStream();
  }

  /** Connects to {@code httpBase + pathAndQuery} and completes the upgrade (101) by hand. */
  public static RawWs connect(String httpBase, String pathAndQuery, int receiveBuffer)
      throws IOException {
    URI u = URI.create(httpBase);
    Socket s = new Socket();
    s.setReceiveBufferSize(receiveBuffer);
    s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 10_000);
    s.setSoTimeout(10_000);
    RawWs ws = new RawWs(s);
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    String req = "GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + u.getHost() + ":" + u.getPort()
        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(nonce) + "\r\n\r\n";
    ws.out.write(req.getBytes(StandardCharsets.ISO_8859_1));
    ws.out.flush();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = ws.in.read();
      if (b < 0) throw new EOFException("connection closed during the upgrade: " + head);
      head.write(b);
    }
    String status = head.toString(StandardCharsets.ISO_8859_1).lines().findFirst().orElse("");
    if (!status.startsWith("HTTP/1.1 101")) throw new IOException("upgrade refused: " + head);
    return ws;
  }

  /** Sends one masked text frame, as a client must. */
  public void sendText(String text) throws IOException {
    byte[] payload = text.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream f = new ByteArrayOutputStream();
    f.write(0x81);
    if (payload.length < 126) {
      f.write(0x80 | payload.length);
    } else {
      f.write(0x80 | 126);
      f.write(payload.length >> 8);
      f.write(payload.length);
    }
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    f.write(mask);
    for (int i = 0; i < payload.length; i++) f.write(payload[i] ^ mask[i & 3]);
    out.write(f.toByteArray());
    out.flush();
  }

  /**
   * The next text message or close frame; null when the server has closed the connection without
   * (any more) frames. Fails after {@code timeout} without a byte.
   */
  public Frame read(Duration timeout) throws IOException {
    socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
    ByteArrayOutputStream message = new ByteArrayOutputStream();
    while (true) {
      int b0;
      try {
        b0 = in.read();
      } catch (SocketException e) {
        return null; // reset by the server
      }
      if (b0 < 0) return null;
      int opcode = b0 & 0x0F;
      boolean fin = (b0 & 0x80) != 0;
      byte[] payload;
      try {
        int b1 = in.readUnsignedByte();
        long len = b1 & 0x7F;
        if (len == 126) len = in.readUnsignedShort();
        else if (len == 127) len = in.readLong();
        if (len > Integer.MAX_VALUE - 8) throw new IOException("frame too large: " + len);
        payload = new byte[(int) len];
        in.readFully(payload);
      } catch (EOFException | SocketException e) {
        return null; // cut mid-frame: the server gave up on this client
      }
      switch (opcode) {
        case 0x8 -> {
          int code = payload.length >= 2 ? ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF) : -1;
          String reason = payload.length > 2
              ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
          return new Frame(true, code, reason);
        }
        case 0x1, 0x0 -> {
          message.writeBytes(payload);
          if (fin) return new Frame(false, 0, message.toString(StandardCharsets.UTF_8));
        }
        default -> { } // ping, pong: nothing the tests look at
      }
    }
  }

  /**
   * Whether the server closes the connection within {@code d}: reads (and discards) whatever is
   * still coming until EOF or a reset, or until {@code d} has passed.
   */
  public boolean closedWithin(Duration d) throws IOException {
    InputStream raw = socket.getInputStream();
    byte[] sink = new byte[64 << 10];
    long end = System.nanoTime() + d.toNanos();
    try {
      while (true) {
        long left = (end - System.nanoTime()) / 1_000_000;
        if (left <= 0) return false;
        socket.setSoTimeout((int) left);
        if (raw.read(sink) < 0) return true;
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (SocketException e) {
      return true;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
