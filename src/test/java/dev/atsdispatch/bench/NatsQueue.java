package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.nats.AgentbusPublish;
import dev.atsdispatch.source.nats.JetStreamSetup;
import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An agentbus task subject on a nats-server: tasks are published as {@code agentbus task publish}
 * does (JetStream publish, PubAck awaited) to {@code agent.<agent>.tasks} with their key as the
 * task type, and the results on {@code agent.bench.results} are read as they arrive (a core
 * subscription on jnats's dispatcher thread), so a task's completion time is when its result
 * reached the harness. Also makes the streams and the worker's consumer, as {@code agentbus setup}.
 */
final class NatsQueue implements BenchQueue {
  static final String REPLY_TO = "bench";
  private static final ObjectMapper M = new ObjectMapper();

  private final Connection nc;
  private final JetStream js;
  private final String agent;
  private final Set<String> created = ConcurrentHashMap.newKeySet();
  private final Map<String, String> ended = new ConcurrentHashMap<>(); // task id -> status of its first result
  private final AtomicInteger completed = new AtomicInteger();
  private final AtomicInteger failed = new AtomicInteger();
  private final AtomicInteger repeated = new AtomicInteger();
  private final AtomicLong lastCompletion = new AtomicLong();

  NatsQueue(String url, String agent, Duration ackWait, int maxDeliver) throws IOException, InterruptedException {
    this.agent = agent;
    nc = Nats.connect(new Options.Builder().server(url).connectionTimeout(Duration.ofSeconds(5)).build());
    try {
      JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent(agent, ackWait, maxDeliver));
    } catch (JetStreamApiException e) {
      nc.close();
      throw new IOException("setup: " + e.getMessage(), e);
    }
    js = nc.jetStream();
    Dispatcher d = nc.createDispatcher(m -> {
      long at = RecordingAgent.now();
      JsonNode r;
      try {
        r = M.readTree(m.getData());
      } catch (IOException e) {
        return;
      }
      String id = r.path("task").path("id").asText();
      String status = r.path("status").asText();
      if (ended.putIfAbsent(id, status) != null) {
        repeated.incrementAndGet();
        return;
      }
      if (status.equals("completed")) {
        completed.incrementAndGet();
        lastCompletion.accumulateAndGet(at, Math::max);
      } else {
        failed.incrementAndGet();
      }
    });
    d.subscribe(AgentbusPublish.resultSubject(REPLY_TO));
    try {
      nc.flush(Duration.ofSeconds(5)); // the subscription is in place before the first task
    } catch (java.util.concurrent.TimeoutException e) {
      nc.close();
      throw new IOException("nats-server did not answer a flush within 5 s");
    }
  }

  @Override
  public String source() {
    return "nats";
  }

  @Override
  public String create(String key, JsonNode payload) {
    if (payload != null) throw new BenchFailure("agentbus tasks carry no dependencies");
    JsonNode task = AgentbusPublish.task(key, "text", REPLY_TO, agent, REPLY_TO, key, UUID.randomUUID());
    String id = task.path("id").asText();
    created.add(id);
    try {
      js.publish(AgentbusPublish.subject(agent), AgentbusPublish.bytes(task));
    } catch (IOException | JetStreamApiException e) {
      throw new BenchFailure("publish " + key + ": " + e.getMessage());
    }
    return id;
  }

  @Override
  public int open() {
    return created.size() - ended.size();
  }

  @Override
  public int completed() {
    return completed.get();
  }

  @Override
  public int failed() {
    return failed.get();
  }

  /** Results that arrived for a task that already had one (the stream's dedupe should make this 0). */
  int repeatedResults() {
    return repeated.get();
  }

  @Override
  public Long lastCompletionNs() {
    long v = lastCompletion.get();
    return v == 0 ? null : v;
  }

  @Override
  public boolean dependencies() {
    return false;
  }

  @Override
  public void close() {
    try {
      nc.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
