package dev.atsdispatch.source.nats;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Where a NATS JetStream source takes its tasks and how it talks to the server: the server URL
 * (credentials may be in it), an optional {@code .creds} file and CA file, the stream, durable
 * consumer and subject of the worker identity {@code agentId}, where results of unreadable
 * messages go, and agentbus's prompt addition and size limit. {@code ackWait} and
 * {@code maxDeliver} are used only when the consumer does not exist yet and is created. A value.
 */
public record NatsSettings(String url, Path credsFile, Path caFile, String agentId, String stream,
    String durable, String taskSubject, String defaultResultSubject, String extraInstruction,
    int maxTaskBytes, Duration reconnectWait, int maxReconnects, Duration ackWait, int maxDeliver) {

  public NatsSettings {
    if (url == null || url.isBlank()) throw new IllegalArgumentException("nats.url is required");
    String id = AgentbusTask.normalizeAgentId(agentId);
    if (!AgentbusTask.subjectToken(id)) {
      throw new IllegalArgumentException("agent id \"" + agentId + "\" cannot be a subject token (no dots, spaces, * or >)");
    }
    if (stream == null || stream.isBlank()) stream = JetStreamSetup.TASKS_STREAM;
    if (durable == null || durable.isBlank()) durable = id;
    if (taskSubject == null || taskSubject.isBlank()) taskSubject = "agent." + id + ".tasks";
    if (defaultResultSubject == null || defaultResultSubject.isBlank()) defaultResultSubject = "agent.main.results";
    if (extraInstruction == null) extraInstruction = "";
    if (maxTaskBytes < 1) throw new IllegalArgumentException("max_task_bytes must be positive");
    if (reconnectWait == null) reconnectWait = Duration.ofSeconds(2);
    if (ackWait == null) ackWait = Duration.ofSeconds(30);
    if (ackWait.compareTo(Duration.ofSeconds(1)) < 0) throw new IllegalArgumentException("ack wait must be at least 1 s");
    if (maxDeliver == 0 || maxDeliver < -1) throw new IllegalArgumentException("max deliver must be positive or -1");
  }

  /** agentbus's defaults for one worker identity at {@code url}. */
  public static NatsSettings forAgent(String url, String agentId) {
    return new NatsSettings(url, null, null, agentId, null, null, null, null, "", AgentbusTask.DEFAULT_MAX_TASK_BYTES,
        null, -1, null, -1);
  }

  /** The worker identity as agentbus's config file gives it. */
  public static NatsSettings of(AgentbusConfig c) {
    return new NatsSettings(c.natsUrl(), null, null, c.agentId(), c.stream(), c.durable(), c.taskSubject(),
        c.defaultResultSubject(), c.extraInstruction(), c.maxTaskBytes(),
        Duration.ofSeconds(Math.max(0, c.reconnectTimeWaitSeconds())), c.maxReconnectAttempts(), null, -1);
  }

  public NatsSettings withAccess(Path creds, Path ca) {
    return new NatsSettings(url, creds, ca, agentId, stream, durable, taskSubject, defaultResultSubject,
        extraInstruction, maxTaskBytes, reconnectWait, maxReconnects, ackWait, maxDeliver);
  }

  public NatsSettings withConsumerDefaults(Duration newAckWait, int newMaxDeliver) {
    return new NatsSettings(url, credsFile, caFile, agentId, stream, durable, taskSubject, defaultResultSubject,
        extraInstruction, maxTaskBytes, reconnectWait, maxReconnects, newAckWait, newMaxDeliver);
  }

  /** The agent id without agentbus's {@code agent-} prefix: the name in {@code You are <id>.} and in subjects. */
  public String agent() {
    return AgentbusTask.normalizeAgentId(agentId);
  }

  @Override
  public String toString() {
    return "NatsSettings[" + NatsAccess.redact(url) + ", " + stream + "/" + durable + " on " + taskSubject + "]";
  }
}
