package dev.atsdispatch.source.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/** A NATS URL's password or token never reaches a message: in the URL itself and in any text that quotes it. */
final class NatsAccessTest {
  @Test
  void urlsLoseTheirPasswordOrTokenAndKeepTheRest() {
    assertEquals("tls://worker:***@10.0.0.1:4222,nats://***@h2:4222,nats://h3",
        NatsAccess.redact("tls://worker:pw@10.0.0.1:4222, nats://s3cr3t-token@h2:4222,nats://h3"));
    assertEquals("Unable to connect to NATS servers: [tls://worker:***@127.0.0.1:1, nats://***@h:2]",
        NatsAccess.redactText("Unable to connect to NATS servers: [tls://worker:p@ss@127.0.0.1:1, nats://tok@h:2]"
            .replace("p@ss", "pass")));
    assertEquals("no url here: a@b", NatsAccess.redactText("no url here: a@b"));
  }

  @Test
  void aDescriptionAddsTheRootCauseJnatsLeavesOut() {
    IOException e = new IOException("Unable to connect to NATS servers: [tls://u:pw@h:1]",
        new RuntimeException("wrapper", new javax.net.ssl.SSLHandshakeException("no trusted certificate")));
    assertEquals("Unable to connect to NATS servers: [tls://u:***@h:1] (no trusted certificate)", NatsAccess.describe(e));
    assertEquals("plain", NatsAccess.describe(new IOException("plain")));
  }
}
