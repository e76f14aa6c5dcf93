package dev.atsdispatch.source.ats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsEvent;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventTypes;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.ats.PendingCursor;
import dev.atsdispatch.ats.TaskQuery;
import dev.atsdispatch.source.Capabilities;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One ATS channel as a task source, over either transport: events from the WebSocket watcher,
 * the pending listing for reconcile, claims and reports through the {@link AtsClient}, attempt
 * records as data parts on the task's thread. Task keys are {@code <name>:<ATS id>}. Threads: the
 * watcher's socket thread and its one timer thread (events go to the sink from there); every
 * other method runs on the caller's thread.
 */
public final class AtsSource implements TaskSource {
  private static final ObjectMapper M = new ObjectMapper();
  /** The progress text of an attempt's start, as the attempt runner words it. */
  private static final java.util.regex.Pattern STARTED =
      java.util.regex.Pattern.compile("Agent (?:processing|retry) started \\(attempt ([1-9][0-9]{0,8})\\)");
  private static final List<String> EVENTS = List.of(EventTypes.CREATED, EventTypes.REOPENED,
      EventTypes.LEASE_EXPIRED, EventTypes.CANCELLED, EventTypes.COMPLETED, EventTypes.FAILED, EventTypes.MESSAGE);

  private final String name;
  private final AtsClient client;
  private final AtsSettings settings;
  private final String channel;
  private final Clock clock;
  private final EventWatcher.Timing timing;
  private final ScheduledExecutorService watcherTimer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ats-watcher");
    t.setDaemon(true);
    return t;
  });
  private volatile EventWatcher watcher;
  /** Where the next listing walk starts its page limit: what the last one settled on. */
  private volatile int listLimit = PendingCursor.DEFAULT_PAGE;

  public AtsSource(String name, AtsClient client, AtsSettings settings, String channel, Clock clock,
      EventWatcher.Timing timing) {
    this.name = name;
    this.client = client;
    this.settings = settings;
    this.channel = channel;
    this.clock = clock;
    this.timing = timing;
  }

  public AtsClient client() {
    return client;
  }

  public EventWatcher watcher() {
    return watcher;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Capabilities capabilities() {
    return new Capabilities(true, true, true, false, true, false, true);
  }

  @Override
  public String describe() {
    return "ATS channel " + channel + " over " + client.transport();
  }

  @Override
  public void start(Consumer<SourceEvent> sink) {
    EventWatcher w = new EventWatcher(settings, channel, EVENTS, new EventWatcher.Listener() {
      @Override
      public void onSubscribed() {
        sink.accept(new SourceEvent.Connected());
      }

      @Override
      public void onEvent(AtsEvent e) {
        SourceEvent ev = translate(e);
        if (ev != null) sink.accept(ev);
      }
    }, clock, watcherTimer, timing);
    watcher = w;
    w.start();
  }

  private SourceEvent translate(AtsEvent e) {
    Task t = e.task();
    if (!channel.equals(t.channel())) return null;
    TaskKey key = key(t.id());
    return switch (e.type()) {
      case EventTypes.CREATED -> offered(t, SourceEvent.Why.CREATED);
      case EventTypes.REOPENED -> offered(t, SourceEvent.Why.REOPENED);
      case EventTypes.LEASE_EXPIRED -> offered(t, SourceEvent.Why.LEASE_EXPIRED);
      case EventTypes.CANCELLED -> new SourceEvent.Cancelled(key);
      case EventTypes.MESSAGE -> new SourceEvent.Said(key);
      default -> t.status() == null ? null : new SourceEvent.StatusChanged(key, t.status(), parked(t));
    };
  }

  private SourceEvent offered(Task t, SourceEvent.Why why) {
    if (t.status() != TaskStatus.PENDING) return new SourceEvent.StatusChanged(key(t.id()), t.status(), parked(t));
    return new SourceEvent.Offered(toSource(t), why); // whole: the engine keeps it only for a task it starts at once
  }

  @Override
  public boolean connected() {
    EventWatcher w = watcher;
    return w != null && w.subscribed();
  }

  /**
   * A walk by a stable created_at cursor ({@link PendingCursor}), light tasks only. A batch is
   * what the pages read so far hold, up to {@code pageSize}: where tasks are large the cursor
   * reads smaller pages, and the engine gets each one as soon as it is read. The page limit the
   * cursor settled on is where the next walk starts.
   */
  @Override
  public Iterator<List<SourceTask>> listPending(int pageSize) {
    PendingCursor cursor = new PendingCursor(client, TaskQuery.pending(channel).withLight(true), pageSize,
        listLimit, PendingCursor.PAGE_BYTES);
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        boolean more = call(cursor::hasNext);
        listLimit = cursor.pageLimit();
        return more;
      }

      @Override
      public List<SourceTask> next() {
        List<SourceTask> page = new ArrayList<>();
        while (page.size() < pageSize && (cursor.buffered() > 0 || page.isEmpty() && hasNext())) {
          Task t = cursor.next();
          if (t.status() == TaskStatus.PENDING && channel.equals(t.channel())) page.add(toSource(t).lighten());
        }
        return page;
      }
    };
  }

  @Override
  public Lease claim(TaskKey key, Duration lease) {
    long id = idOf(key);
    Task t = call(() -> client.claim(id, lease));
    return new AtsLease(key, toSource(t), t.leaseExpires());
  }

  /**
   * On the cli transport reading the task back is one more {@code ats} process; when the engine
   * holds the whole task from its event a moment ago, the claim alone is made (as the JavaScript
   * version does), and the event's content runs.
   */
  @Override
  public Lease claim(TaskKey key, Duration lease, boolean contentKnown) {
    if (!contentKnown || client.claimReadsTask()) return claim(key, lease);
    long id = idOf(key);
    Instant sent = clock.now(); // the server's expiry is later than this: the claim left after it
    call(() -> {
      client.claimOnly(id, lease);
      return null;
    });
    return new AtsLease(key, null, sent.plus(lease));
  }

  @Override
  public Lease held(TaskKey key) {
    return new AtsLease(key, null, null);
  }

  @Override
  public TaskStatus status(TaskKey key) {
    long id = idOf(key);
    return call(() -> client.getLight(id)).status(); // a light read: the description is never held
  }

  /** Failed with a parked task's reason (a light read keeps a short reason): its dependents wait. */
  @Override
  public DependencyStatus dependencyStatus(TaskKey key) {
    long id = idOf(key);
    Task t = call(() -> client.getLight(id));
    return new DependencyStatus(t.status(), parked(t));
  }

  /** Failed only to wait for an answer to a question (by any dispatcher: the reason says so). */
  private static boolean parked(Task t) {
    return t.status() == TaskStatus.FAILED && Lease.parkReason(t.reason());
  }

  @Override
  public SharedAttempts sharedAttempts(TaskKey key, Instant since) {
    long id = idOf(key);
    List<JsonNode> messages = call(() -> client.messages(id));
    int highest = 0;
    Set<Integer> started = new HashSet<>();
    Set<Integer> notStrikes = new HashSet<>();
    for (JsonNode m : messages) {
      if (since != null && !after(m.path("created_at").asText(null), since)) continue;
      for (JsonNode part : m.path("parts")) {
        JsonNode rec = record(part);
        if (rec == null) continue;
        int n = rec.path("attempt").asInt(0);
        if (n <= 0) continue;
        highest = Math.max(highest, n);
        if (rec.path("strike").asBoolean(true)) started.add(n);
        else notStrikes.add(n);
      }
    }
    started.removeAll(notStrikes);
    return new SharedAttempts(highest, started.size());
  }

  private static boolean after(String createdAt, Instant since) {
    if (createdAt == null) return true;
    try {
      return !dev.atsdispatch.time.WireTime.parse(createdAt).isBefore(since);
    } catch (RuntimeException e) {
      return true;
    }
  }

  /** The {@code ats_dispatch} record of a data part, whether its content is an object or a JSON string. */
  private static JsonNode record(JsonNode part) {
    String type = part.path("type").asText();
    if (type.equals("text")) return startedText(part.path("content").asText(""));
    if (!type.equals("data")) return null;
    JsonNode c = part.get("content");
    if (c != null && c.isTextual()) {
      try {
        c = M.readTree(c.asText());
      } catch (Exception e) {
        return null;
      }
    }
    JsonNode rec = c == null ? null : c.get("ats_dispatch");
    return rec != null && rec.isObject() ? rec : null;
  }

  /**
   * The attempt record a progress text stands for ({@code Agent processing started (attempt N)}):
   * where every part costs an {@code ats} call, that text alone is posted and read as the record.
   */
  private static JsonNode startedText(String text) {
    java.util.regex.Matcher m = STARTED.matcher(text);
    if (!m.matches()) return null;
    try {
      return M.createObjectNode().put("attempt", Integer.parseInt(m.group(1)));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  @Override
  public void note(TaskKey key, String text, Integer attempt, boolean strike) {
    long id = idOf(key);
    List<JsonNode> parts = new ArrayList<>();
    if (text != null) parts.add(M.createObjectNode().put("type", "text").put("content", text));
    JsonNode said = text == null ? null : startedText(text);
    boolean textIsRecord = said != null && attempt != null && strike && said.path("attempt").asInt() == attempt;
    if (attempt != null && !(textIsRecord && client.callPerPart())) {
      ObjectNode rec = M.createObjectNode().put("attempt", attempt);
      if (!strike) rec.put("strike", false);
      parts.add(M.createObjectNode().put("type", "data").set("content", M.createObjectNode().set("ats_dispatch", rec)));
    }
    call(() -> {
      client.addMessage(id, parts);
      return null;
    });
  }

  @Override
  public List<JsonNode> comments(TaskKey key) {
    long id = idOf(key);
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode m : call(() -> client.messages(id))) {
      StringBuilder text = new StringBuilder();
      for (JsonNode part : m.path("parts")) {
        if (part.path("type").asText("text").equals("text") && part.path("content").isTextual()) {
          if (text.length() > 0) text.append('\n');
          text.append(part.path("content").asText());
        }
      }
      if (text.length() == 0) continue; // a record of the service's, data only
      ObjectNode c = M.createObjectNode();
      c.put("author", m.path("actor_name").asText(m.path("actor_id").asText("")));
      c.put("author_type", m.path("actor_type").asText(""));
      c.set("created_at", m.path("created_at"));
      c.put("text", text.toString());
      out.add(c);
    }
    return out;
  }

  /**
   * The question as a message: the text for people with a data part {@code {"ats_dispatch":
   * {"question": N}}} that marks where the answers start; an encrypted task's question goes only
   * sealed, as the data part {@code {"encrypted_question": {...}}} beside the marker.
   */
  @Override
  public void asked(TaskKey key, int number, String text, JsonNode sealed) {
    long id = idOf(key);
    List<JsonNode> parts = new ArrayList<>();
    parts.add(M.createObjectNode().put("type", "text").put("content", text != null
        ? "Question " + number + " from the agent:\n\n" + text + "\n\nReply on this thread to answer; the task resumes with your reply."
        : "The agent asked question " + number + " (encrypted task: sealed to its sender below). "
            + "Reply on this thread to answer; the task resumes with your reply."));
    ObjectNode rec = M.createObjectNode();
    rec.putObject("ats_dispatch").put("question", number);
    if (sealed != null) rec.set("encrypted_question", sealed);
    parts.add(M.createObjectNode().put("type", "data").set("content", rec));
    call(() -> {
      client.addMessage(id, parts);
      return null;
    });
  }

  /** The texts written after the message that carries question {@code number}'s marker, by any actor but this one. */
  @Override
  public List<String> replies(TaskKey key, int number, Instant since) {
    long id = idOf(key);
    List<JsonNode> messages = call(() -> client.messages(id));
    int from = -1;
    for (int i = 0; i < messages.size(); i++) {
      for (JsonNode part : messages.get(i).path("parts")) {
        JsonNode rec = record(part);
        if (rec != null && rec.path("question").asInt(0) == number) from = i + 1;
      }
    }
    List<String> out = new ArrayList<>();
    for (int i = Math.max(0, from); i < messages.size(); i++) {
      JsonNode m = messages.get(i);
      if (from < 0 && since != null && !after(m.path("created_at").asText(null), since)) continue;
      if (settings.actorId().equals(m.path("actor_id").asText(null))) continue; // this service's own
      StringBuilder text = new StringBuilder();
      for (JsonNode part : m.path("parts")) {
        if (part.path("type").asText("text").equals("text") && part.path("content").isTextual()) {
          if (text.length() > 0) text.append('\n');
          text.append(part.path("content").asText());
        }
      }
      if (!text.toString().isBlank()) out.add(text.toString());
    }
    return out;
  }

  @Override
  public boolean unpark(TaskKey key, String reason) {
    long id = idOf(key);
    call(() -> {
      client.reopen(id, reason);
      return null;
    });
    return true;
  }

  @Override
  public void attach(TaskKey key, JsonNode content) {
    long id = idOf(key);
    List<JsonNode> parts = List.of(M.createObjectNode().put("type", "data").set("content", content));
    call(() -> {
      client.addMessage(id, parts);
      return null;
    });
  }

  @Override
  public void health() {
    call(() -> {
      client.health();
      return null;
    });
  }

  @Override
  public void close() {
    EventWatcher w = watcher;
    if (w != null) w.close();
    watcherTimer.shutdownNow();
    client.close();
  }

  @Override
  public void reopen(TaskKey key, String reason) {
    long id = idOf(key);
    call(() -> {
      client.reopen(id, reason);
      return null;
    });
  }

  @Override
  public boolean canReopen() {
    return true;
  }

  private TaskKey key(long id) {
    return TaskKey.of(name, id);
  }

  private long idOf(TaskKey key) {
    long id = key.numericId();
    if (!key.source().equals(name) || id < 0) {
      throw new SourceException(SourceException.Kind.REFUSED, "not a task of source " + name + ": " + key);
    }
    return id;
  }

  private SourceTask toSource(Task t) {
    return new SourceTask(key(t.id()), t.status(), t.priority(), t.createdAt(), t.title(),
        t.description(), t.payload() instanceof ObjectNode o ? o : null, t.light(), null);
  }

  /** Runs an ATS call, typing its failure for the engine. */
  static <T> T call(Supplier<T> c) {
    try {
      return c.get();
    } catch (AtsException e) {
      SourceException.Kind k = switch (e.kind()) {
        case NOT_FOUND -> SourceException.Kind.NOT_FOUND;
        case CONFLICT, FORBIDDEN -> SourceException.Kind.CONFLICT;
        case BAD_REQUEST -> SourceException.Kind.REFUSED;
        case UNAVAILABLE -> SourceException.Kind.UNAVAILABLE;
      };
      throw new SourceException(k, e.getMessage(), e);
    } catch (SourceException e) {
      throw e;
    } catch (RuntimeException e) {
      // e.g. an argument the process API refuses (a NUL): the request can never be sent
      throw new SourceException(SourceException.Kind.REFUSED, e.toString(), e);
    }
  }

  /** A claim on an ATS task: renewal is a re-claim by the same actor. */
  private final class AtsLease implements Lease {
    private final TaskKey key;
    private final SourceTask task;
    private final long id;
    private volatile Instant expires;

    AtsLease(TaskKey key, SourceTask task, Instant expires) {
      this.key = key;
      this.task = task;
      this.id = idOf(key);
      this.expires = expires;
    }

    @Override
    public TaskKey key() {
      return key;
    }

    @Override
    public SourceTask task() {
      return task;
    }

    @Override
    public Instant expiresAt() {
      return expires;
    }

    @Override
    public void renew(Duration lease) {
      if (client.claimReadsTask()) {
        Task t = call(() -> client.claim(id, lease));
        expires = t.leaseExpires();
        return;
      }
      Instant sent = clock.now(); // the server's expiry is later than this: the claim left after it
      call(() -> {
        client.claimOnly(id, lease);
        return null;
      });
      expires = sent.plus(lease);
    }

    @Override
    public void complete(List<JsonNode> outputs) {
      call(() -> {
        client.complete(id, outputs);
        return null;
      });
    }

    @Override
    public void fail(String reason) {
      call(() -> {
        client.fail(id, reason);
        return null;
      });
    }

    @Override
    public void release(Duration delay) {
      call(() -> {
        client.release(id);
        return null;
      });
    }

    /** Failed with the question's reason: no worker takes it; its answer reopens it ({@link #unpark}). */
    @Override
    public void park(String reason, Duration recheck) {
      fail(reason);
    }
  }
}
