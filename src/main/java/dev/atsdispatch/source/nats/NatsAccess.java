package dev.atsdispatch.source.nats;

import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * How a service reaches a NATS server: the URL (with {@code user:password@} or {@code token@} in
 * it if the server wants them), a {@code .creds} file (JWT and NKey seed), TLS for {@code tls://}
 * URLs or a CA file, and reconnects forever unless told otherwise. Also the one place that writes a
 * URL for logs ({@link #redact}). Stateless.
 */
public final class NatsAccess {
  private NatsAccess() {}

  /** jnats options for a long-lived connection; IllegalArgumentException names a file that cannot be used. */
  public static Options.Builder options(NatsSettings s, ConnectionListener listener, ErrorListener errors) {
    Options.Builder b = new Options.Builder().server(s.url()).connectionName("ats-dispatch " + s.agent())
        .maxReconnects(s.maxReconnects()).reconnectWait(s.reconnectWait()).connectionTimeout(Duration.ofSeconds(5))
        // a subscription per request: with jnats's shared reply subscription, requests made across a
        // reconnect were seen to go unanswered for good (results never stored, fetches stalled)
        .oldRequestStyle()
        .reconnectBufferSize(0)
        // a publish never blocks on a full outgoing queue (a wedged writer): it fails, and is retried
        .discardMessagesWhenOutgoingQueueFull();
    if (listener != null) b.connectionListener(listener);
    if (errors != null) b.errorListener(errors);
    if (s.credsFile() != null) {
      if (!Files.isReadable(s.credsFile())) throw new IllegalArgumentException("nats.creds: cannot read " + s.credsFile());
      b.authHandler(Nats.credentials(s.credsFile().toString()));
    }
    if (s.caFile() != null) b.sslContext(trusting(s.caFile()));
    return b;
  }

  /** A TLS context that trusts the certificates of a PEM file (and only those). */
  static SSLContext trusting(Path caFile) {
    try (InputStream in = Files.newInputStream(caFile)) {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int n = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca-" + n++, c);
      }
      if (n == 0) throw new IllegalArgumentException("nats.ca_file: no certificate in " + caFile);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException e) {
      throw new IllegalArgumentException("nats.ca_file: cannot read " + caFile + ": " + e.getMessage());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("nats.ca_file: " + caFile + " is not a PEM certificate file: " + e.getMessage());
    }
  }

  /** The URL without its password or token: what a log line may show. */
  public static String redact(String url) {
    if (url == null) return null;
    StringBuilder out = new StringBuilder();
    for (String one : url.split(",", -1)) {
      if (out.length() > 0) out.append(',');
      out.append(redactOne(one.strip()));
    }
    return out.toString();
  }

  private static String redactOne(String url) {
    int scheme = url.indexOf("://");
    int at = url.lastIndexOf('@');
    if (at < 0) return url;
    int from = scheme < 0 ? 0 : scheme + 3;
    if (at < from) return url;
    String user = url.substring(from, at);
    int colon = user.indexOf(':');
    String shown = colon < 0 ? "***" : user.substring(0, colon) + ":***";
    return url.substring(0, from) + shown + url.substring(at);
  }
}
