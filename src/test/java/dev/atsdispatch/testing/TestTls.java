package dev.atsdispatch.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost, made
 * with the real {@code openssl} (PEM files: {@code ca.pem}, {@code server.pem}, {@code server.key}),
 * for the TLS tests of the NATS source. A value once made.
 */
public record TestTls(Path ca, Path cert, Path key) {
  public static TestTls make(Path dir) throws IOException, InterruptedException {
    Path d = Files.createDirectories(dir.resolve("tls"));
    Path ext = d.resolve("san.ext");
    Files.writeString(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ats-dispatch test CA");
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
    openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", ext.toString());
    return new TestTls(d.resolve("ca.pem"), d.resolve("server.pem"), d.resolve("server.key"));
  }

  /** The nats-server {@code tls} block that serves this certificate (every client must use TLS). */
  public String natsBlock() {
    return "tls { cert_file: \"" + cert + "\"\n key_file: \"" + key + "\" }";
  }

  private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("openssl " + args[0] + " failed: " + new String(out, java.nio.charset.StandardCharsets.UTF_8));
    }
  }
}
