package dev.atsdispatch.source.board;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
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
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local board as a task source: artificer-dispatcher's JSON board file, its format unchanged.
 * Cards in the route's queue are offered; a claim is an atomic move to the in-progress queue under
 * the file's lock, with a lease recorded on the card ({@code "ats_dispatch": {"owner",
 * "lease_expires"}}), so two services on one board never take one card, and a card left in
 * progress by a service that died comes back to its queue once its lease has run out. Results
 * follow artificer's documented rules: a card whose agent succeeded without moving it goes to the
 * done queue with the response as a comment; a failure is retried through the source queue up to
 * {@code max_retries} ("Retry n/N: ..."), then goes to the dead-letter queue or stays where it is,
 * each with artificer's comment. A malformed file is never written: the source reports it (not
 * ready, every call refused with the problem) until the file is fixed.
 *
 * <p>Threads: one scheduled thread ({@code board-scan}) scans after a change the watcher saw, every
 * {@code poll_interval}, and takes back expired leases; one watcher thread ({@code board-watch}).
 * Calls come from the engine's threads; each change is one locked read-modify-write of the file.
 */
public final class BoardSource implements TaskSource {
  private static final Logger log = LoggerFactory.getLogger(BoardSource.class);
  private static final ObjectMapper M = new ObjectMapper();
  static final String MARK = "ats_dispatch";

  private final String name;
  private final BoardSettings settings;
  private final Clock clock;
  private final String owner;
  private final BoardFile file;
  private final ScheduledExecutorService scans = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "board-scan");
    t.setDaemon(true);
    return t;
  });
  private volatile Consumer<SourceEvent> sink;
  private volatile String problem = "not read yet";
  private volatile WatchService watcher;
  private volatile boolean closed;
  /** A scan asked for by the watcher and not begun yet: a burst of changes makes one scan. */
  private final java.util.concurrent.atomic.AtomicBoolean scanAsked = new java.util.concurrent.atomic.AtomicBoolean();

  /** {@code owner}: who this service is on the cards it holds (stable across its restarts). */
  public BoardSource(String name, BoardSettings settings, Clock clock, String owner) {
    this.name = name;
    this.settings = settings;
    this.clock = clock;
    this.owner = owner;
    this.file = new BoardFile(settings.file(), Duration.ofSeconds(10));
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Capabilities capabilities() {
    return new Capabilities(true, false, false, false, false, true, true);
  }

  @Override
  public String describe() {
    return "board " + file.path() + ", queue \"" + settings.queue() + "\"";
  }

  // ---- offers --------------------------------------------------------------------------------

  @Override
  public void start(Consumer<SourceEvent> sink) {
    this.sink = sink;
    try {
      watcher = FileSystems.getDefault().newWatchService();
      file.path().getParent().register(watcher, StandardWatchEventKinds.ENTRY_CREATE,
          StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
      Thread w = new Thread(this::watch, "board-watch");
      w.setDaemon(true);
      w.start();
    } catch (IOException e) {
      log.warn("board {}: not watched ({}); read every {} s", file.path(), e.getMessage(), settings.pollInterval().toSeconds());
    }
    scans.scheduleWithFixedDelay(this::scan, 0, settings.pollInterval().toMillis(), TimeUnit.MILLISECONDS);
  }

  private void watch() {
    String me = file.path().getFileName().toString();
    while (!closed) {
      WatchKey k;
      try {
        k = watcher.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      boolean ours = false;
      for (var ev : k.pollEvents()) {
        Object ctx = ev.context();
        if (ctx == null || ctx.toString().equals(me) || ev.kind() == StandardWatchEventKinds.OVERFLOW) ours = true;
      }
      k.reset();
      if (ours && !closed && scanAsked.compareAndSet(false, true)) {
        try {
          scans.execute(() -> {
            scanAsked.set(false);
            scan();
          });
        } catch (java.util.concurrent.RejectedExecutionException e) {
          return;
        }
      }
    }
  }

  /** Offers every card of the queue; takes back cards whose lease ran out. */
  private void scan() {
    Consumer<SourceEvent> s = sink;
    if (s == null || closed) return;
    try {
      ObjectNode board = file.read();
      boolean wasDown = problem != null;
      problem = null;
      if (wasDown) {
        log.info("board {}: readable", file.path());
        s.accept(new SourceEvent.Connected());
      }
      if (hasExpired(board)) takeBackExpired();
      for (JsonNode card : BoardFile.queue(file.read(), settings.queue())) {
        s.accept(new SourceEvent.Offered(offer((ObjectNode) card, true), SourceEvent.Why.CREATED));
      }
    } catch (IOException e) {
      if (!e.getMessage().equals(problem)) log.error("board {}: {}; nothing is taken from it until it is fixed", file.path(), e.getMessage());
      problem = e.getMessage();
    } catch (RuntimeException e) {
      log.error("board {}: scan failed", file.path(), e);
    }
  }

  private boolean hasExpired(ObjectNode board) {
    for (JsonNode card : BoardFile.queue(board, settings.inProgressQueue())) {
      if (expired(card)) return true;
    }
    return false;
  }

  /** A card this route claimed (its mark names this route's queue) whose lease ran out. */
  private boolean expired(JsonNode card) {
    JsonNode m = card.path(MARK);
    if (!m.hasNonNull("lease_expires")) return false;
    if (m.hasNonNull("queue") && !m.get("queue").asText().equals(settings.queue())) return false; // another route's
    try {
      return Instant.parse(m.get("lease_expires").asText()).isBefore(clock.now());
    } catch (RuntimeException e) {
      return false;
    }
  }

  private void takeBackExpired() throws IOException {
    List<String> back = file.update(board -> {
      List<String> ids = new ArrayList<>();
      for (JsonNode card : List.copyOf(toList(BoardFile.queue(board, settings.inProgressQueue())))) {
        if (!expired(card)) continue;
        String id = card.path("id").asText();
        BoardFile.Place p = BoardFile.find(board, id);
        String was = card.path(MARK).path("owner").asText("?");
        ((ObjectNode) card).remove(MARK);
        comment((ObjectNode) card, "The lease of " + was + " ran out (its service stopped answering). Moving back to "
            + settings.queue() + ".");
        BoardFile.move(board, p, settings.queue());
        ids.add(id);
      }
      return ids;
    });
    for (String id : back) log.info("board card {}: its lease ran out; back in \"{}\"", id, settings.queue());
  }

  private static List<JsonNode> toList(ArrayNode a) {
    List<JsonNode> out = new ArrayList<>();
    a.forEach(out::add);
    return out;
  }

  private SourceTask offer(ObjectNode card, boolean light) {
    TaskKey key = new TaskKey(name, card.path("id").asText());
    ObjectNode payload = card.deepCopy();
    for (String f : List.of("id", "name", "description", MARK)) payload.remove(f);
    SourceTask t = new SourceTask(key, TaskStatus.PENDING, 0, null, card.path("name").asText(""),
        card.path("description").asText(null), payload, false, null);
    return light ? t.lighten() : t;
  }

  @Override
  public boolean connected() {
    return problem == null && !closed;
  }

  @Override
  public Iterator<List<SourceTask>> listPending(int pageSize) {
    return new Iterator<>() {
      boolean done;

      @Override
      public boolean hasNext() {
        return !done;
      }

      @Override
      public List<SourceTask> next() {
        done = true;
        List<SourceTask> out = new ArrayList<>();
        for (JsonNode card : BoardFile.queue(readOrThrow(), settings.queue())) out.add(offer((ObjectNode) card, true));
        return out;
      }
    };
  }

  private ObjectNode readOrThrow() {
    try {
      return file.read();
    } catch (IOException e) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, e.getMessage(), e);
    }
  }

  private <T> T change(BoardFile.Change<T> c) {
    try {
      return file.update(c);
    } catch (SourceException e) {
      throw e;
    } catch (IOException e) {
      throw new SourceException(SourceException.Kind.UNAVAILABLE, e.getMessage(), e);
    }
  }

  // ---- claims and results --------------------------------------------------------------------

  @Override
  public Lease claim(TaskKey key, Duration lease) {
    Instant expires = clock.now().plus(lease);
    ObjectNode card = change(board -> {
      BoardFile.Place p = BoardFile.find(board, key.id());
      if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
      if (!p.queue().equals(settings.queue())) {
        throw new SourceException(SourceException.Kind.CONFLICT, "Cannot claim card in \"" + p.queue() + "\"");
      }
      p.card().putObject(MARK).put("owner", owner).put("lease_expires", expires.toString()).put("queue", settings.queue());
      BoardFile.move(board, p, settings.inProgressQueue());
      return p.card().deepCopy();
    });
    return new CardLease(key, offer(card, false), expires);
  }

  @Override
  public Lease held(TaskKey key) {
    return new CardLease(key, null, clock.now());
  }

  @Override
  public TaskStatus status(TaskKey key) {
    BoardFile.Place p = BoardFile.find(readOrThrow(), key.id());
    if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
    if (p.queue().equals(settings.queue())) return TaskStatus.PENDING;
    if (p.queue().equals(settings.inProgressQueue())) return TaskStatus.IN_PROGRESS;
    if (p.queue().equals(settings.doneQueue())) return TaskStatus.COMPLETED;
    if (p.queue().equals(settings.deadLetterQueue())) return TaskStatus.FAILED;
    return TaskStatus.PENDING; // on another stage's queue: not done for this one
  }

  @Override
  public List<JsonNode> comments(TaskKey key) {
    BoardFile.Place p = BoardFile.find(readOrThrow(), key.id());
    if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode c : p.card().path("comments")) {
      if (c.isTextual()) out.add(M.createObjectNode().put("text", c.asText()));
      else if (c.isObject()) out.add(c);
    }
    return out;
  }

  /**
   * The question as a comment on the card (people read the board; the card goes back to its queue
   * and waits there): the text, or for an encrypted task only its number.
   */
  @Override
  public void asked(TaskKey key, int number, String text, JsonNode sealed) {
    comment(key, text != null ? "Question " + number + ": " + text + "\n\n(answer with ats-dispatch answer)"
        : "Question " + number + " (encrypted task: not shown; answer with ats-dispatch answer)");
  }

  @Override
  public void comment(TaskKey key, String text) {
    change(board -> {
      BoardFile.Place p = BoardFile.find(board, key.id());
      if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
      comment(p.card(), text);
      return null;
    });
  }

  @Override
  public void move(TaskKey key, String queue) {
    change(board -> {
      BoardFile.Place p = BoardFile.find(board, key.id());
      if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
      if (!owner.equals(p.card().path(MARK).path("owner").asText())) {
        throw new SourceException(SourceException.Kind.CONFLICT, "card " + key.id() + " is not held by this service");
      }
      if (!board.get("queues").has(queue)) {
        throw new SourceException(SourceException.Kind.REFUSED, "the board has no queue \"" + queue + "\"");
      }
      BoardFile.move(board, p, queue);
      return null;
    });
  }

  private static final java.util.Set<String> FIELDS = java.util.Set.of("name", "description", "labels", "assignees");

  @Override
  public void update(TaskKey key, ObjectNode fields) {
    for (var it = fields.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!FIELDS.contains(f)) {
        throw new SourceException(SourceException.Kind.REFUSED, "a card's " + f + " cannot be changed (only " + FIELDS + ")");
      }
    }
    change(board -> {
      BoardFile.Place p = BoardFile.find(board, key.id());
      if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
      p.card().setAll(fields.deepCopy());
      return null;
    });
  }

  /** Adds a comment as artificer's agents add them through its API: an object with the text. */
  private void comment(ObjectNode card, String text) {
    JsonNode c = card.get("comments");
    ArrayNode list = c != null && c.isArray() ? (ArrayNode) c : card.putArray("comments");
    list.add(M.createObjectNode().put("author", "ats-dispatch").put("text", text).put("created_at", clock.now().toString()));
  }

  @Override
  public void health() {
    if (problem != null && !problem.equals("not read yet")) throw new SourceException(SourceException.Kind.UNAVAILABLE, problem);
    readOrThrow();
  }

  @Override
  public void close() {
    closed = true;
    scans.shutdownNow();
    WatchService w = watcher;
    if (w != null) {
      try {
        w.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  /** A card held by this service: every call checks that it still is (on the in-progress queue, with our mark). */
  private final class CardLease implements Lease {
    private final TaskKey key;
    private final SourceTask task;
    private volatile Instant expires;

    CardLease(TaskKey key, SourceTask task, Instant expires) {
      this.key = key;
      this.task = task;
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

    /** The card while it is ours: on the in-progress queue (or moved on by its agent) with our mark. */
    private BoardFile.Place ours(ObjectNode board) {
      BoardFile.Place p = BoardFile.find(board, key.id());
      if (p == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "card " + key.id() + " is on no queue");
      if (!owner.equals(p.card().path(MARK).path("owner").asText())) {
        throw new SourceException(SourceException.Kind.CONFLICT, "card " + key.id() + " is no longer held by this service");
      }
      return p;
    }

    @Override
    public void renew(Duration lease) {
      Instant next = clock.now().plus(lease);
      change(board -> {
        ((ObjectNode) ours(board).card().get(MARK)).put("lease_expires", next.toString());
        return null;
      });
      expires = next;
    }

    @Override
    public void complete(List<JsonNode> outputs) {
      JsonNode out = outputs.isEmpty() ? M.createObjectNode() : outputs.get(0);
      String text = out.hasNonNull("response") ? out.get("response").asText() : out.toString();
      change(board -> {
        BoardFile.Place p = ours(board);
        p.card().remove(MARK);
        comment(p.card(), text);
        // an agent that moved its card itself decided where it goes
        if (p.queue().equals(settings.inProgressQueue())) BoardFile.move(board, p, settings.doneQueue());
        return null;
      });
    }

    @Override
    public void fail(String reason) {
      int max = settings.maxRetries();
      change(board -> {
        BoardFile.Place p = ours(board);
        ObjectNode card = p.card();
        card.remove(MARK);
        int tried = card.path("retry_count").asInt(0);
        if (tried < max) {
          card.put("retry_count", tried + 1);
          comment(card, "Retry " + (tried + 1) + "/" + max + ": " + reason + ". Moving back to source queue for retry.");
          BoardFile.move(board, p, settings.queue());
        } else if (settings.deadLetterQueue() != null) {
          comment(card, "Max retries (" + max + ") exhausted. Moving to dead-letter queue.");
          BoardFile.move(board, p, settings.deadLetterQueue());
        } else {
          comment(card, "Max retries (" + max + ") exhausted. No dead-letter queue configured; leaving in place.");
        }
        return null;
      });
    }

    @Override
    public void release(Duration delay) {
      change(board -> {
        BoardFile.Place p = ours(board);
        p.card().remove(MARK);
        if (p.queue().equals(settings.inProgressQueue())) BoardFile.move(board, p, settings.queue());
        return null;
      });
    }
  }
}
