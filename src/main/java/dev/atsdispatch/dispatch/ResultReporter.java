package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.Backoff;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import dev.atsdispatch.log.Scrubbed;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports results to the source through a durable outbox ({@code state/outbox/results}): a result
 * is written to disk before the first try and removed only once the source acknowledged it, so a
 * crash or an outage never loses one. Each entry has its own in-flight flag and backoff: at most
 * one delivery of an entry at a time, none after its acknowledgement, and one failing entry never
 * holds back the others. A result the source refuses for good is turned into a failure with a
 * clear reason; a failure refused for good (or a task finished or taken elsewhere) is dropped and
 * noted in the ledger. Deliveries run on the source-call pool; {@link #tick()} runs on a timer.
 */
final class ResultReporter {
  private static final Logger log = LoggerFactory.getLogger(ResultReporter.class);
  private static final ObjectMapper M = new ObjectMapper();

  private final class Pending {
    final TaskKey key;
    volatile Outbox.Entry entry;
    volatile Lease lease;
    final AtomicBoolean inFlight = new AtomicBoolean();
    final Backoff backoff = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60));
    volatile long nextTry;
    boolean fallback;

    Pending(TaskKey key, Outbox.Entry entry, Lease lease) {
      this.key = key;
      this.entry = entry;
      this.lease = lease;
      this.nextTry = clock.nanoTime();
    }
  }

  private final Outbox outbox;
  private final StateDir state;
  private final TaskSource source;
  private final Executor calls;
  private final Clock clock;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();

  ResultReporter(Outbox outbox, StateDir state, TaskSource source, Executor calls, Clock clock) {
    this.outbox = outbox;
    this.state = state;
    this.source = source;
    this.calls = calls;
    this.clock = clock;
  }

  /** Takes up what an earlier run left in the outbox (entries of the release before task keys too). */
  void load() {
    for (Outbox.Entry e : outbox.pending()) {
      TaskKey key = keyOf(e.body());
      if (key == null) {
        log.warn("outbox: {} names no task; left in place", e.file());
        continue;
      }
      pending.put(e.key(), new Pending(key, e, null));
    }
    if (!pending.isEmpty()) log.info("outbox: {} result(s) from before the restart to deliver", pending.size());
  }

  private TaskKey keyOf(JsonNode body) {
    try {
      if (body.hasNonNull("task")) return TaskKey.parse(body.get("task").asText());
      if (body.path("task_id").canConvertToLong()) return TaskKey.of(source.name(), body.get("task_id").asLong());
    } catch (IllegalArgumentException e) {
      return null;
    }
    return null;
  }

  /** Queues a completion ({@code outputs}) or a failure ({@code reason}) durably, then sends it. */
  void submit(TaskKey key, int attempt, ObjectNode outputs, String reason, Lease lease) {
    submit(key, attempt, outputs, reason, lease, null);
  }

  /**
   * As above, with a {@code threadNote} (a data part's content) posted on the task's thread before
   * the result, once: an encrypted task's sealed failure, which the sender reads when it sees the
   * task failed.
   */
  void submit(TaskKey key, int attempt, ObjectNode outputs, String reason, Lease lease, ObjectNode threadNote) {
    ObjectNode body = M.createObjectNode();
    body.put("task", key.toString());
    if (key.numericId() >= 0) body.put("task_id", key.numericId());
    body.put("attempt", attempt);
    if (outputs != null) {
      body.put("action", "complete");
      body.set("outputs", outputs);
    } else {
      body.put("action", "fail");
      body.put("reason", Reasons.clean(reason));
    }
    if (threadNote != null) body.set("thread_note", threadNote);
    String name = "task-" + key.source() + "-" + key.fileName() + "-attempt-" + attempt;
    Outbox.Entry entry = outbox.put(name, body);
    ObjectNode queued = M.createObjectNode().put("attempt", attempt).put("action", body.path("action").asText());
    if (body.has("reason")) queued.put("reason", body.get("reason").asText()); // already free of encrypted content
    state.ledger(key).append("result_queued", queued, clock.now());
    Pending p = new Pending(key, entry, lease);
    pending.put(name, p);
    send(p);
  }

  boolean holds(TaskKey key) {
    for (Pending p : pending.values()) {
      if (p.key.equals(key)) return true;
    }
    return false;
  }

  int depth() {
    return pending.size();
  }

  /** Sends every entry that is due and not in flight. */
  void tick() {
    long now = clock.nanoTime();
    for (Pending p : pending.values()) {
      if (now - p.nextTry >= 0 && !p.inFlight.get()) send(p);
    }
  }

  /** Tries every entry once more on the calling thread (shutdown), within {@code limit}. */
  void flush(Duration limit) {
    long end = clock.nanoTime() + limit.toNanos();
    for (Pending p : List.copyOf(pending.values())) {
      if (clock.nanoTime() - end >= 0) return;
      if (p.inFlight.compareAndSet(false, true)) deliver(p);
    }
  }

  private void send(Pending p) {
    if (!p.inFlight.compareAndSet(false, true)) return;
    try {
      calls.execute(() -> deliver(p));
    } catch (RejectedExecutionException e) {
      p.inFlight.set(false);
    }
  }

  /**
   * One delivery; the caller set the in-flight flag, which this clears. An entry no longer
   * pending (acknowledged or dropped by a delivery that ended after the caller looked) is not
   * sent again. Only the source call decides the entry's fate: bookkeeping after an
   * acknowledgement that fails is logged, never taken for a refusal.
   */
  private void deliver(Pending p) {
    try {
      if (pending.get(p.entry.key()) != p) return;
      Outbox.Entry e = p.entry;
      JsonNode body = e.body();
      boolean complete = body.path("action").asText().equals("complete");
      int attempt = body.path("attempt").asInt();
      try {
        if (body.has("thread_note") && !body.path("thread_note_done").asBoolean()) {
          body = note(p, body);
        }
        Lease l = p.lease != null ? p.lease : source.held(p.key);
        if (complete) l.complete(List.of(body.path("outputs")));
        else l.fail(body.path("reason").asText());
      } catch (SourceException x) {
        switch (x.kind()) {
          case UNAVAILABLE -> {
            Duration wait = p.backoff.next();
            p.nextTry = clock.nanoTime() + wait.toNanos();
            log.warn("task {}: result not delivered ({}); kept in the outbox, next try in {} ms", p.key,
                x.getMessage(), wait.toMillis());
          }
          case REFUSED -> refused(p, complete, x.getMessage());
          case CONFLICT, NOT_FOUND -> {
            log.warn("task {}: the source no longer takes a result for it ({}); dropping it", p.key, x.getMessage());
            finish(p, "report_refused", M.createObjectNode().put("error", Reasons.clean(x.getMessage())));
          }
        }
        return;
      } catch (RuntimeException x) {
        log.error("task {}: delivering the result failed", p.key, Scrubbed.of(x));
        refused(p, complete, x.toString());
        return;
      }
      finish(p, "reported", M.createObjectNode().put("attempt", attempt));
    } finally {
      p.inFlight.set(false);
    }
  }

  /**
   * Posts the entry's thread note and records that it was (so a retry of the result does not post
   * it twice); a note the source refuses is dropped and the result goes on without it. An outage
   * is thrown, so the entry waits its backoff like a result.
   */
  private JsonNode note(Pending p, JsonNode body) {
    try {
      source.attach(p.key, body.get("thread_note"));
    } catch (SourceException x) {
      if (x.kind() == SourceException.Kind.UNAVAILABLE) throw x;
      log.warn("task {}: the note for its thread was refused ({}); reporting without it", p.key, x.getMessage());
    }
    ObjectNode done = body.deepCopy();
    done.put("thread_note_done", true);
    p.entry = outbox.put(p.entry.key(), done);
    return done;
  }

  /** The source will never take this: a result becomes a failure that says why; a failure is cut short once. */
  private void refused(Pending p, boolean complete, String why) {
    if (p.fallback) {
      log.error("task {}: the source refused the result and the failure that replaced it ({}); dropping it", p.key, why);
      finish(p, "report_refused", M.createObjectNode().put("error", Reasons.clean(why)));
      return;
    }
    p.fallback = true;
    String reason = complete
        ? "The agent finished, but its result could not be delivered: " + why
        : "Failed; the full reason could not be delivered: " + why;
    ObjectNode body = p.entry.body().deepCopy();
    body.remove("outputs");
    body.put("action", "fail");
    body.put("reason", Reasons.clean(Reasons.cap(reason, 1000)));
    log.warn("task {}: the source refused the {} ({}); reporting a failure instead", p.key,
        complete ? "result" : "failure reason", why);
    p.entry = outbox.put(p.entry.key(), body);
    p.nextTry = clock.nanoTime();
  }

  /**
   * The entry is done with: off the pending map first (so that no walk sends it again, whatever
   * fails below), then off the disk, then noted in the ledger.
   */
  private void finish(Pending p, String event, ObjectNode fields) {
    pending.remove(p.entry.key(), p);
    try {
      outbox.remove(p.entry);
    } catch (RuntimeException e) {
      log.error("task {}: cannot remove its outbox entry {} ({}); a restart sends it again", p.key,
          p.entry.file(), e.toString());
    }
    try {
      state.ledger(p.key).append(event, fields, clock.now());
    } catch (RuntimeException e) {
      log.error("task {}: cannot record {} in the ledger", p.key, event, e);
    }
  }
}
