package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.cli.AgentbusCommandsTest.Run;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.NatsServer;
import dev.atsdispatch.testing.TestTls;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a worker proves itself to NATS, against real nats-servers: TLS with a private CA and a
 * password in the URL (a server that takes TLS clients only), and a {@code .creds} file (a server
 * in operator mode, JWTs made as nsc makes them). Setup, publish, the worker and results all
 * connect; without the CA, with a wrong password or without the creds each says why and exits
 * non-zero, and the password shows nowhere.
 */
@Timeout(120)
final class NatsSecureAccessTest {
  static final String PASSWORD = "pw-7f3a-secret";
  @TempDir Path dir;

  static Run wrong(NatsServer nats, String ca) {
    return AgentbusCommandsTest.run("--nats-url", "tls://worker:nope-" + PASSWORD + "@127.0.0.1:" + nats.port(),
          "--ca-file", ca, "--agent", "code", "--timeout", "3s");
  }

  @Test
  void theAgentbusCommandsAndTheWorkerUseTlsWithAPrivateCaAndThePasswordInTheUrl() throws Exception {
    TestTls tls = TestTls.make(dir);
    try (NatsServer nats = NatsServer.start(dir, tls.natsBlock() + "\nauthorization { user: worker\n password: \""
        + PASSWORD + "\" }")) {
      String url = "tls://worker:" + PASSWORD + "@127.0.0.1:" + nats.port();
      String ca = tls.ca().toString();

      Run untrusted = AgentbusCommandsTest.run("--nats-url", url, "--agent", "code", "--timeout", "3s");
      assertEquals(1, untrusted.rc(), untrusted.err());
      assertTrue(untrusted.err().startsWith("ats-dispatch: agentbus setup: "), untrusted.err());
      assertTrue(untrusted.err().contains("certification path"), "says the server's certificate is not trusted: " + untrusted.err());
      Run wrong = wrong(nats, ca);
      assertEquals(1, wrong.rc(), wrong.err());
      assertTrue(wrong.err().contains("Authorization Violation"), wrong.err());
      Run noCa = AgentbusCommandsTest.run("--nats-url", url, "--ca-file", dir.resolve("missing.pem").toString(), "--agent", "code");
      assertEquals(2, noCa.rc(), noCa.err());
      assertTrue(noCa.err().startsWith("ats-dispatch: agentbus setup: --ca-file: cannot read "), noCa.err());

      Run setup = AgentbusCommandsTest.run("--nats-url", url, "--ca-file", ca, "--agent", "code");
      assertEquals(0, setup.rc(), setup.err());
      Run published = AgentbusCommandsTest.exec(List.of("agentbus", "publish", "over tls", "--nats-url", url, "--ca-file", ca,
          "--to", "code", "--task-type", "ask"));
      assertEquals(0, published.rc(), published.err());
      String id = new ObjectMapper().readTree(published.out()).path("id").asText();

      Path config = workerFile(url, "done over tls");
      try (ChildJvm blind = ChildJvm.start(dir, "blind", Map.of("ATS_DISPATCH_STATUS_PORT", "off",
          "ATS_DISPATCH_LOG_FORMAT", "plain", "ATS_DISPATCH_AGENT_SANDBOX", "none"), List.of("agentbus", "worker",
          "--config", config.toString(), "--state-dir", dir.resolve("state0").toString(),
          "--keys-dir", dir.resolve("keys0").toString()))) {
        assertEquals(1, blind.waitFor(Duration.ofSeconds(60)), blind.stderr());
        assertTrue(blind.stderr().contains("preflight failed: NATS at tls://worker:***@127.0.0.1:" + nats.port()
            + " cannot be used: "), blind.stderr());
        assertTrue(blind.stderr().contains("certification path"), blind.stderr());
        assertFalse(blind.stderr().contains(PASSWORD) || blind.stdout().contains(PASSWORD), "the password was logged");
      }
      try (ChildJvm worker = ChildJvm.start(dir, "worker", Map.of("ATS_DISPATCH_STATUS_PORT", "off",
          "ATS_DISPATCH_LOG_FORMAT", "plain", "ATS_DISPATCH_AGENT_SANDBOX", "none"), List.of("agentbus", "worker",
          "--config", config.toString(), "--ca-file", ca, "--state-dir", dir.resolve("state").toString(),
          "--keys-dir", dir.resolve("keys").toString()))) {
        Run[] got = new Run[1];
        Wait.until("the result, read over tls", Duration.ofSeconds(60), () -> {
          got[0] = AgentbusCommandsTest.exec(List.of("agentbus", "results", "--nats-url", url, "--ca-file", ca,
              "--agent", "main"));
          return got[0].rc() == 0 && got[0].out().contains(id);
        });
        JsonNode r = new ObjectMapper().readTree(got[0].out().lines().toList().get(0));
        assertEquals("completed", r.path("status").asText(), r.toString());
        assertEquals("done over tls", r.path("result").asText());
        assertFalse(worker.stdout().contains(PASSWORD) || worker.stderr().contains(PASSWORD), "the password was logged");
      }
      for (Run x : List.of(untrusted, wrong, noCa, setup, published)) {
        assertFalse(x.out().contains(PASSWORD) || x.err().contains(PASSWORD), "the password was printed: " + x);
      }
    }
  }

  @Test
  void aCredsFileGetsTheWorkerAndTheCommandsIntoAServerInOperatorMode() throws Exception {
    dev.atsdispatch.testing.TestOperator op = dev.atsdispatch.testing.TestOperator.make();
    try (NatsServer nats = NatsServer.start(dir, op.natsBlock())) {
      String creds = op.creds(dir.resolve("worker.creds"), "worker").toString();
      Run anonymous = AgentbusCommandsTest.run("--nats-url", nats.url(), "--agent", "code", "--timeout", "3s");
      assertEquals(1, anonymous.rc(), anonymous.err());
      assertTrue(anonymous.err().contains("Authorization Violation"), anonymous.err());
      Run setup = AgentbusCommandsTest.run("--nats-url", nats.url(), "--creds", creds, "--agent", "code");
      assertEquals(0, setup.rc(), setup.err());
      Run published = AgentbusCommandsTest.exec(List.of("agentbus", "publish", "with creds", "--nats-url", nats.url(),
          "--creds", creds, "--to", "code", "--task-type", "ask"));
      assertEquals(0, published.rc(), published.err());
      String id = new ObjectMapper().readTree(published.out()).path("id").asText();

      Path config = workerFile(nats.url(), "done with creds");
      Path settings = dir.resolve("ats-dispatch.toml");
      Files.writeString(settings, "[nats]\ncreds = \"" + creds + "\"\n");
      try (ChildJvm worker = ChildJvm.start(dir, "worker", Map.of("ATS_DISPATCH_STATUS_PORT", "off",
          "ATS_DISPATCH_LOG_FORMAT", "plain", "ATS_DISPATCH_AGENT_SANDBOX", "none"), List.of("agentbus", "worker",
          "--config", config.toString(), "--settings", settings.toString(), "--state-dir", dir.resolve("state").toString(),
          "--keys-dir", dir.resolve("keys").toString()))) {
        Run[] got = new Run[1];
        Wait.until("the result, read with the creds", Duration.ofSeconds(60), () -> {
          got[0] = AgentbusCommandsTest.exec(List.of("agentbus", "results", "--nats-url", nats.url(), "--creds", creds,
              "--agent", "main"));
          return got[0].rc() == 0 && got[0].out().contains(id);
        });
        JsonNode r = new ObjectMapper().readTree(got[0].out().lines().toList().get(0));
        assertEquals("completed", r.path("status").asText(), r.toString());
        assertEquals("done with creds", r.path("result").asText());
      }
    }
  }

  /** An agentbus worker file (0600: the URL may hold a password) for agent "code", whose agent answers {@code answer}. */
  private Path workerFile(String url, String answer) throws Exception {
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, "#!/bin/sh\necho \"" + answer + "\"\n");
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    Path config = dir.resolve("agentbus.toml");
    Files.writeString(config, "[agent]\nid = \"code\"\nchat_cmd = [\"" + agent + "\", \"{input}\"]\n[nats]\nurl = \""
        + url + "\"\n");
    Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
    return config;
  }
}
