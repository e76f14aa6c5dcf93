package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.Capabilities;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.time.Clock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The result reporter against a scripted source (defect 5): at most one delivery of an entry in
 * flight and none after its acknowledgement, no head-of-line blocking, a permanent refusal turned
 * into a failure that says why, drops for finished or foreign tasks, and the outbox of the release
 * before task keys. Time is a {@link FakeClock}; deliveries run on the calling thread unless a test
 * needs a real pool.
 */
@Timeout(60)
final class ResultReporterTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Executor DIRECT = Runnable::run;

  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  final ScriptedSource source = new ScriptedSource();
  final List<ExecutorService> pools = new ArrayList<>();
  StateDir state;
  Outbox outbox;
  Path outboxDir;

  @BeforeEach
  void setUp() {
    state = new StateDir(dir.resolve("state"));
    outbox = state.outbox("results");
    outboxDir = dir.resolve("state/outbox/results");
  }

  @AfterEach
  void tearDown() {
    pools.forEach(ExecutorService::shutdownNow);
  }

  ResultReporter reporter(Executor calls) {
    return reporter(calls, clock);
  }

  ResultReporter reporter(Executor calls, Clock c) {
    return new ResultReporter(outbox, state, source, calls, c);
  }

  ExecutorService pool(int threads) {
    ExecutorService p = Executors.newFixedThreadPool(threads);
    pools.add(p);
    return p;
  }

  static TaskKey key(long id) {
    return TaskKey.of("ats", id);
  }

  static ObjectNode outputs(String response) {
    return M.createObjectNode().put("response", response).put("exit_code", 0);
  }

  List<String> events(TaskKey k) {
    return state.ledger(k).events().stream().map(e -> e.path("event").asText()).toList();
  }

  List<JsonNode> events(TaskKey k, String event) {
    return state.ledger(k).events().stream().filter(e -> e.path("event").asText().equals(event)).toList();
  }

  List<String> outboxFiles() throws Exception {
    if (!Files.isDirectory(outboxDir)) return List.of();
    try (var s = Files.list(outboxDir)) {
      return s.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  static void await(String what, BooleanSupplier cond) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(5);
    }
  }

  /** Waits until every task handed to {@code pool} so far has run (it runs tasks in order). */
  static void drain(ExecutorService singleThread) throws Exception {
    singleThread.submit(() -> { }).get(20, TimeUnit.SECONDS);
  }

  // ---- at most one delivery in flight, none after the acknowledgement -----------------------

  @Test
  void ticksDuringADeliveryAndAfterItsAcknowledgementSendNothingMore() throws Exception {
    ExecutorService calls = pool(4);
    ResultReporter r = reporter(calls);
    ScriptedLease lease = source.lease(key(1));
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    lease.answer = (action, arg) -> {
      entered.countDown();
      awaitLatch(release);
    };
    r.submit(key(1), 1, outputs("done"), null, lease);
    assertTrue(entered.await(20, TimeUnit.SECONDS), "the first delivery started");

    // while it hangs in the source: ticks from several threads, far past any backoff, and a flush
    ExecutorService tickers = pool(4);
    List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      fs.add(tickers.submit(() -> {
        for (int j = 0; j < 500; j++) {
          r.tick();
          clock.advance(Duration.ofMinutes(10));
        }
      }));
    }
    for (var f : fs) f.get(20, TimeUnit.SECONDS);
    r.flush(Duration.ofSeconds(1));
    assertEquals(1, lease.calls.size(), "one delivery in flight at most: " + lease.calls);

    release.countDown();
    await("the acknowledgement", () -> r.depth() == 0);
    for (int j = 0; j < 200; j++) {
      r.tick();
      clock.advance(Duration.ofMinutes(10));
    }
    r.flush(Duration.ofSeconds(1));
    calls.shutdown();
    assertTrue(calls.awaitTermination(20, TimeUnit.SECONDS)); // every delivery handed to the pool has run

    assertEquals(1, lease.calls.size(), "delivered once: " + lease.calls);
    assertEquals(1, lease.maxInFlight.get());
    assertEquals(0, lease.callsAfterAck.get());
    assertEquals(List.of(), outboxFiles());
    assertEquals(1, events(key(1), "reported").size());
  }

  /**
   * The race of the old engine: a walk over the pending entries (here the shutdown flush) reaches
   * an entry just after another thread delivered it and took it off the outbox. It must not be
   * sent again.
   */
  @Test
  void anEntryAcknowledgedWhileFlushWalksItsListIsNotSentAgain() throws Exception {
    ExecutorService calls = pool(1);
    HookClock hooked = new HookClock(clock);
    ResultReporter r = reporter(calls, hooked);
    ScriptedLease lease = source.lease(key(1));
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    lease.answer = (action, arg) -> {
      if (lease.calls.size() == 1) {
        entered.countDown();
        awaitLatch(release);
      }
    };
    r.submit(key(1), 1, outputs("done"), null, lease);
    assertTrue(entered.await(20, TimeUnit.SECONDS));

    // flush reads the clock once for its limit, then once per entry of the list it took: at that
    // second read, let the delivery in flight finish (acknowledged, file removed, flag cleared)
    Thread flusher = Thread.currentThread();
    AtomicInteger reads = new AtomicInteger();
    hooked.hook = () -> {
      if (Thread.currentThread() != flusher || reads.incrementAndGet() != 2) return;
      release.countDown();
      try {
        drain(calls);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      assertEquals(0, r.depth(), "acknowledged before flush reaches the entry");
    };
    r.flush(Duration.ofSeconds(5));
    hooked.hook = null;
    drain(calls);

    assertEquals(2, reads.get(), "flush walked its list");
    assertEquals(1, lease.calls.size(), "sent again after its acknowledgement: " + lease.calls);
    assertEquals(0, lease.callsAfterAck.get());
    assertEquals(1, events(key(1), "reported").size());
  }

  /**
   * An acknowledged result is not sent again even when its outbox file cannot be removed (here
   * a non-empty directory took the file's place): the acknowledgement stands, it is not turned
   * into a failure, and no tick sends it again.
   */
  @Test
  void anAcknowledgedResultWhoseFileCannotBeRemovedIsNotSentAgain() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(1));
    Path file = outboxDir.resolve("task-ats-1-attempt-1.json");
    lease.answer = (action, arg) -> {
      try {
        Files.delete(file);
        Files.createDirectories(file.resolve("blocker"));
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
    };
    r.submit(key(1), 1, outputs("done"), null, lease);
    for (int i = 0; i < 5; i++) {
      clock.advance(Duration.ofMinutes(5));
      r.tick();
    }
    r.flush(Duration.ofSeconds(1));
    assertEquals(List.of("complete"), lease.actions(), "sent again after its acknowledgement");
    assertEquals(0, r.depth());
    assertEquals(1, events(key(1), "reported").size());
  }

  /** Many entries, deliveries on a pool, ticks from several threads, some first tries failing. */
  @Test
  void concurrentSubmitsAndTicksDeliverEveryEntryExactlyOnce() throws Exception {
    ExecutorService calls = pool(4);
    ResultReporter r = reporter(calls);
    int n = 200;
    List<ScriptedLease> leases = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      ScriptedLease l = source.lease(key(i));
      if (i % 3 == 0) l.answer = sequence(unavailable(), ok());
      leases.add(l);
    }
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService tickers = pool(3);
    for (int t = 0; t < 3; t++) {
      tickers.execute(() -> {
        int i = 0;
        while (!stop.get()) {
          r.tick();
          if (++i % 50 == 0) clock.advance(Duration.ofSeconds(2));
        }
      });
    }
    for (int i = 1; i <= n; i++) r.submit(key(i), 1, outputs("r" + i), null, leases.get(i - 1));
    await("every result delivered", () -> r.depth() == 0);
    stop.set(true);
    tickers.shutdown();
    assertTrue(tickers.awaitTermination(20, TimeUnit.SECONDS));
    calls.shutdown();
    assertTrue(calls.awaitTermination(20, TimeUnit.SECONDS));

    List<String> wrong = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      ScriptedLease l = leases.get(i - 1);
      int reported = events(key(i), "reported").size();
      if (l.calls.size() != (i % 3 == 0 ? 2 : 1) || l.maxInFlight.get() != 1 || l.callsAfterAck.get() != 0
          || reported != 1) {
        wrong.add("task " + i + ": " + l.calls.size() + " calls, " + l.maxInFlight.get() + " at once at most, "
            + l.callsAfterAck.get() + " after the acknowledgement, " + reported + " reported records");
      }
    }
    assertEquals(List.of(), wrong, wrong.size() + " of " + n + " entries delivered wrongly");
    assertEquals(List.of(), outboxFiles());
  }

  // ---- no head-of-line blocking ---------------------------------------------------------------

  @Test
  void anEntryBackingOffDoesNotHoldBackADeliverableOne() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease a = source.lease(key(1)); // sorts first in the outbox
    a.answer = unavailable();
    r.submit(key(1), 1, outputs("a"), null, a);
    for (int i = 0; i < 8; i++) { // a long outage for a: its backoff reaches the 60 s cap
      clock.advance(Duration.ofSeconds(61));
      r.tick();
    }
    assertEquals(9, a.calls.size());

    ScriptedLease b = source.lease(key(2));
    b.answer = sequence(unavailable(), ok()); // b fails once: its first backoff is at most 1 s
    r.submit(key(2), 1, outputs("b"), null, b);
    assertEquals(1, b.calls.size());
    clock.advance(Duration.ofSeconds(1));
    r.tick();
    assertEquals(2, b.calls.size(), "b is retried on its own backoff");
    assertEquals(0, b.callsAfterAck.get());
    assertEquals(1, events(key(2), "reported").size(), "b delivered while a still backs off");
    assertEquals(List.of(), events(key(1), "reported"));
    assertEquals(9, a.calls.size(), "a is not retried before its own backoff ends (at least 30 s)");
    assertEquals(List.of("task-ats-1-attempt-1.json"), outboxFiles());

    a.answer = ok(); // the outage of a ends
    clock.advance(Duration.ofSeconds(61));
    r.tick();
    assertEquals(0, r.depth());
    assertEquals(1, events(key(1), "reported").size());
    assertEquals(10, a.calls.size());
    assertEquals(List.of(), outboxFiles());
  }

  // ---- thread notes (an encrypted task's sealed failure) ------------------------------------

  @Test
  void aThreadNoteIsPostedOnceBeforeTheFailureHoweverOftenTheFailureIsTried() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(1));
    lease.answer = (action, arg) -> {
      source.order.add(action);
      if (lease.calls.size() == 1) throw new SourceException(SourceException.Kind.UNAVAILABLE, "connection refused");
    };
    ObjectNode note = M.createObjectNode();
    note.putObject("encrypted_failure").put("attempt", 1).put("nonce", "n").put("ciphertext", "c");
    r.submit(key(1), 1, null, "Agent exited with code 3", lease, note);
    assertEquals(List.of(note), source.attached);
    clock.advance(Duration.ofSeconds(2));
    r.tick();
    assertEquals(0, r.depth(), "delivered");
    assertEquals(List.of("attach", "fail", "fail"), source.order, "the note once, first");
    assertEquals(List.of(note), source.attached);
  }

  @Test
  void aRestartAfterTheNoteWasPostedDoesNotPostItAgain() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(1));
    lease.answer = unavailable();
    ObjectNode note = M.createObjectNode().put("n", 1);
    r.submit(key(1), 1, null, "failed", lease, note);
    assertEquals(1, source.attached.size());

    ResultReporter after = reporter(DIRECT); // the service restarted: the entry is read from disk
    lease.answer = ok();
    after.load();
    after.tick();
    assertEquals(0, after.depth());
    assertEquals(1, source.attached.size(), "posted before the restart, not again");
  }

  @Test
  void aNoteTheSourceCannotTakeYetWaitsWithTheFailureAndARefusedOneIsLeftOut() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(1));
    source.attachAnswer = sequence(unavailable(), refused("messages are closed"));
    r.submit(key(1), 1, null, "failed", lease, M.createObjectNode().put("n", 1));
    assertEquals(List.of(), lease.actions(), "the failure waits for its note");
    clock.advance(Duration.ofSeconds(2));
    r.tick();
    assertEquals(List.of("fail"), lease.actions(), "a refused note does not hold the failure back");
    assertEquals(0, r.depth());
    assertEquals(List.of("attach", "attach"), source.order);
  }

  // ---- permanent refusals -------------------------------------------------------------------

  @Test
  void aCompletionRefusedForGoodBecomesAFailureThatSaysWhy() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(7));
    lease.answer = (action, arg) -> {
      if (action.equals("complete")) {
        throw new SourceException(SourceException.Kind.REFUSED, "argument contains NUL (\0) at byte 12");
      }
    };
    r.submit(key(7), 2, outputs("has a \0 inside"), null, lease);
    assertEquals(List.of("complete"), lease.actions());
    JsonNode queued = M.readTree(Files.readAllBytes(outboxDir.resolve("task-ats-7-attempt-2.json")));
    assertEquals("fail", queued.path("action").asText(), "the failure replaced the result on disk: " + queued);

    r.tick(); // sent on the next tick, no backoff
    assertEquals(List.of("complete", "fail"), lease.actions());
    String reason = (String) lease.calls.get(1).arg();
    assertTrue(reason.startsWith("The agent finished, but its result could not be delivered: "), reason);
    assertTrue(reason.contains("argument contains NUL"), reason);
    assertFalse(reason.contains("\0"), "the reason is cleaned of NUL: " + reason);
    assertTrue(reason.contains("\uFFFD"), reason);
    assertEquals(0, r.depth());
    assertEquals(List.of(), outboxFiles());
    assertEquals(2, events(key(7), "reported").get(0).path("attempt").asInt());
    assertTrue(events(key(7), "report_refused").isEmpty());
  }

  @Test
  void aReasonWithANulIsCleanedBeforeItIsSent() {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(8));
    r.submit(key(8), 1, null, "Agent exited with code 3: bad\0byte", lease);
    assertEquals(List.of("fail"), lease.actions());
    assertEquals("Agent exited with code 3: bad\uFFFDbyte", lease.calls.get(0).arg());
  }

  @Test
  void aFailureRefusedAgainIsDroppedAndRecorded() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(9));
    lease.answer = refused("reason rejected");
    r.submit(key(9), 1, null, "Agent exited with code 1: boom", lease);
    r.tick(); // the shorter failure that replaced it
    assertEquals(List.of("fail", "fail"), lease.actions());
    assertEquals("Agent exited with code 1: boom", lease.calls.get(0).arg());
    assertEquals("Failed; the full reason could not be delivered: reason rejected", lease.calls.get(1).arg());
    assertEquals(0, r.depth(), "dropped");
    assertEquals(List.of(), outboxFiles());
    List<JsonNode> refused = events(key(9), "report_refused");
    assertEquals(1, refused.size(), events(key(9)).toString());
    assertEquals("reason rejected", refused.get(0).path("error").asText());
    assertTrue(state.ledger(key(9)).summary().reported());
    for (int i = 0; i < 5; i++) {
      clock.advance(Duration.ofMinutes(5));
      r.tick();
    }
    assertEquals(2, lease.calls.size(), "never retried once dropped");
  }

  @Test
  void aCompletionWhoseFailureIsRefusedTooIsDropped() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease lease = source.lease(key(10));
    lease.answer = refused("forbidden");
    r.submit(key(10), 1, outputs("x"), null, lease);
    r.tick();
    assertEquals(List.of("complete", "fail"), lease.actions());
    assertEquals(0, r.depth());
    assertEquals(1, events(key(10), "report_refused").size());
  }

  @Test
  void conflictOrNotFoundDropsTheEntryWithoutAFallback() throws Exception {
    ResultReporter r = reporter(DIRECT);
    ScriptedLease done = source.lease(key(11));
    done.answer = fails(SourceException.Kind.CONFLICT, "Cannot complete task in completed status");
    ScriptedLease gone = source.lease(key(12));
    gone.answer = fails(SourceException.Kind.NOT_FOUND, "Task not found");
    r.submit(key(11), 1, outputs("x"), null, done);
    r.submit(key(12), 1, null, "why", gone);
    for (int i = 0; i < 3; i++) {
      clock.advance(Duration.ofMinutes(5));
      r.tick();
    }
    assertEquals(List.of("complete"), done.actions());
    assertEquals(List.of("fail"), gone.actions());
    assertEquals(0, r.depth());
    assertEquals(List.of(), outboxFiles());
    assertEquals("Cannot complete task in completed status",
        events(key(11), "report_refused").get(0).path("error").asText());
    assertEquals("Task not found", events(key(12), "report_refused").get(0).path("error").asText());
  }

  // ---- the outbox across a restart and an upgrade ----------------------------------------------

  @Test
  void entriesOfThePreviousReleaseAreLoadedAndDeliveredByTaskKey() throws Exception {
    Files.createDirectories(outboxDir);
    Files.writeString(outboxDir.resolve("task-17-attempt-2.json"),
        "{\"task_id\":17,\"attempt\":2,\"action\":\"complete\",\"outputs\":{\"response\":\"done\",\"exit_code\":0}}");
    Files.writeString(outboxDir.resolve("task-18-attempt-1.json"),
        "{\"task_id\":18,\"attempt\":1,\"action\":\"fail\",\"reason\":\"Agent exited with code 3: boom\"}");
    ResultReporter r = reporter(DIRECT);
    r.load();
    assertEquals(2, r.depth());
    assertTrue(r.holds(key(17)) && r.holds(key(18)));
    r.tick();
    assertEquals(List.of(key(17), key(18)), source.heldKeys.stream().sorted().toList());
    ScriptedLease l17 = source.lease(key(17));
    assertEquals(List.of("complete"), l17.actions());
    @SuppressWarnings("unchecked")
    List<JsonNode> out = (List<JsonNode>) l17.calls.get(0).arg();
    assertEquals(M.readTree("[{\"response\":\"done\",\"exit_code\":0}]"), M.valueToTree(out));
    assertEquals(List.of("fail"), source.lease(key(18)).actions());
    assertEquals("Agent exited with code 3: boom", source.lease(key(18)).calls.get(0).arg());
    assertEquals(0, r.depth());
    assertEquals(List.of(), outboxFiles());
    assertEquals(2, events(key(17), "reported").get(0).path("attempt").asInt());
    assertTrue(Files.exists(dir.resolve("state/tasks/ats/17/events.jsonl")));
    assertEquals(1, events(key(18), "reported").size());
  }

  @Test
  void anUnparsableOutboxFileDoesNotStopTheRest() throws Exception {
    Files.createDirectories(outboxDir);
    Files.writeString(outboxDir.resolve("task-1-attempt-1.json"), "{\"task_id\":1,\"attempt\":"); // torn
    Files.writeString(outboxDir.resolve("task-2-attempt-1.json"),
        "{\"task_id\":2,\"attempt\":1,\"action\":\"complete\",\"outputs\":{\"response\":\"ok\"}}");
    Files.writeString(outboxDir.resolve("task-3-attempt-1.json"), "[1,2,3]"); // JSON, not an object
    Files.writeString(outboxDir.resolve("task-4-attempt-1.json"), "{\"attempt\":1,\"action\":\"complete\"}"); // no task
    Files.writeString(outboxDir.resolve("task-ats-5-attempt-1.json"),
        "{\"task\":\"ats:5\",\"task_id\":5,\"attempt\":1,\"action\":\"fail\",\"reason\":\"no\"}");
    ResultReporter r = reporter(DIRECT);
    r.load();
    assertEquals(2, r.depth());
    r.tick();
    assertEquals(List.of("complete"), source.lease(key(2)).actions());
    assertEquals(List.of("fail"), source.lease(key(5)).actions());
    assertEquals(List.of(key(2), key(5)), source.heldKeys.stream().sorted().toList());
    assertEquals(0, r.depth());
    assertEquals(List.of("task-1-attempt-1.json", "task-3-attempt-1.json"),
        Files.list(outboxDir.resolve("bad")).map(p -> p.getFileName().toString()).sorted().toList());
    assertEquals(List.of("task-4-attempt-1.json"), outboxFiles(), "an entry that names no task is left for a human");
  }

  // ---- scripted source ----------------------------------------------------------------------

  /** What a lease call does: return (accepted), throw a SourceException, or block. */
  interface Answer {
    void on(String action, Object arg);
  }

  static Answer ok() {
    return (a, x) -> { };
  }

  static Answer unavailable() {
    return fails(SourceException.Kind.UNAVAILABLE, "connection refused");
  }

  static Answer refused(String why) {
    return fails(SourceException.Kind.REFUSED, why);
  }

  static Answer fails(SourceException.Kind kind, String why) {
    return (a, x) -> {
      throw new SourceException(kind, why);
    };
  }

  /** The n-th call gets the n-th answer; the last one repeats. */
  static Answer sequence(Answer... answers) {
    AtomicInteger n = new AtomicInteger();
    return (a, x) -> answers[Math.min(n.getAndIncrement(), answers.length - 1)].on(a, x);
  }

  static void awaitLatch(CountDownLatch l) {
    try {
      if (!l.await(20, TimeUnit.SECONDS)) throw new AssertionError("latch not released");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  record Call(String action, Object arg) {}

  /** Records every report call; counts overlapping calls and calls after one was accepted. */
  static final class ScriptedLease implements Lease {
    final TaskKey key;
    final List<Call> calls = new CopyOnWriteArrayList<>();
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger maxInFlight = new AtomicInteger();
    final AtomicInteger callsAfterAck = new AtomicInteger();
    volatile boolean acknowledged;
    volatile Answer answer = ok();

    ScriptedLease(TaskKey key) {
      this.key = key;
    }

    List<String> actions() {
      return calls.stream().map(Call::action).toList();
    }

    private void call(String action, Object arg) {
      maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      try {
        if (acknowledged) callsAfterAck.incrementAndGet();
        calls.add(new Call(action, arg));
        answer.on(action, arg);
        acknowledged = true; // before the call returns, so a second call is either concurrent or late
      } finally {
        inFlight.decrementAndGet();
      }
    }

    @Override
    public TaskKey key() {
      return key;
    }

    @Override
    public SourceTask task() {
      return null;
    }

    @Override
    public Instant expiresAt() {
      return null;
    }

    @Override
    public void renew(Duration lease) {}

    @Override
    public void complete(List<JsonNode> outputs) {
      call("complete", outputs);
    }

    @Override
    public void fail(String reason) {
      call("fail", reason);
    }

    @Override
    public void release(Duration delay) {
      call("release", delay);
    }
  }

  /**
   * A source whose leases are scripted: {@link #held} (what the reporter uses after a restart)
   * and {@link #claim} hand out the same lease per key. Claims are refused unless a test allows
   * them; events go to the sink {@link #start} was given.
   */
  static final class ScriptedSource implements TaskSource {
    final Map<TaskKey, ScriptedLease> leases = new ConcurrentHashMap<>();
    final List<TaskKey> heldKeys = new CopyOnWriteArrayList<>();
    final List<TaskKey> claimed = new CopyOnWriteArrayList<>();
    volatile boolean claims;
    volatile Consumer<SourceEvent> sink;
    final List<JsonNode> attached = new CopyOnWriteArrayList<>();
    volatile Answer attachAnswer = ok();
    /** The lease actions and attaches in the order they were made. */
    final List<String> order = new CopyOnWriteArrayList<>();

    @Override
    public void attach(TaskKey key, JsonNode content) {
      order.add("attach");
      attachAnswer.on("attach", content);
      attached.add(content);
    }

    ScriptedLease lease(TaskKey k) {
      return leases.computeIfAbsent(k, ScriptedLease::new);
    }

    @Override
    public String name() {
      return "ats";
    }

    @Override
    public Capabilities capabilities() {
      return new Capabilities(false, false, false, false, false, false, true);
    }

    @Override
    public void start(Consumer<SourceEvent> sink) {
      this.sink = sink;
    }

    @Override
    public boolean connected() {
      return true;
    }

    @Override
    public Iterator<List<SourceTask>> listPending(int pageSize) {
      return Collections.emptyIterator();
    }

    @Override
    public Lease claim(TaskKey key, Duration lease) {
      if (!claims) throw new SourceException(SourceException.Kind.CONFLICT, "not in this test");
      claimed.add(key);
      return lease(key);
    }

    @Override
    public Lease held(TaskKey key) {
      heldKeys.add(key);
      return lease(key);
    }

    @Override
    public TaskStatus status(TaskKey key) {
      return TaskStatus.IN_PROGRESS;
    }

    @Override
    public void health() {}

    @Override
    public String describe() {
      return "scripted";
    }

    @Override
    public void close() {}
  }

  /** A clock that runs a hook on each read of the monotonic time (to stop a thread at a chosen point). */
  static final class HookClock implements Clock {
    final Clock inner;
    volatile Runnable hook;

    HookClock(Clock inner) {
      this.inner = inner;
    }

    @Override
    public long nanoTime() {
      Runnable h = hook;
      if (h != null) h.run();
      return inner.nanoTime();
    }

    @Override
    public Instant now() {
      return inner.now();
    }
  }
}
