package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.exec.AgentSpec;
import dev.atsdispatch.exec.RunningAgent;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.testing.FakeClock;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The retention policy (defect 11): old finished task directories go, everything still in use
 * stays; the ledger cache keeps no ledger nobody holds.
 */
@Timeout(60)
final class RetentionTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Duration KEEP = Duration.ofDays(7);

  @TempDir Path dir;
  Engine engine;
  StateDir engineState;

  @AfterEach
  void tearDown() {
    if (engine != null) engine.shutdown();
    if (engineState != null) engineState.close();
  }

  static TaskKey key(long id) {
    return TaskKey.of("ats", id);
  }

  /** A ledger with these events, last written {@code age} before {@code now}. */
  static Path ledger(StateDir state, TaskKey k, Instant now, Duration age, String... events) throws Exception {
    TaskLedger l = state.ledger(k);
    int attempt = 0;
    for (String e : events) {
      if (e.equals("attempt_started")) attempt++;
      l.append(e, M.createObjectNode().put("attempt", attempt), now.minus(age));
    }
    age(l.file(), now, age);
    return state.taskDir(k);
  }

  static void age(Path p, Instant now, Duration age) throws Exception {
    Files.setLastModifiedTime(p, FileTime.from(now.minus(age)));
  }

  // ---- Retention.sweep on its own -------------------------------------------------------------

  @Test
  void oldFinishedTaskDirectoriesAreRemovedWithEverythingInThem() throws Exception {
    StateDir state = new StateDir(dir.resolve("state"));
    Instant now = Instant.now();
    Path old = ledger(state, key(1), now, Duration.ofDays(8), "attempt_started", "result_queued", "reported");
    Files.writeString(old.resolve("attempt-1.stdout.log"), "out");
    Files.writeString(old.resolve("attempt-1.stderr.log"), "err");
    Path work = Files.createDirectories(old.resolve("work/deep/er"));
    Files.writeString(work.resolve("file.txt"), "x");
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.writeString(outside.resolve("precious.txt"), "keep me");
    Files.createSymbolicLink(old.resolve("work/link-to-outside"), outside);
    Files.createSymbolicLink(old.resolve("work/dangling"), dir.resolve("nowhere"));
    // no ledger at all (e.g. a work directory only): the directory's own age counts
    Path bare = Files.createDirectories(state.taskDir(key(2)).resolve("work"));
    age(bare, now, Duration.ofDays(30));
    age(bare.getParent(), now, Duration.ofDays(30));
    // another source's task
    Path board = ledger(state, new TaskKey("board", "a/b c"), now, Duration.ofDays(9), "attempt_started", "reported");

    assertEquals(3, Retention.sweep(state, KEEP, now, d -> false));
    assertFalse(Files.exists(old));
    assertFalse(Files.exists(bare.getParent()));
    assertFalse(Files.exists(board));
    assertEquals("keep me", Files.readString(outside.resolve("precious.txt")), "a symlink is removed, never followed");
    assertTrue(Files.isDirectory(dir.resolve("state/tasks/ats")));
    assertEquals(0, Retention.sweep(state, KEEP, now, d -> false));
  }

  @Test
  void recentRunningOrBusyTasksAreKept() throws Exception {
    StateDir state = new StateDir(dir.resolve("state"));
    Instant now = Instant.now();
    Path recent = ledger(state, key(1), now, KEEP.minusMinutes(1), "attempt_started", "reported");
    age(recent, now, Duration.ofDays(60)); // an old directory with a recent ledger is recent
    Path running = ledger(state, key(2), now, Duration.ofDays(20), "attempt_started", "agent_started");
    state.markRunning(key(2), 4242, 1);
    Path busy = ledger(state, key(3), now, Duration.ofDays(20), "attempt_started", "result_queued");
    Path gone = ledger(state, key(4), now, KEEP.plusMinutes(1), "attempt_started", "reported");
    List<Path> asked = new CopyOnWriteArrayList<>();

    assertEquals(1, Retention.sweep(state, KEEP, now, d -> {
      asked.add(d);
      return d.equals(busy);
    }));
    assertTrue(Files.exists(recent.resolve("events.jsonl")));
    assertTrue(Files.exists(running.resolve("events.jsonl")));
    assertTrue(Files.exists(busy.resolve("events.jsonl")));
    assertFalse(Files.exists(gone));
    assertFalse(asked.contains(recent), "a recent task is not even asked about");
    assertEquals(List.of(key(2)), state.running().stream().map(StateDir.Running::key).toList());
  }

  // ---- through the engine: held tasks and pending results ------------------------------------

  @Test
  void theEngineKeepsWhatItHoldsOrStillHasToReport() throws Exception {
    FakeClock clock = new FakeClock();
    Instant now = clock.now();
    engineState = new StateDir(dir.resolve("state"));
    StateDir state = engineState;
    state.lock();
    // 2: interrupted by a shutdown long ago, given back, offered again now (queued behind 1)
    Path queued = ledger(state, key(2), now, Duration.ofDays(10), "attempt_started", "released");
    // 3: its result is still in the outbox (ATS unreachable for it)
    Path reporting = ledger(state, key(3), now, Duration.ofDays(10), "attempt_started", "result_queued");
    state.outbox("results").put("task-ats-3-attempt-1", M.createObjectNode().put("task", "ats:3")
        .put("task_id", 3).put("attempt", 1).put("action", "complete").set("outputs", M.createObjectNode()));
    // 4: finished long ago
    Path finished = ledger(state, key(4), now, Duration.ofDays(10), "attempt_started", "result_queued", "reported");

    ResultReporterTest.ScriptedSource source = new ResultReporterTest.ScriptedSource();
    source.claims = true;
    source.lease(key(3)).answer = ResultReporterTest.unavailable();
    FakeAgents agents = new FakeAgents();
    ServiceConfig.Builder b = DispatchFixture.config(dir.resolve("agent"), dir.resolve("state"), dir.resolve("keys"));
    b.concurrency = 1;
    b.drain = Duration.ZERO;
    engine = new Engine(b.build(), source, agents, state, clock, Map.of("PATH", System.getenv("PATH")),
        Intake.PLAIN, TaskObserver.NONE, DispatchMetrics.create(), "test");
    engine.start();
    assertEquals(1, engine.outboxDepth());

    source.sink.accept(offer(1));
    DispatchFixture.await("task 1 to run", Duration.ofSeconds(10), () -> agents.started.contains(key(1)));
    source.sink.accept(offer(2));
    DispatchFixture.await("task 2 to queue", Duration.ofSeconds(10), () -> engine.queuedNow() == 1);
    Path running = state.taskDir(key(1));
    age(running.resolve("events.jsonl"), now, Duration.ofDays(10)); // its ledger says nothing new for long

    assertEquals(1, engine.sweep());
    assertFalse(Files.exists(finished), "finished long ago");
    assertTrue(Files.exists(running.resolve("events.jsonl")), "running");
    assertTrue(Files.exists(queued.resolve("events.jsonl")), "queued");
    assertTrue(Files.exists(reporting.resolve("events.jsonl")), "result pending");

    // once its result is delivered, task 3 ages out like any other
    source.lease(key(3)).answer = ResultReporterTest.ok();
    clock.advance(Duration.ofMinutes(2)); // past its backoff (measured on the clock)
    DispatchFixture.await("the result of task 3", Duration.ofSeconds(10),
        () -> state.ledger(key(3)).summary().reported()); // its last step: the ledger notes the report
    assertEquals(0, engine.outboxDepth());
    age(reporting.resolve("events.jsonl"), now, Duration.ofDays(10));
    assertEquals(1, engine.sweep());
    assertFalse(Files.exists(reporting));
    assertTrue(Files.exists(running) && Files.exists(queued));
  }

  static SourceEvent offer(long id) {
    return new SourceEvent.Offered(new SourceTask(key(id), TaskStatus.PENDING, 5, Instant.parse("2026-01-01T00:00:00Z"),
        "task " + id, "do it", null, false, null), SourceEvent.Why.CREATED);
  }

  /** Agents that run until stopped; pids no process has. */
  static final class FakeAgents implements AgentRunner {
    final Set<TaskKey> started = ConcurrentHashMap.newKeySet();
    final AtomicLong pids = new AtomicLong(3_000_000_000L);

    @Override
    public RunningAgent start(AgentSpec spec) {
      started.add(TaskKey.of("ats", Long.parseLong(spec.workDir().getParent().getFileName().toString())));
      long pid = pids.incrementAndGet();
      CompletableFuture<AgentResult> result = new CompletableFuture<>();
      return new RunningAgent() {
        @Override
        public long pid() {
          return pid;
        }

        @Override
        public CompletableFuture<AgentResult> result() {
          return result;
        }

        @Override
        public void stop(String reason, Duration grace) {
          result.complete(new AgentResult(AgentResult.Outcome.STOPPED, null, 1, "", false, 0, "", reason));
        }
      };
    }
  }

  // ---- memory ---------------------------------------------------------------------------------

  /**
   * The ledger cache holds ledgers weakly: one object per task while someone holds it (so its
   * cached summary is the only one), none kept for tasks nobody holds. Made deterministic by
   * holding weak references only and asking for collections until they are all cleared (bounded);
   * a JVM that ignores System.gc() would fail it, not pass it wrongly.
   */
  @Test
  void theLedgerCacheKeepsNoLedgerNobodyHolds() throws Exception {
    StateDir state = new StateDir(dir.resolve("state"));
    TaskLedger held = state.ledger(key(0));
    held.append("attempt_started", M.createObjectNode().put("attempt", 1), Instant.now());
    int n = 20_000;
    List<WeakReference<TaskLedger>> refs = new ArrayList<>(n);
    for (int i = 1; i <= n; i++) {
      TaskLedger l = state.ledger(key(i));
      l.summary(); // caches a (empty) summary, as the engine does
      refs.add(new WeakReference<>(l));
    }
    assertTrue(held == state.ledger(key(0)), "one ledger object per task while it is held");
    long cleared = 0;
    for (int round = 0; round < 50 && cleared < n; round++) {
      System.gc();
      Thread.sleep(20);
      cleared = refs.stream().filter(r -> r.get() == null).count();
    }
    assertEquals(n, cleared, "ledgers nobody holds are collected");
    java.lang.reflect.Field f = StateDir.class.getDeclaredField("ledgers"); // no accessor in the API
    f.setAccessible(true);
    Map<?, ?> cache = (Map<?, ?>) f.get(state);
    DispatchFixture.await("the entries of collected ledgers to be purged", Duration.ofSeconds(10), () -> {
      state.ledger(key(n + 1)); // an access purges them
      return cache.size() <= 2;
    });
    assertEquals(1, held.summary().attempts());
  }

  /**
   * Looking ledgers up costs the same however many were looked up before: a reconcile of a
   * large channel looks one up per task offered. (The cache used to scan all its entries on every
   * look-up past 4096 not yet collected: 40,000 look-ups took 34 s, 164 s with a 4 GB heap.)
   */
  @Test
  @Timeout(60)
  void ledgerLookUpsStayCheapWhenManyAreCached() {
    StateDir state = new StateDir(dir.resolve("state"));
    List<TaskLedger> held = new ArrayList<>(); // held, so nothing is collected meanwhile: the worst case
    long start = System.nanoTime();
    for (int i = 1; i <= 50_000; i++) {
      TaskLedger l = state.ledger(key(i));
      l.summary();
      held.add(l);
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    for (int i = 1; i <= 50_000; i += 997) assertTrue(held.get(i - 1) == state.ledger(key(i)));
    assertTrue(ms < 20_000, "50,000 ledger look-ups took " + ms + " ms");
  }
}
