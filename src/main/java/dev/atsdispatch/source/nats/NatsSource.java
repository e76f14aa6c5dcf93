package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.Capabilities;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.Clock;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ConsumerContext;
import io.nats.client.ErrorListener;
import io.nats.client.FetchConsumeOptions;
import io.nats.client.FetchConsumer;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.PublishOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.PublishAck;
import io.nats.client.impl.NatsMessage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A NATS JetStream durable pull consumer as a task source, on agentbus 0.1.0's wire: task
 * messages in, result messages out. A message is held from its delivery until it is acknowledged,
 * terminated or given back; while held it cannot go to another worker as long as it is kept in
 * progress: by this source until the engine claims it, then by the engine's lease keeper (the
 * consumer's AckWait is the lease). Only as many messages are fetched as there are free places
 * ({@code capacity} less those held). A result is published with a JetStream publish, its PubAck
 * awaited (message id {@code <task id>:<stream sequence>}, so a repeat within the stream's
 * duplicate window is dropped), and only then is the task acknowledged. A message that is not a
 * task is terminated with a failed result naming the problem. The delivery count is the strike
 * count the engine reads.
 *
 * <p>Threads: one fetch thread (connects, reads, offers), one timer (keeps unclaimed messages in
 * progress); jnats's own threads call the connection listener. Every other method runs on its
 * caller's thread.
 */
public final class NatsSource implements TaskSource {
  private static final Logger log = LoggerFactory.getLogger(NatsSource.class);
  private static final ObjectMapper M = new ObjectMapper();
  /** An offered message the engine has not claimed in this long is given back (something dropped it). */
  static final Duration UNCLAIMED_LIMIT = Duration.ofMinutes(5);
  private static final int CONSUMER_NOT_FOUND = 10014;
  private static final int STREAM_NOT_FOUND = 10059;
  private static final Duration CALL = Duration.ofSeconds(5);

  /** One delivered message, from its delivery until it is settled. */
  private static final class Held {
    /** The latest delivery: a redelivery of the same message replaces it, and acks go to it. */
    volatile Message msg;
    final AgentbusTask task;
    final SourceTask offer;
    final long deliveredNanos;
    volatile boolean claimed;

    Held(Message msg, AgentbusTask task, SourceTask offer, long deliveredNanos) {
      this.msg = msg;
      this.task = task;
      this.offer = offer;
      this.deliveredNanos = deliveredNanos;
    }
  }

  private final String name;
  private final NatsSettings settings;
  private final int capacity;
  private final Clock clock;
  private final Map<TaskKey, Held> held = new ConcurrentHashMap<>();
  private final Object room = new Object();
  private final Object flushing = new Object();
  /**
   * Messages this source settled lately (task key to stream sequence): a redelivery of one (its
   * acknowledgement lost with a connection or a server restart) is acknowledged at once.
   */
  private final Map<TaskKey, Long> answered = java.util.Collections.synchronizedMap(
      new java.util.LinkedHashMap<>(64, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<TaskKey, Long> eldest) {
          return size() > 10_000;
        }
      });
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "nats-keepalive");
    t.setDaemon(true);
    return t;
  });
  /** Its own thread: a wedged connection may block the keepalive timer's publishes. */
  private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "nats-watchdog");
    t.setDaemon(true);
    return t;
  });
  private volatile boolean closed;
  private volatile boolean offering = true;
  private volatile Connection nc;
  private volatile JetStream js;
  private volatile ConsumerContext consumer;
  private volatile Duration ackWait;
  private volatile long readySince;
  private volatile GiveBacks giveBacks;
  private volatile int unanswered;
  private volatile String problem = "not connected yet";
  private Thread fetcher;

  public NatsSource(String name, NatsSettings settings, int capacity, Clock clock) {
    if (capacity < 1) throw new IllegalArgumentException("capacity must be at least 1");
    this.name = name;
    this.settings = settings;
    this.capacity = capacity;
    this.clock = clock;
  }

  public NatsSettings settings() {
    return settings;
  }

  /** The consumer's AckWait, once connected (null before). */
  public Duration ackWait() {
    return ackWait;
  }

  /** Messages held now (offered, running, or waiting for their result to go out). */
  public int heldNow() {
    return held.size();
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Capabilities capabilities() {
    return new Capabilities(false, false, false, true, false, true, false);
  }

  @Override
  public String describe() {
    return "NATS JetStream " + settings.stream() + "/" + settings.durable() + " on " + settings.taskSubject() + " at "
        + NatsAccess.redact(settings.url());
  }

  // ---- connecting and fetching ---------------------------------------------------------------

  @Override
  public void start(Consumer<SourceEvent> sink) {
    fetcher = new Thread(() -> fetchLoop(sink), "nats-fetch");
    fetcher.setDaemon(true);
    fetcher.start();
  }

  /**
   * Connects once and makes sure the consumer exists, on the caller's thread: what a preflight
   * calls so a wrong URL, a missing stream or refused credentials stop the service with a clear
   * error. Returns the consumer's AckWait. Idempotent.
   */
  public synchronized Duration connect() throws IOException, InterruptedException, JetStreamApiException {
    if (consumer != null) return ackWait;
    if (nc == null) nc = open();
    return attach();
  }

  /** A new connection with this source's listeners. */
  private Connection open() throws IOException, InterruptedException {
    ConnectionListener listener = (conn, type) -> {
      switch (type) {
        case DISCONNECTED -> log.warn("NATS connection lost; reconnecting");
        case RECONNECTED -> log.info("NATS connection back");
        default -> { }
      }
      synchronized (room) {
        room.notifyAll();
      }
    };
    ErrorListener quiet = new ErrorListener() {
      @Override
      public void errorOccurred(Connection conn, String error) {
        log.warn("NATS server error: {}", NatsAccess.redactText(error));
      }

      @Override
      public void exceptionOccurred(Connection conn, Exception exp) {
        log.warn("NATS connection: {}", NatsAccess.redactText(exp.toString()));
      }
    };
    return NatsAccess.connect(NatsAccess.options(settings, listener, null), quiet);
  }

  /** Makes sure of the consumer on the connection of now and takes its AckWait; the first time, starts the timer. */
  private Duration attach() throws IOException, JetStreamApiException {
    JetStreamManagement jsm = nc.jetStreamManagement();
    ConsumerInfo info;
    try {
      info = jsm.getConsumerInfo(settings.stream(), settings.durable());
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() == STREAM_NOT_FOUND) {
        throw new IOException("stream " + settings.stream() + " does not exist on " + NatsAccess.redact(settings.url())
            + " (create it with: ats-dispatch agentbus setup)");
      }
      if (e.getApiErrorCode() != CONSUMER_NOT_FOUND) throw e;
      // as agentbus's worker does: a missing durable is created, here with the lease and strikes explicit
      ConsumerConfiguration cc = ConsumerConfiguration.builder().durable(settings.durable())
          .filterSubject(settings.taskSubject()).ackPolicy(AckPolicy.Explicit).deliverPolicy(DeliverPolicy.All)
          .ackWait(settings.ackWait()).maxDeliver(settings.maxDeliver()).build();
      info = jsm.addOrUpdateConsumer(settings.stream(), cc);
      log.info("created durable consumer {} on {} (ack wait {} s)", settings.durable(), settings.taskSubject(),
          settings.ackWait().toSeconds());
    }
    ConsumerConfiguration c = info.getConsumerConfiguration();
    if (c.getAckPolicy() != AckPolicy.Explicit) {
      throw new IOException("consumer " + settings.durable() + " has ack policy " + c.getAckPolicy()
          + "; a worker needs explicit acks (delete it, or run ats-dispatch agentbus setup with another durable)");
    }
    if (c.getDeliverSubject() != null) {
      throw new IOException("consumer " + settings.durable() + " is a push consumer; a worker needs a pull consumer");
    }
    int replicas = Math.max(1, jsm.getStreamInfo(settings.stream()).getConfiguration().getReplicas());
    giveBacks = GiveBacks.open(nc, replicas);
    ackWait = c.getAckWait() == null || c.getAckWait().isZero() ? Duration.ofSeconds(30) : c.getAckWait();
    js = nc.jetStream();
    consumer = nc.getConsumerContext(settings.stream(), settings.durable());
    problem = null;
    if (readySince == 0) {
      readySince = clock.nanoTime();
      long every = Math.max(100, ackWait.toMillis() / 3);
      timer.scheduleWithFixedDelay(this::keepUnclaimed, every, every, TimeUnit.MILLISECONDS);
      watchdog.scheduleWithFixedDelay(this::checkAnswering, 2, 2, TimeUnit.SECONDS);
    }
    return ackWait;
  }

  /**
   * A connection that says it is connected but whose round trips go unanswered is made again.
   * jnats was seen to end up so after a server restart (requests and pulls written nowhere, for
   * good); deliveries held here are answered on the new connection ({@link #reply}).
   */
  private void checkAnswering() {
    Connection c = nc;
    if (closed || c == null || c.getStatus() != Connection.Status.CONNECTED) return;
    try {
      flush(c);
      unanswered = 0;
    } catch (TimeoutException | RuntimeException e) {
      if (++unanswered >= 2) rebuild("no answer to a PING for " + unanswered * 2 + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Connects again on a new connection; the old one is closed in the background. */
  private synchronized void rebuild(String why) {
    if (closed) return;
    log.warn("NATS connection not answering ({}); connecting again", why);
    Connection old = nc;
    try {
      nc = open();
      attach();
      unanswered = 0;
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      log.warn("connecting again failed ({}); trying later", e.toString());
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    Thread closer = new Thread(() -> {
      try {
        old.close();
      } catch (InterruptedException | RuntimeException e) {
        log.debug("closing the old NATS connection: {}", e.toString());
      }
    }, "nats-close-old");
    closer.setDaemon(true);
    closer.start();
  }

  private void fetchLoop(Consumer<SourceEvent> sink) {
    long wait = 500;
    while (!closed) {
      try {
        connect();
        break;
      } catch (InterruptedException e) {
        return;
      } catch (IOException | JetStreamApiException | RuntimeException e) {
        problem = NatsAccess.describe(e);
        log.warn("NATS source not ready ({}); trying again in {} ms", problem, wait);
        sleep(wait);
        wait = Math.min(wait * 2, 10_000);
      }
    }
    if (closed) return;
    sink.accept(new SourceEvent.Connected());
    log.info("taking tasks from {} (ack wait {} s, up to {} at once)", describe(), ackWait.toSeconds(), capacity);
    while (!closed) {
      int want = capacity - held.size();
      if (want <= 0 || !offering || nc.getStatus() != Connection.Status.CONNECTED) {
        synchronized (room) {
          try {
            room.wait(250);
          } catch (InterruptedException e) {
            return;
          }
        }
        continue;
      }
      // an idle worker waits long; a busy one comes back soon to ask for places freed meanwhile
      long expires = held.isEmpty() ? 5000 : 1000;
      try (FetchConsumer fc = consumer.fetch(FetchConsumeOptions.builder().maxMessages(want).expiresIn(expires).build())) {
        Message m;
        while (!closed && (m = fc.nextMessage()) != null) {
          receive(m, sink);
        }
      } catch (InterruptedException e) {
        return;
      } catch (Exception e) {
        if (closed) return;
        log.warn("NATS fetch failed ({}); trying again", e.toString());
        sleep(1000);
      }
    }
  }

  /** One delivered message: offered as a task, or terminated with a failed result when it is not one. */
  private void receive(Message m, Consumer<SourceEvent> sink) {
    if (!m.isJetStream()) return;
    long seq = m.metaData().streamSequence();
    int deliveries = (int) Math.min(Integer.MAX_VALUE, m.metaData().deliveredCount());
    GiveBacks g = giveBacks;
    if (deliveries > 1 && g != null) deliveries = Math.max(1, deliveries - g.of(settings.stream(), seq));
    AgentbusTask.Parsed parsed = AgentbusTask.parse(m.getData(), settings.maxTaskBytes());
    if (parsed instanceof AgentbusTask.Invalid bad) {
      reject(m, seq, null, bad.reason());
      return;
    }
    AgentbusTask task = ((AgentbusTask.Ok) parsed).task();
    String where = AgentbusTask.resultSubjectProblem(task);
    if (where != null) {
      reject(m, seq, task, where);
      return;
    }
    TaskKey key;
    try {
      key = new TaskKey(name, task.id());
    } catch (IllegalArgumentException e) {
      reject(m, seq, task, "id is not usable as a task id (at most 512 characters, no NUL)");
      return;
    }
    Long done = answered.get(key);
    if (done != null && done == seq) {
      log.debug("task {}: delivered again after it was answered; acknowledged", key);
      reply(m, ACK);
      return;
    }
    Held prior = held.get(key);
    if (prior != null && prior.msg.metaData().streamSequence() != seq) {
      // another message with the id of a task running here: it waits until that one is done
      log.warn("task {}: a second message with its id (stream sequence {}) while it is held here; given back for later",
          key, seq);
      reply(m, nakWithDelay(ackWait));
      return;
    }
    if (prior != null) { // a redelivery of what is held here (its keepalive came late): answer the newer one
      log.debug("task {}: delivered again while held here (delivery {})", key, deliveries);
      prior.msg = m;
      return;
    }
    SourceTask offer = new SourceTask(key, TaskStatus.PENDING, 0, timestamp(m), task.taskType(),
        PyJson.compact(task.asDict()), enginePayload(task), false, deliveries);
    held.put(key, new Held(m, task, offer, clock.nanoTime()));
    log.debug("task {}: delivered (stream sequence {}, delivery {})", key, seq, deliveries);
    sink.accept(new SourceEvent.Offered(offer, deliveries > 1 ? SourceEvent.Why.LEASE_EXPIRED : SourceEvent.Why.CREATED));
  }

  private static Instant timestamp(Message m) {
    try {
      return m.metaData().timestamp().toInstant();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * What the engine reads of a task (callback_url, quiet, slots): the payload's content when it
   * is a JSON object, without {@code depends_on}, which has no meaning here (JetStream cannot be
   * asked for a task's status by id).
   */
  private static ObjectNode enginePayload(AgentbusTask t) {
    JsonNode content = t.payload().get("content");
    if (content == null || !content.isObject()) return JsonNodeFactory.instance.objectNode();
    ObjectNode copy = ((ObjectNode) content).deepCopy();
    copy.remove("depends_on");
    return copy;
  }

  /** A message that is not a task: a failed result that says why (where it can be sent), then term. */
  private void reject(Message m, long seq, AgentbusTask task, String reason) {
    String subject = settings.defaultResultSubject();
    JsonNode shown = JsonNodeFactory.instance.nullNode();
    if (task != null) {
      shown = task.asDict();
      if (AgentbusTask.resultSubjectProblem(task) == null) subject = task.resultSubject();
    } else {
      JsonNode raw = rawObject(m.getData());
      if (raw != null) {
        shown = raw;
        String to = replyOf(raw);
        if (to != null) subject = to;
      }
    }
    String id = task != null ? task.id() : "message";
    log.warn("stream sequence {}: not a task ({}); terminated with a failed result on {}", seq, reason, subject);
    try {
      publish(subject, AgentbusWire.result(shown, AgentbusWire.FAILED, null, "invalid task message: " + reason,
          clock.now(), UUID.randomUUID()), id + ":" + seq);
      reply(m, TERM);
    } catch (SourceException e) {
      log.warn("stream sequence {}: the failed result could not be published ({}); it comes back later", seq, e.getMessage());
      reply(m, nakWithDelay(Duration.ofSeconds(5)));
    }
  }

  /** The message as a JSON object when it is one (and small enough to echo), else null. */
  private JsonNode rawObject(byte[] data) {
    if (data.length > settings.maxTaskBytes()) return null;
    try {
      JsonNode n = M.readTree(data);
      return n != null && n.isObject() ? n : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** agentbus's result subject of a raw message, when its reply address is a usable one. */
  private static String replyOf(JsonNode raw) {
    for (String f : List.of("reply_to", "from")) {
      JsonNode v = raw.get(f);
      if (v == null || !v.isTextual() || v.asText().isBlank()) continue;
      try {
        String id = AgentbusTask.normalizeAgentId(v.asText());
        return AgentbusTask.subjectToken(id) ? "agent." + id + ".results" : null;
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
    return null;
  }

  /** Keeps offered, unclaimed messages in progress; gives back one unclaimed for too long. */
  private void keepUnclaimed() {
    try {
      if (nc == null || nc.getStatus() != Connection.Status.CONNECTED) return;
      long now = clock.nanoTime();
      for (Map.Entry<TaskKey, Held> e : held.entrySet()) {
        Held h = e.getValue();
        if (h.claimed) continue;
        if (now - h.deliveredNanos > UNCLAIMED_LIMIT.toNanos()) {
          if (held.remove(e.getKey(), h)) {
            log.warn("task {}: offered {} min ago and not taken; given back", e.getKey(), UNCLAIMED_LIMIT.toMinutes());
            giveBack(h, null);
            roomMade();
          }
          continue;
        }
        reply(h.msg, IN_PROGRESS);
      }
    } catch (RuntimeException e) {
      log.warn("keeping offered NATS messages in progress failed: {}", e.toString());
    }
  }

  private void roomMade() {
    synchronized (room) {
      room.notifyAll();
    }
  }

  @Override
  public void stopOffers() {
    offering = false;
  }

  @Override
  public boolean connected() {
    Connection c = nc;
    return consumer != null && c != null && c.getStatus() == Connection.Status.CONNECTED;
  }

  @Override
  public Iterator<List<SourceTask>> listPending(int pageSize) {
    return java.util.Collections.emptyIterator(); // a consumer delivers; it cannot be listed
  }

  // ---- claims and reports --------------------------------------------------------------------

  @Override
  public Lease claim(TaskKey key, Duration lease) {
    Held h = held.get(key);
    if (h == null) throw new SourceException(SourceException.Kind.CONFLICT, "no delivery of " + key + " is held here");
    h.claimed = true;
    return new NatsLease(key);
  }

  @Override
  public Lease held(TaskKey key) {
    return new NatsLease(key);
  }

  @Override
  public void settle(TaskKey key) {
    Held h = held.get(key);
    if (h == null) return;
    settle(key, h, false);
    log.info("task {}: its result was out already; the repeated delivery is acknowledged", key);
  }

  @Override
  public TaskStatus status(TaskKey key) {
    throw new SourceException(SourceException.Kind.REFUSED, "a JetStream task cannot be looked up by id");
  }

  @Override
  public String prompt(TaskKey key, String title, String description, ObjectNode payload, boolean encrypted) {
    Held h = held.get(key);
    AgentbusTask t = h != null ? h.task : null;
    if (t == null && description != null && !encrypted) {
      AgentbusTask.Parsed p = AgentbusTask.parse(description.getBytes(StandardCharsets.UTF_8), Integer.MAX_VALUE);
      if (p instanceof AgentbusTask.Ok ok) t = ok.task();
    }
    if (t == null) return null;
    if (encrypted) {
      // the agent reads the opened task where the envelope was: payload {"fmt": "json", "content":
      // {"title", "description"?, "payload"?}} (the plaintext encrypt-task seals), internal fields left out
      ObjectNode content = JsonNodeFactory.instance.objectNode().put("title", title);
      if (description != null && (h == null || !description.equals(h.offer.description()))) {
        content.put("description", description);
      }
      if (payload != null) {
        ObjectNode p = payload.deepCopy();
        p.remove(dev.atsdispatch.dispatch.Prompts.INTERNAL_FIELDS);
        if (!p.isEmpty()) content.set("payload", p);
      }
      ObjectNode opened = JsonNodeFactory.instance.objectNode().put("fmt", "json");
      opened.set("content", content);
      t = t.withPayload(opened);
    }
    return AgentbusWire.prompt(settings.agentId(), t, settings.extraInstruction());
  }

  @Override
  public void health() {
    Connection c = nc;
    if (c == null || consumer == null) throw new SourceException(SourceException.Kind.UNAVAILABLE, String.valueOf(problem));
    if (c.getStatus() != Connection.Status.CONNECTED) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS connection " + c.getStatus());
    }
    try {
      c.RTT();
    } catch (IOException | RuntimeException e) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS server does not answer: " + e.getMessage(), e);
    }
  }

  /** Stops fetching; gives back what was offered and never claimed; closes the connection. */
  @Override
  public void close() {
    closed = true;
    offering = false;
    if (fetcher != null) fetcher.interrupt();
    timer.shutdownNow();
    watchdog.shutdownNow();
    Connection c = nc;
    if (c == null) return;
    try {
      for (Map.Entry<TaskKey, Held> e : held.entrySet()) {
        if (!e.getValue().claimed && c.getStatus() == Connection.Status.CONNECTED) giveBack(e.getValue(), null);
      }
      flush(c);
    } catch (TimeoutException | RuntimeException e) {
      log.debug("NATS flush at close: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      c.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Publishes one result and waits for the stream to have it. */
  private void publish(String subject, byte[] body, String msgId) {
    JetStream j = js;
    if (j == null || nc.getStatus() != Connection.Status.CONNECTED) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS is not connected");
    }
    try {
      PublishAck ack = j.publish(NatsMessage.builder().subject(subject).data(body).build(),
          PublishOptions.builder().messageId(msgId).streamTimeout(CALL).build());
      unanswered = 0;
      if (ack.isDuplicate()) log.info("result {} was stored before; the stream kept the first", msgId);
    } catch (IOException e) {
      if (nc.getStatus() == Connection.Status.CONNECTED && ++unanswered >= 2) rebuild("a result not stored: " + e.getMessage());
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "result not stored on " + subject + ": " + e.getMessage(), e);
    } catch (JetStreamApiException e) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "result not stored on " + subject + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "result not stored on " + subject + ": " + e, e);
    }
  }

  /**
   * Waits until the server has read what was written so far (a PING answered). One at a time:
   * jnats takes more than two PINGs in flight for a stale connection and drops it, and after
   * that reconnect its requests were seen to go unanswered.
   */
  private void flush(Connection c) throws TimeoutException, InterruptedException {
    synchronized (flushing) {
      c.flush(CALL);
    }
  }

  /** Acknowledges (or terminates) a held message and waits until the server has read it. */
  private void settle(TaskKey key, Held h, boolean term) {
    Connection c = nc;
    if (c == null || c.getStatus() != Connection.Status.CONNECTED) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS is not connected");
    }
    // not waited for: a PING in flight across a reconnect was seen to wedge jnats's connection; an
    // acknowledgement that is lost brings a redelivery, which is acknowledged at once (answered)
    reply(h.msg, term ? TERM : ACK);
    answered.put(key, h.msg.metaData().streamSequence());
    if (held.remove(key, h)) roomMade();
    log.debug("task {}: {}", key, term ? "terminated" : "acknowledged");
  }

  private static final String ACK = "+ACK";
  private static final String NAK = "-NAK";
  private static final String TERM = "+TERM";
  private static final String IN_PROGRESS = "+WPI";

  private static String nakWithDelay(Duration d) {
    return "-NAK {\"delay\":" + d.toNanos() + "}";
  }

  /**
   * An acknowledgement of a delivery (ack, nak, term, in progress), sent on the connection of now:
   * after the connection was made again, deliveries of the old one are still answered.
   */
  private void reply(Message m, String body) {
    Connection c = nc;
    if (c == null || c.getStatus() != Connection.Status.CONNECTED || m.getReplyTo() == null) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS is not connected");
    }
    try {
      c.publish(m.getReplyTo(), body.getBytes(StandardCharsets.US_ASCII));
    } catch (IllegalStateException e) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS is not connected: " + e.getMessage(), e);
    }
  }

  /** Gives a message back ({@code nak}) after recording that this delivery is no strike. */
  private void giveBack(Held h, Duration delay) {
    GiveBacks g = giveBacks;
    if (g != null) g.add(settings.stream(), h.msg.metaData().streamSequence());
    reply(h.msg, delay == null || delay.isZero() || delay.isNegative() ? NAK : nakWithDelay(delay));
  }

  /**
   * The question goes to the task's result subject as a result with status {@code needs_input}
   * (not final: the final result follows once it is answered); an encrypted task's text is left out.
   */
  @Override
  public void asked(TaskKey key, int number, String text, JsonNode sealed) {
    Held h = held.get(key);
    if (h == null) throw new SourceException(SourceException.Kind.CONFLICT, "no delivery of " + key + " is held here");
    String said = text != null ? "Question " + number + ": " + text
        : "Question " + number + " (encrypted task: not shown; answer with ats-dispatch answer)";
    publish(h.task.resultSubject(), AgentbusWire.result(h.task.asDict(), AgentbusWire.NEEDS_INPUT, said, null,
        clock.now(), UUID.randomUUID()), h.task.id() + ":" + h.msg.metaData().streamSequence() + ":question-" + number);
  }

  /** True when an agent's answer asks for approval (agentbus's convention). */
  static boolean needsApproval(String response) {
    String s = PyJson.strip(response);
    if (s.startsWith("{")) {
      try {
        JsonNode n = M.readTree(s);
        if (n != null && n.isObject() && AgentbusWire.NEEDS_APPROVAL.equals(n.path("status").asText(null))) return true;
      } catch (IOException | RuntimeException e) {
        // not JSON: read as text below
      }
    }
    String first = s.lines().findFirst().orElse("").strip();
    return first.equals("status=needs_approval") || first.equals("status: needs_approval");
  }

  /**
   * A claim on a held message (or, after a restart, on the message this source will hold when the
   * task is delivered again). Renewal is {@code inProgress}; a report is a published result and
   * then the acknowledgement; a give-back is a {@code nak}.
   */
  private final class NatsLease implements Lease {
    private final TaskKey key;
    private volatile Instant expires;

    NatsLease(TaskKey key) {
      this.key = key;
      Duration w = ackWait;
      this.expires = w == null ? null : clock.now().plus(w);
    }

    private Held current() {
      Held h = held.get(key);
      if (h != null) {
        h.claimed = true;
        return h;
      }
      Duration w = ackWait;
      boolean settledIn = w != null && consumer != null && clock.nanoTime() - readySince > w.multipliedBy(3).toNanos();
      if (settledIn) {
        throw new SourceException(SourceException.Kind.CONFLICT,
            "no delivery of it is held here (another worker may have taken it)");
      }
      throw new SourceException(SourceException.Kind.UNAVAILABLE, "waiting for the task to be delivered again");
    }

    @Override
    public TaskKey key() {
      return key;
    }

    @Override
    public SourceTask task() {
      Held h = held.get(key);
      return h == null ? null : h.offer;
    }

    @Override
    public Instant expiresAt() {
      return expires;
    }

    @Override
    public void renew(Duration lease) {
      Held h = current();
      Connection c = nc;
      if (c == null || c.getStatus() != Connection.Status.CONNECTED) {
        throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS is not connected");
      }
      reply(h.msg, IN_PROGRESS);
      expires = clock.now().plus(ackWait);
    }

    @Override
    public void complete(List<JsonNode> outputs) {
      Held h = current();
      JsonNode out = outputs.isEmpty() ? JsonNodeFactory.instance.objectNode() : outputs.get(0);
      if (out.has("encrypted_response")) { // the answer sealed to the sender; its plaintext is never sent
        publish(h.task.resultSubject(), AgentbusWire.sealedResult(h.task.asDict(), out.get("encrypted_response"),
            clock.now(), UUID.randomUUID()), msgId(h));
        settle(key, h, false);
        return;
      }
      String response = out.hasNonNull("response") ? out.get("response").asText() : "";
      String status = needsApproval(response) ? AgentbusWire.NEEDS_APPROVAL : AgentbusWire.COMPLETED;
      publish(h.task.resultSubject(), AgentbusWire.result(h.task.asDict(), status, PyJson.strip(response), null,
          clock.now(), UUID.randomUUID()), msgId(h));
      settle(key, h, false);
    }

    @Override
    public void fail(String reason) {
      Held h = current();
      publish(h.task.resultSubject(), AgentbusWire.result(h.task.asDict(), AgentbusWire.FAILED, null, reason,
          clock.now(), UUID.randomUUID()), msgId(h));
      settle(key, h, reason != null && reason.startsWith("poison:")); // used up its attempts: never again
    }

    @Override
    public void release(Duration delay) {
      Held h = held.get(key);
      if (h == null) return;
      Connection c = nc;
      if (c == null || c.getStatus() != Connection.Status.CONNECTED) {
        throw new SourceException(SourceException.Kind.UNAVAILABLE, "NATS is not connected");
      }
      giveBack(h, delay);
      if (held.remove(key, h)) roomMade();
    }

    private String msgId(Held h) {
      return h.task.id() + ":" + h.msg.metaData().streamSequence();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
