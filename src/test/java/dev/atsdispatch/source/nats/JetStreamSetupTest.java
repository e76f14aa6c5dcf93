package dev.atsdispatch.source.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atsdispatch.testing.NatsServer;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The streams and consumer, made on a real nats-server; run twice; and what cannot be changed in place. */
@Timeout(60)
final class JetStreamSetupTest {
  @TempDir Path dir;
  NatsServer server;
  Connection nc;

  @BeforeEach
  void start() throws Exception {
    server = NatsServer.start(dir);
    nc = Nats.connect(server.url());
  }

  @AfterEach
  void stop() throws Exception {
    if (nc != null) nc.close();
    if (server != null) server.close();
  }

  @Test
  void makesAgentbussLayoutOnceAndThenLeavesItAlone() throws Exception {
    JetStreamSetup.Consumer c = JetStreamSetup.Consumer.forAgent("agent-code", Duration.ofSeconds(30), 5);
    assertEquals(List.of("stream AGENT_TASKS: created ([agent.*.tasks], max age 7 d)",
        "stream AGENT_RESULTS: created ([agent.*.results], max age 30 d)",
        "consumer code: created (agent.code.tasks, ack wait 30 s, max deliver 5)"), JetStreamSetup.ensure(nc, c));
    assertEquals(List.of("stream AGENT_TASKS: unchanged", "stream AGENT_RESULTS: unchanged", "consumer code: unchanged"),
        JetStreamSetup.ensure(nc, c));

    JetStreamManagement jsm = nc.jetStreamManagement();
    StreamConfiguration tasks = jsm.getStreamInfo("AGENT_TASKS").getConfiguration();
    assertEquals(StorageType.File, tasks.getStorageType());
    assertEquals(Duration.ofDays(7), tasks.getMaxAge());
    ConsumerConfiguration cc = jsm.getConsumerInfo("AGENT_TASKS", "code").getConsumerConfiguration();
    assertEquals(AckPolicy.Explicit, cc.getAckPolicy());
    assertEquals(Duration.ofSeconds(30), cc.getAckWait());
    assertEquals(5, cc.getMaxDeliver());
    assertEquals("agent.code.tasks", cc.getFilterSubject());

    // what an agentbus publisher sends (core NATS) is kept by the stream, for that consumer
    nc.publish("agent.code.tasks", "{\"id\":\"task-1\"}".getBytes(StandardCharsets.UTF_8));
    nc.flush(Duration.ofSeconds(5));
    dev.atsdispatch.testing.Wait.until("the task stored", () -> {
      try {
        return jsm.getStreamInfo("AGENT_TASKS").getStreamState().getMsgCount() == 1;
      } catch (Exception e) {
        return false;
      }
    });

    assertEquals(List.of("stream AGENT_TASKS: unchanged", "stream AGENT_RESULTS: unchanged",
        "consumer code: updated (ack wait PT30S -> PT2M, max deliver 5 -> 3)"),
        JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofMinutes(2), 3)));
  }

  @Test
  void aStreamThatCannotBeChangedInPlaceIsNamedNotHalfUpdated() throws Exception {
    nc.jetStreamManagement().addStream(StreamConfiguration.builder().name("AGENT_TASKS").subjects("agent.*.tasks")
        .storageType(StorageType.Memory).build());
    java.io.IOException x = assertThrows(java.io.IOException.class,
        () -> JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", Duration.ofSeconds(30), 5)));
    assertEquals("stream AGENT_TASKS exists with memory storage, not file; it cannot be changed in place", x.getMessage());
  }

  @Test
  void aConsumerNeedsANameALeaseAndAtLeastOneDelivery() {
    assertEquals("agent id is required",
        assertThrows(IllegalArgumentException.class, () -> JetStreamSetup.Consumer.forAgent(" ", Duration.ofSeconds(30), 5)).getMessage());
    assertEquals("ack wait must be at least 1 s",
        assertThrows(IllegalArgumentException.class, () -> JetStreamSetup.Consumer.forAgent("a", Duration.ZERO, 5)).getMessage());
    assertEquals("max deliver must be at least 1",
        assertThrows(IllegalArgumentException.class, () -> JetStreamSetup.Consumer.forAgent("a", Duration.ofSeconds(1), 0)).getMessage());
  }
}
