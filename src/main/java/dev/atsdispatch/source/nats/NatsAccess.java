package dev.atsdispatch.source.nats;

import io.nats.client.Connection;
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
    return secured(b, s.credsFile(), s.caFile(), "nats.creds", "nats.ca_file");
  }

  /**
   * {@code b} with a {@code .creds} file to authenticate with and a CA file to trust (either may be
   * null); IllegalArgumentException, starting with the name the user gave the file by, when one
   * cannot be used.
   */
  public static Options.Builder secured(Options.Builder b, Path creds, Path ca, String credsName, String caName) {
    if (creds != null) {
      if (!Files.isReadable(creds)) throw new IllegalArgumentException(credsName + ": cannot read " + creds);
      b.authHandler(Nats.credentials(creds.toString()));
    }
    if (ca != null) b.sslContext(trusting(ca, caName));
    return b;
  }

  /** A TLS context that trusts the certificates of a PEM file (and only those). */
  static SSLContext trusting(Path caFile, String name) {
    try (InputStream in = Files.newInputStream(caFile)) {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int n = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca-" + n++, c);
      }
      if (n == 0) throw new IllegalArgumentException(name + ": no certificate in " + caFile);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException e) {
      throw new IllegalArgumentException(name + ": cannot read " + caFile + ": " + e.getMessage());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(name + ": " + caFile + " is not a PEM certificate file: " + e.getMessage());
    }
  }

  /**
   * Connects with {@code b}, {@code errors} (may be null) told of what the connection reports.
   * When the connection cannot be made, the IOException has the last error jnats reported (a TLS
   * handshake refused, a socket error) as its cause: jnats's own message does not say.
   */
  public static Connection connect(Options.Builder b, ErrorListener errors) throws IOException, InterruptedException {
    java.util.concurrent.atomic.AtomicReference<Exception> last = new java.util.concurrent.atomic.AtomicReference<>();
    b.errorListener(new ErrorListener() {
      @Override
      public void errorOccurred(Connection conn, String error) {
        if (errors != null) errors.errorOccurred(conn, error);
      }

      @Override
      public void exceptionOccurred(Connection conn, Exception exp) {
        last.set(exp);
        if (errors != null) errors.exceptionOccurred(conn, exp);
      }
    });
    try {
      return Nats.connect(b.build());
    } catch (IOException e) {
      Exception why = last.get();
      if (why != null && e.getCause() == null && why != e) throw new IOException(e.getMessage(), why);
      throw e;
    }
  }

  private static final java.util.regex.Pattern USER_INFO =
      java.util.regex.Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://)([^\\s/@,\\[\\]]+)@");

  /**
   * What went wrong, for a person: the exception's message and, when it has one that says more,
   * its root cause's (jnats's "Unable to connect to NATS servers" hides the TLS or socket error),
   * with the password or token of any URL in them masked.
   */
  public static String describe(Throwable e) {
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    if (root != e && root.getMessage() != null && !msg.contains(root.getMessage())) msg += " (" + root.getMessage() + ")";
    return redactText(msg);
  }

  /** {@code text} with the user information of every URL in it masked as {@link #redact} masks it. */
  public static String redactText(String text) {
    java.util.regex.Matcher m = USER_INFO.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String user = m.group(2);
      int colon = user.indexOf(':');
      String shown = colon < 0 ? "***" : user.substring(0, colon) + ":***";
      m.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(m.group(1) + shown + "@"));
    }
    m.appendTail(out);
    return out.toString();
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
