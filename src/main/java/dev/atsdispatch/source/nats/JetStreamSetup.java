package dev.atsdispatch.source.nats;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.DiscardPolicy;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes the JetStream layout agentbus 0.1.0 uses, as its {@code stream-setup.sh} does, and the
 * durable pull consumer its worker would create on first pull, with AckWait and MaxDeliver set
 * explicitly rather than left to server defaults (30 s, unlimited). Idempotent: what exists with
 * the same settings is left alone, what differs in a setting this owns is updated, and each step
 * is reported. Streams: {@code AGENT_TASKS} ({@code agent.*.tasks}, 7 days) and
 * {@code AGENT_RESULTS} ({@code agent.*.results}, 30 days), file storage, limits retention,
 * discard old. Runs on the caller's thread.
 */
public final class JetStreamSetup {
  public static final String TASKS_STREAM = "AGENT_TASKS";
  public static final String RESULTS_STREAM = "AGENT_RESULTS";
  /** JetStream's "stream not found" and "consumer not found" API error codes. */
  private static final int STREAM_NOT_FOUND = 10059;
  private static final int CONSUMER_NOT_FOUND = 10014;

  private JetStreamSetup() {}

  /** The consumer of one worker identity: its durable name, the subject it takes, its lease and strikes. */
  public record Consumer(String durable, String taskSubject, Duration ackWait, int maxDeliver) {
    public Consumer {
      if (durable == null || durable.isBlank()) throw new IllegalArgumentException("a durable consumer name is required");
      if (ackWait.compareTo(Duration.ofSeconds(1)) < 0) throw new IllegalArgumentException("ack wait must be at least 1 s");
      if (maxDeliver < 1) throw new IllegalArgumentException("max deliver must be at least 1");
    }

    /** agentbus's defaults for agent {@code agentId}: durable = the id, subject {@code agent.<id>.tasks}. */
    public static Consumer forAgent(String agentId, Duration ackWait, int maxDeliver) {
      String id = AgentbusTask.normalizeAgentId(agentId);
      return new Consumer(id, "agent." + id + ".tasks", ackWait, maxDeliver);
    }
  }

  /** Ensures both streams and {@code consumer}; returns one line per step ("created", "unchanged", "updated: ..."). */
  public static List<String> ensure(Connection nc, Consumer consumer) throws IOException, JetStreamApiException {
    return ensure(nc, consumer, 1);
  }

  /** As above, the streams kept on {@code replicas} servers of a cluster (1 on a single server). */
  public static List<String> ensure(Connection nc, Consumer consumer, int replicas) throws IOException, JetStreamApiException {
    if (replicas < 1 || replicas > 5) throw new IllegalArgumentException("replicas must be 1 to 5");
    JetStreamManagement jsm = nc.jetStreamManagement();
    List<String> report = new ArrayList<>();
    report.add(stream(jsm, StreamConfiguration.builder().name(TASKS_STREAM).subjects("agent.*.tasks")
        .storageType(StorageType.File).retentionPolicy(RetentionPolicy.Limits).discardPolicy(DiscardPolicy.Old)
        .maxAge(Duration.ofDays(7)).replicas(replicas).build()));
    report.add(stream(jsm, StreamConfiguration.builder().name(RESULTS_STREAM).subjects("agent.*.results")
        .storageType(StorageType.File).retentionPolicy(RetentionPolicy.Limits).discardPolicy(DiscardPolicy.Old)
        .maxAge(Duration.ofDays(30)).replicas(replicas).build()));
    report.add(consumer(jsm, consumer));
    return report;
  }

  private static String stream(JetStreamManagement jsm, StreamConfiguration want) throws IOException, JetStreamApiException {
    StreamInfo have;
    try {
      have = jsm.getStreamInfo(want.getName());
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() != STREAM_NOT_FOUND) throw e;
      jsm.addStream(want);
      return "stream " + want.getName() + ": created (" + want.getSubjects() + ", max age " + want.getMaxAge().toDays() + " d)";
    }
    StreamConfiguration c = have.getConfiguration();
    List<String> diff = new ArrayList<>();
    if (!c.getSubjects().containsAll(want.getSubjects())) diff.add("subjects " + c.getSubjects() + " -> " + want.getSubjects());
    if (!c.getMaxAge().equals(want.getMaxAge())) diff.add("max age " + c.getMaxAge() + " -> " + want.getMaxAge());
    if (c.getReplicas() != want.getReplicas()) diff.add("replicas " + c.getReplicas() + " -> " + want.getReplicas());
    if (c.getRetentionPolicy() != want.getRetentionPolicy()) {
      // JetStream cannot change a stream's retention: say so rather than half-update it
      throw new IOException("stream " + want.getName() + " exists with retention " + c.getRetentionPolicy()
          + ", not " + want.getRetentionPolicy() + "; it cannot be changed in place");
    }
    if (c.getStorageType() != want.getStorageType()) {
      throw new IOException("stream " + want.getName() + " exists with " + c.getStorageType() + " storage, not "
          + want.getStorageType() + "; it cannot be changed in place");
    }
    if (diff.isEmpty()) return "stream " + want.getName() + ": unchanged";
    List<String> subjects = new ArrayList<>(c.getSubjects());
    for (String s : want.getSubjects()) if (!subjects.contains(s)) subjects.add(s);
    jsm.updateStream(StreamConfiguration.builder(c).subjects(subjects).maxAge(want.getMaxAge())
        .replicas(want.getReplicas()).build());
    return "stream " + want.getName() + ": updated (" + String.join(", ", diff) + ")";
  }

  private static String consumer(JetStreamManagement jsm, Consumer want) throws IOException, JetStreamApiException {
    ConsumerConfiguration cc = ConsumerConfiguration.builder().durable(want.durable()).filterSubject(want.taskSubject())
        .ackPolicy(AckPolicy.Explicit).deliverPolicy(DeliverPolicy.All).ackWait(want.ackWait())
        .maxDeliver(want.maxDeliver()).build();
    ConsumerInfo have = null;
    try {
      have = jsm.getConsumerInfo(TASKS_STREAM, want.durable());
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() != CONSUMER_NOT_FOUND) throw e;
    }
    if (have == null) {
      jsm.addOrUpdateConsumer(TASKS_STREAM, cc);
      return "consumer " + want.durable() + ": created (" + want.taskSubject() + ", ack wait " + want.ackWait().toSeconds()
          + " s, max deliver " + want.maxDeliver() + ")";
    }
    ConsumerConfiguration c = have.getConsumerConfiguration();
    List<String> diff = new ArrayList<>();
    if (!want.taskSubject().equals(c.getFilterSubject())) diff.add("subject " + c.getFilterSubject() + " -> " + want.taskSubject());
    if (!want.ackWait().equals(c.getAckWait())) diff.add("ack wait " + c.getAckWait() + " -> " + want.ackWait());
    if (c.getMaxDeliver() != want.maxDeliver()) diff.add("max deliver " + c.getMaxDeliver() + " -> " + want.maxDeliver());
    if (c.getAckPolicy() != AckPolicy.Explicit) {
      throw new IOException("consumer " + want.durable() + " exists with ack policy " + c.getAckPolicy()
          + ", not explicit; delete it or use another durable");
    }
    if (diff.isEmpty()) return "consumer " + want.durable() + ": unchanged";
    jsm.addOrUpdateConsumer(TASKS_STREAM, cc);
    return "consumer " + want.durable() + ": updated (" + String.join(", ", diff) + ")";
  }
}
