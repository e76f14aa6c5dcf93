package dev.atsdispatch.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One HTTP/1.1 exchange over a plain {@link Socket}, for requests an HTTP client library would
 * normalise or refuse to send: raw header bytes (e.g. ISO-8859-1 actor names, §1.4) and
 * malformed request targets. Sends {@code Connection: close} and reads to end of stream.
 */
public final class RawHttp {
  private RawHttp() {}

  /** A parsed response; header names are lower-cased. */
  public record Response(int status, Map<String, String> headers, byte[] body) {
    public String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /**
   * Sends {@code requestLine}, then the given header lines (each without CRLF), then
   * {@code Host}, {@code Content-Length} (when body is not null) and {@code Connection: close},
   * all encoded as ISO-8859-1, then the body bytes.
   */
  public static Response exchange(String host, int port, String requestLine, byte[] body,
      String... headerLines) {
    ByteArrayOutputStream req = new ByteArrayOutputStream();
    StringBuilder head = new StringBuilder(requestLine).append("\r\n");
    for (String h : headerLines) head.append(h).append("\r\n");
    head.append("Host: ").append(host).append(':').append(port).append("\r\n");
    if (body != null) head.append("Content-Length: ").append(body.length).append("\r\n");
    head.append("Connection: close\r\n\r\n");
    req.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    if (body != null) req.writeBytes(body);
    try (Socket s = new Socket(host, port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(req.toByteArray());
      out.flush();
      return parse(s.getInputStream().readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(requestLine, e);
    }
  }

  private static Response parse(byte[] raw) throws IOException {
    int end = indexOf(raw, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
    if (end < 0) throw new IOException("no header end in response: " + new String(raw,
        StandardCharsets.ISO_8859_1));
    String[] lines = new String(raw, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int c = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT),
          lines[i].substring(c + 1).trim());
    }
    byte[] rest = java.util.Arrays.copyOfRange(raw, end + 4, raw.length);
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) rest = dechunk(rest);
    return new Response(status, headers, rest);
  }

  private static byte[] dechunk(byte[] in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    InputStream s = new java.io.ByteArrayInputStream(in);
    while (true) {
      StringBuilder size = new StringBuilder();
      int b;
      while ((b = s.read()) != '\n') {
        if (b < 0) throw new IOException("truncated chunked body");
        if (b != '\r') size.append((char) b);
      }
      int n = Integer.parseInt(size.toString().split(";")[0].trim(), 16);
      if (n == 0) return out.toByteArray();
      out.writeBytes(s.readNBytes(n));
      s.readNBytes(2);
    }
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) continue outer;
      }
      return i;
    }
    return -1;
  }
}
