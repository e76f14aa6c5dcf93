package dev.atsdispatch.testing;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * An in-memory, scripted {@link TaskSource} that behaves like ATS, for fast engine tests.
 *
 * <p>A {@link Store} holds the tasks (one fake ATS); each {@code FakeTaskSource} is one service's
 * view onto it with its own actor id, so two engines can share a store. Claims follow ATS: a
 * pending task is claimed by the caller; a claim by the holder renews; a claim of a task another
 * actor holds, or of a finished task, is CONFLICT. Renew, complete, fail and release need the
 * caller to hold an unexpired lease (else CONFLICT). Leases expire on the {@link FakeClock}:
 * every call first takes back leases that ran out (quietly), and {@link Store#expireLeases}
 * does the same and can push {@code Offered(LEASE_EXPIRED)}.
 *
 * <p>Events reach the engine only when a test pushes them ({@link #offer}, {@link #cancel},
 * {@link #statusChanged}, {@link #pushConnected()}), unless {@link Store#autoEvents} is set, and can
 * be dropped or duplicated ({@link #dropNext}, {@link #duplicateNext}). Every call of every
 * operation can be scripted to fail or to answer slowly ({@link #inject}) and is recorded
 * ({@link #calls}) with its key, thread, fake-clock time and outcome.
 */
public final class FakeTaskSource implements TaskSource {

  /** The operations a test can script and count. */
  public enum Op { LIST, CLAIM, HELD, RENEW, COMPLETE, FAIL, RELEASE, STATUS, NOTE, SHARED_ATTEMPTS, HEALTH, UNPARK }

  /** One call as the source saw it. {@code result} is "ok" or the exception kind; null while in flight. */
  public static final class Call {
    public final long seq;
    public final Op op;
    public final TaskKey key;
    public final String actor;
    public final String thread;
    public final long fakeNanos;
    public final String detail;
    volatile String result;
    volatile long endSeq = -1;

    Call(long seq, Op op, TaskKey key, String actor, String thread, long fakeNanos, String detail) {
      this.seq = seq;
      this.op = op;
      this.key = key;
      this.actor = actor;
      this.thread = thread;
      this.fakeNanos = fakeNanos;
      this.detail = detail;
    }

    /** "ok", or the {@link SourceException.Kind} name; null while the call is in flight. */
    public String result() {
      return result;
    }

    public boolean ended() {
      return result != null;
    }

    /** Sequence number of the call's end (shares the counter with starts), -1 while in flight. */
    public long endSeq() {
      return endSeq;
    }

    @Override
    public String toString() {
      return "#" + seq + " " + actor + " " + op + " " + key + (detail == null ? "" : " " + detail) + " -> " + result
          + " @" + fakeNanos / 1_000_000 + "ms on " + thread;
    }
  }

  /** A latch a scripted call waits on until the test opens it. */
  public static final class Gate {
    private final CountDownLatch open = new CountDownLatch(1);
    private final AtomicInteger waiting = new AtomicInteger();
    private final AtomicInteger arrived = new AtomicInteger();

    public void open() {
      open.countDown();
    }

    /** Calls blocked here now. */
    public int waiting() {
      return waiting.get();
    }

    /** Calls that reached the gate so far. */
    public int arrived() {
      return arrived.get();
    }

    void pass() {
      arrived.incrementAndGet();
      waiting.incrementAndGet();
      try {
        if (!open.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SourceException(SourceException.Kind.UNAVAILABLE, "interrupted at a test gate");
      } finally {
        waiting.decrementAndGet();
      }
    }
  }

  /**
   * A scripted fault for one operation: how many calls (or until which fake time) it applies to,
   * which keys, whether calls wait at a gate first (and whether the operation takes effect
   * before the wait: a slow answer), and what they throw (nothing: the call then goes on).
   */
  public static final class Fault {
    final Op op;
    int times = Integer.MAX_VALUE;
    Long untilNanos;
    Duration untilOffset;
    Predicate<TaskKey> keys = k -> true;
    Gate gate;
    boolean effectFirst;
    SourceException.Kind kind;
    String message;

    private Fault(Op op) {
      this.op = op;
    }

    public static Fault on(Op op) {
      return new Fault(op);
    }

    /** Only the next {@code n} matching calls. */
    public Fault times(int n) {
      times = n;
      return this;
    }

    /** Only while the fake clock is less than {@code d} past the moment the fault is injected. */
    public Fault forFakeTime(Duration d) {
      untilOffset = d;
      return this;
    }

    public Fault key(TaskKey k) {
      keys = k::equals;
      return this;
    }

    /** Calls wait at a gate (see {@link #gate()}) before doing anything. */
    public Fault hold() {
      gate = new Gate();
      return this;
    }

    /** The operation takes effect, then the answer waits at a gate (a slow response). */
    public Fault holdAnswer() {
      gate = new Gate();
      effectFirst = true;
      return this;
    }

    public Fault unavailable(String message) {
      kind = SourceException.Kind.UNAVAILABLE;
      this.message = message;
      return this;
    }

    public Fault timeout() {
      return unavailable("timeout after 10000 ms");
    }

    public Fault http503() {
      return unavailable("HTTP 503 Service Unavailable");
    }

    public Fault http429() {
      return unavailable("HTTP 429 Too Many Requests");
    }

    public Fault conflict(String message) {
      kind = SourceException.Kind.CONFLICT;
      this.message = message;
      return this;
    }

    public Fault refused(String message) {
      kind = SourceException.Kind.REFUSED;
      this.message = message;
      return this;
    }

    public Fault notFound() {
      kind = SourceException.Kind.NOT_FOUND;
      this.message = "not found";
      return this;
    }

    public Gate gate() {
      return gate;
    }
  }

  /** A note on a task's thread. */
  public record Note(String actor, String text, Integer attempt, boolean strike, Instant at) {}

  /** One task in the fake ATS. */
  public static final class Rec {
    public final SourceTask task;
    public volatile TaskStatus status = TaskStatus.PENDING;
    public volatile String holder;
    volatile long expiresAt;
    public volatile List<JsonNode> outputs;
    public volatile String reason;
    public final List<Note> notes = new CopyOnWriteArrayList<>();
    public volatile int claims;

    Rec(SourceTask task) {
      this.task = task;
    }
  }

  /** One fake ATS, shared by any number of views (actors). Thread-safe. */
  public static final class Store {
    private final FakeClock clock;
    private final String sourceName;
    private final Map<TaskKey, Rec> tasks = new LinkedHashMap<>();
    private final List<FakeTaskSource> views = new CopyOnWriteArrayList<>();
    private final List<Call> calls = new ArrayList<>(); // guarded by itself
    private final AtomicLong seq = new AtomicLong();
    private final AtomicLong created = new AtomicLong();
    private long sweptAt = Long.MIN_VALUE; // guarded by this
    /** When set, finishing, cancelling and giving back push the matching events to every view. */
    public volatile boolean autoEvents;

    public Store(FakeClock clock) {
      this(clock, "ats");
    }

    public Store(FakeClock clock, String sourceName) {
      this.clock = clock;
      this.sourceName = sourceName;
    }

    public FakeClock clock() {
      return clock;
    }

    public FakeTaskSource view(String actor) {
      FakeTaskSource v = new FakeTaskSource(this, actor);
      views.add(v);
      return v;
    }

    public TaskKey key(long id) {
      return TaskKey.of(sourceName, id);
    }

    /** Adds a pending task (not announced: push an offer for that). */
    public TaskKey add(long id) {
      return add(id, "task " + id, 5, null);
    }

    public TaskKey add(long id, ObjectNode payload) {
      return add(id, "task " + id, 5, payload);
    }

    public synchronized TaskKey add(long id, String title, int priority, ObjectNode payload) {
      TaskKey k = key(id);
      Instant at = Instant.parse("2026-01-01T00:00:00Z").plusMillis(created.incrementAndGet());
      SourceTask t = new SourceTask(k, TaskStatus.PENDING, priority, at, title, "description of " + title,
          payload == null ? JsonNodeFactory.instance.objectNode() : payload, false, null);
      tasks.put(k, new Rec(t));
      return k;
    }

    public synchronized Rec rec(TaskKey k) {
      return tasks.get(k);
    }

    public TaskStatus status(TaskKey k) {
      Rec r = rec(k);
      return r == null ? null : r.status;
    }

    /** The task as an offer carries it (light, current status). */
    public synchronized SourceTask offered(TaskKey k) {
      Rec r = tasks.get(k);
      SourceTask t = r.task;
      return new SourceTask(k, r.status, t.priority(), t.createdAt(), t.title(), null, t.payload(), true, null);
    }

    /** Someone else finishes (or cancels) the task; pushes StatusChanged when autoEvents is set. */
    public void finishElsewhere(TaskKey k, TaskStatus s) {
      finishElsewhere(k, s, null);
    }

    /** As {@link #finishElsewhere(TaskKey, TaskStatus)}, with a reason (a failed task parked by another dispatcher, say). */
    public void finishElsewhere(TaskKey k, TaskStatus s, String reason) {
      synchronized (this) {
        Rec r = tasks.get(k);
        r.status = s;
        r.holder = "someone-else";
        r.reason = reason;
      }
      boolean parked = s == TaskStatus.FAILED && Lease.parkReason(reason);
      if (autoEvents) views.forEach(v -> v.push(new SourceEvent.StatusChanged(k, s, parked)));
    }

    /** The task is reopened at the source (pending again); pushes Offered(REOPENED) when autoEvents is set. */
    public void reopen(TaskKey k) {
      synchronized (this) {
        Rec r = tasks.get(k);
        r.status = TaskStatus.PENDING;
        r.holder = null;
      }
      if (autoEvents) views.forEach(v -> v.offer(k, SourceEvent.Why.REOPENED));
    }

    /**
     * Takes back every in-progress task whose lease ran out on the fake clock; when
     * {@code offer}, pushes {@code Offered(LEASE_EXPIRED)} for each to every view. Returns them.
     */
    public List<TaskKey> expireLeases(boolean offer) {
      List<TaskKey> out;
      synchronized (this) {
        out = sweep();
      }
      if (offer) {
        for (TaskKey k : out) views.forEach(v -> v.offer(k, SourceEvent.Why.LEASE_EXPIRED));
      }
      return out;
    }

    private List<TaskKey> sweep() {
      List<TaskKey> out = new ArrayList<>();
      long now = clock.nanoTime();
      if (now == sweptAt) return out; // leases only run out when the clock moves
      sweptAt = now;
      for (Rec r : tasks.values()) {
        if (r.status == TaskStatus.IN_PROGRESS && now - r.expiresAt >= 0) {
          r.status = TaskStatus.PENDING;
          r.holder = null;
          out.add(r.task.key());
        }
      }
      return out;
    }

    /** Every call of every view, in order. */
    public List<Call> calls() {
      synchronized (calls) {
        return List.copyOf(calls);
      }
    }

    public List<Call> calls(Op op, TaskKey key) {
      return calls().stream().filter(c -> c.op == op && (key == null || key.equals(c.key))).toList();
    }

    void record(Call c) {
      synchronized (calls) {
        calls.add(c);
      }
    }

    public List<Note> notes(TaskKey k) {
      Rec r = rec(k);
      return r == null ? List.of() : List.copyOf(r.notes);
    }
  }

  private final Store store;
  private final String actor;
  private final List<Fault> faults = new CopyOnWriteArrayList<>();
  private volatile Consumer<SourceEvent> sink;
  private volatile boolean connected;
  private volatile boolean closed;
  private final AtomicInteger drop = new AtomicInteger();
  private final AtomicInteger duplicate = new AtomicInteger();
  private final Map<String, AtomicInteger> inFlight = new HashMap<>();
  private final Map<String, Integer> maxInFlight = new HashMap<>();
  private volatile Capabilities capabilities = new Capabilities(true, true, true, false, true, true, true);

  private FakeTaskSource(Store store, String actor) {
    this.store = store;
    this.actor = actor;
  }

  /** A source with a store of its own, for one engine. */
  public FakeTaskSource(FakeClock clock) {
    this(new Store(clock), "engine");
    store.views.add(this);
  }

  public Store store() {
    return store;
  }

  public String actor() {
    return actor;
  }

  public FakeTaskSource capabilities(Capabilities c) {
    capabilities = c;
    return this;
  }

  // ---- test controls: tasks and events ---------------------------------------------------------

  public TaskKey add(long id) {
    return store.add(id);
  }

  public TaskKey add(long id, ObjectNode payload) {
    return store.add(id, payload);
  }

  /** Pushes Offered(CREATED) for a task of the store. */
  public void offer(TaskKey k) {
    offer(k, SourceEvent.Why.CREATED);
  }

  public void offer(TaskKey k, SourceEvent.Why why) {
    push(new SourceEvent.Offered(store.offered(k), why));
  }

  /**
   * Pushes an offer that says the task is pending whatever the store says now: a stale event or
   * listing (sent before the task moved on), or an event of a fault in the source.
   */
  public void offerStale(TaskKey k, SourceEvent.Why why) {
    SourceTask t = store.offered(k);
    push(new SourceEvent.Offered(new SourceTask(k, TaskStatus.PENDING, t.priority(), t.createdAt(), t.title(), null,
        t.payload(), true, null), why));
  }

  /** Cancels the task in the store and pushes Cancelled. */
  public void cancel(TaskKey k) {
    synchronized (store) {
      store.tasks.get(k).status = TaskStatus.CANCELLED;
    }
    push(new SourceEvent.Cancelled(k));
  }

  public void statusChanged(TaskKey k, TaskStatus s) {
    push(new SourceEvent.StatusChanged(k, s));
  }

  /** Marks the push channel up and pushes Connected (the engine then reconciles). */
  public void pushConnected() {
    connected = true;
    push(new SourceEvent.Connected());
  }

  /** Pushes any event as it is. */
  public void push(SourceEvent e) {
    Consumer<SourceEvent> s = sink;
    if (s == null) return;
    if (drop.getAndUpdate(n -> Math.max(0, n - 1)) > 0) return;
    s.accept(e);
    if (duplicate.getAndUpdate(n -> Math.max(0, n - 1)) > 0) s.accept(e);
  }

  /** The next {@code n} pushed events are lost. */
  public void dropNext(int n) {
    drop.set(n);
  }

  /** The next {@code n} pushed events arrive twice. */
  public void duplicateNext(int n) {
    duplicate.set(n);
  }

  /** Adds a scripted fault; returns it (for its gate). */
  public Fault inject(Fault f) {
    if (f.untilOffset != null) f.untilNanos = store.clock.nanoTime() + f.untilOffset.toNanos();
    faults.add(f);
    return f;
  }

  public void clearFaults() {
    faults.clear();
  }

  /** Opens every gate of every fault injected so far (test clean-up). */
  public void openAllGates() {
    for (Fault f : faults) {
      if (f.gate != null) f.gate.open();
    }
  }

  /** This view's calls, in order. */
  public List<Call> calls() {
    return store.calls().stream().filter(c -> c.actor.equals(actor)).toList();
  }

  public List<Call> calls(Op op, TaskKey key) {
    return calls().stream().filter(c -> c.op == op && (key == null || key.equals(c.key))).toList();
  }

  public int count(Op op, TaskKey key) {
    return calls(op, key).size();
  }

  /** The most calls of {@code op} for {@code key} (null: any key) that were in flight at once. */
  public synchronized int maxInFlight(Op op, TaskKey key) {
    return maxInFlight.getOrDefault(op + " " + (key == null ? "*" : key), 0);
  }

  public synchronized int inFlight(Op op, TaskKey key) {
    AtomicInteger n = inFlight.get(op + " " + (key == null ? "*" : key));
    return n == null ? 0 : n.get();
  }

  /** The tasks pending in the store now (as a listing would show them). */
  public List<SourceTask> pendingNow() {
    synchronized (store) {
      store.sweep();
      return store.tasks.values().stream().filter(r -> r.status == TaskStatus.PENDING)
          .map(r -> store.offered(r.task.key())).toList();
    }
  }

  // ---- the call machinery ----------------------------------------------------------------------

  private interface Body<T> {
    T run();
  }

  private <T> T call(Op op, TaskKey key, String detail, Body<T> body) {
    Call c = new Call(store.seq.incrementAndGet(), op, key, actor, Thread.currentThread().getName(),
        store.clock.nanoTime(), detail);
    store.record(c);
    String slot = op + " " + key;
    String any = op + " *";
    synchronized (this) {
      int now = inFlight.computeIfAbsent(slot, s -> new AtomicInteger()).incrementAndGet();
      maxInFlight.merge(slot, now, Math::max);
      int all = inFlight.computeIfAbsent(any, s -> new AtomicInteger()).incrementAndGet();
      maxInFlight.merge(any, all, Math::max);
    }
    try {
      Fault f = take(op, key);
      if (f != null && f.gate != null && !f.effectFirst) f.gate.pass();
      if (f != null && f.kind != null && !f.effectFirst) throw new SourceException(f.kind, f.message);
      T out = body.run();
      if (f != null && f.effectFirst) {
        f.gate.pass();
        if (f.kind != null) throw new SourceException(f.kind, f.message);
      }
      c.result = "ok";
      return out;
    } catch (SourceException e) {
      c.result = e.kind().name();
      throw e;
    } catch (RuntimeException e) {
      c.result = e.getClass().getSimpleName();
      throw e;
    } finally {
      c.endSeq = store.seq.incrementAndGet();
      synchronized (this) {
        inFlight.get(slot).decrementAndGet();
        inFlight.get(any).decrementAndGet();
      }
    }
  }

  private Fault take(Op op, TaskKey key) {
    long now = store.clock.nanoTime();
    for (Fault f : faults) {
      if (f.op != op || !f.keys.test(key)) continue;
      if (f.untilNanos != null && now - f.untilNanos >= 0) continue;
      synchronized (f) {
        if (f.times <= 0) continue;
        if (f.times != Integer.MAX_VALUE) f.times--;
      }
      return f;
    }
    return null;
  }

  private Rec rec(TaskKey key) {
    Rec r = store.tasks.get(key);
    if (r == null) throw new SourceException(SourceException.Kind.NOT_FOUND, "task " + key + " not found");
    return r;
  }

  private void autoPush(Runnable r) {
    if (store.autoEvents) r.run();
  }

  // ---- TaskSource ------------------------------------------------------------------------------

  @Override
  public String name() {
    return store.sourceName;
  }

  @Override
  public Capabilities capabilities() {
    return capabilities;
  }

  @Override
  public void start(Consumer<SourceEvent> sink) {
    if (this.sink != null) throw new IllegalStateException("started twice");
    this.sink = sink;
  }

  @Override
  public boolean connected() {
    return connected && !closed;
  }

  @Override
  public Iterator<List<SourceTask>> listPending(int pageSize) {
    return new Iterator<>() {
      Instant after;
      TaskKey afterKey;
      boolean done;
      List<SourceTask> next;

      @Override
      public boolean hasNext() {
        if (next == null && !done) fetch();
        return next != null;
      }

      @Override
      public List<SourceTask> next() {
        if (!hasNext()) throw new NoSuchElementException();
        List<SourceTask> out = next;
        next = null;
        return out;
      }

      private void fetch() {
        List<SourceTask> page = call(Op.LIST, null, "page of " + pageSize, () -> {
          synchronized (store) {
            store.sweep();
            Comparator<Rec> order = Comparator.comparing((Rec r) -> r.task.createdAt()).thenComparing(r -> r.task.key());
            return store.tasks.values().stream().filter(r -> r.status == TaskStatus.PENDING)
                .filter(r -> after == null || order.compare(r, probe()) > 0)
                .sorted(order).limit(pageSize).map(r -> store.offered(r.task.key())).toList();
          }
        });
        if (page.isEmpty()) {
          done = true;
          return;
        }
        SourceTask last = page.get(page.size() - 1);
        after = last.createdAt();
        afterKey = last.key();
        if (page.size() < pageSize) done = true;
        next = page;
      }

      private Rec probe() {
        return new Rec(new SourceTask(afterKey, TaskStatus.PENDING, 0, after, null, null, null, true, null));
      }
    };
  }

  @Override
  public Lease claim(TaskKey key, Duration lease) {
    return call(Op.CLAIM, key, null, () -> {
      synchronized (store) {
        store.sweep();
        Rec r = rec(key);
        if (r.status == TaskStatus.IN_PROGRESS && actor.equals(r.holder)) {
          r.expiresAt = store.clock.nanoTime() + lease.toNanos(); // a re-claim by the holder renews
        } else if (r.status != TaskStatus.PENDING) {
          throw new SourceException(SourceException.Kind.CONFLICT, "task " + key + " is " + r.status
              + (r.holder == null ? "" : " (held by " + r.holder + ")"));
        } else {
          r.status = TaskStatus.IN_PROGRESS;
          r.holder = actor;
          r.expiresAt = store.clock.nanoTime() + lease.toNanos();
          r.claims++;
        }
        return new FakeLease(key, r.task, Instant.EPOCH.plusNanos(r.expiresAt));
      }
    });
  }

  @Override
  public Lease held(TaskKey key) {
    call(Op.HELD, key, null, () -> null);
    return new FakeLease(key, null, null);
  }

  @Override
  public TaskStatus status(TaskKey key) {
    return call(Op.STATUS, key, null, () -> {
      synchronized (store) {
        store.sweep();
        return rec(key).status;
      }
    });
  }

  /** As ATS: a failed task whose reason says it is parked for a question. */
  @Override
  public DependencyStatus dependencyStatus(TaskKey key) {
    return call(Op.STATUS, key, null, () -> {
      synchronized (store) {
        store.sweep();
        Rec r = rec(key);
        return new DependencyStatus(r.status, r.status == TaskStatus.FAILED && Lease.parkReason(r.reason));
      }
    });
  }

  /** As ATS: a parked (failed) task is reopened; pushes Offered(REOPENED) when autoEvents is set. */
  @Override
  public boolean unpark(TaskKey key, String reason) {
    call(Op.UNPARK, key, reason, () -> {
      synchronized (store) {
        Rec r = rec(key);
        if (r.status != TaskStatus.FAILED) {
          throw new SourceException(SourceException.Kind.CONFLICT, "Cannot reopen task in " + r.status + " status");
        }
        r.status = TaskStatus.PENDING;
        r.holder = null;
        r.reason = reason;
      }
      return null;
    });
    autoPush(() -> store.views.forEach(v -> v.offer(key, SourceEvent.Why.REOPENED)));
    return true;
  }

  @Override
  public SharedAttempts sharedAttempts(TaskKey key, Instant since) {
    return call(Op.SHARED_ATTEMPTS, key, null, () -> {
      Rec r;
      synchronized (store) {
        r = rec(key);
      }
      int highest = 0;
      java.util.Set<Integer> started = new java.util.HashSet<>();
      java.util.Set<Integer> notStrikes = new java.util.HashSet<>();
      for (Note n : r.notes) {
        if (n.attempt() == null || n.attempt() <= 0) continue;
        if (since != null && n.at().isBefore(since)) continue;
        highest = Math.max(highest, n.attempt());
        if (n.strike()) started.add(n.attempt());
        else notStrikes.add(n.attempt());
      }
      started.removeAll(notStrikes);
      return new SharedAttempts(highest, started.size());
    });
  }

  @Override
  public void note(TaskKey key, String text, Integer attempt, boolean strike) {
    call(Op.NOTE, key, text, () -> {
      Rec r;
      synchronized (store) {
        r = rec(key);
      }
      r.notes.add(new Note(actor, text, attempt, strike, store.clock.now()));
      return null;
    });
  }

  @Override
  public void health() {
    call(Op.HEALTH, null, null, () -> null);
  }

  @Override
  public String describe() {
    return "fake source " + store.sourceName + " as " + actor;
  }

  @Override
  public void close() {
    closed = true;
  }

  /** A lease of this view: every method checks, like ATS, that this actor holds the task. */
  private final class FakeLease implements Lease {
    private final TaskKey key;
    private final SourceTask task;
    private final Instant expiresAt;

    FakeLease(TaskKey key, SourceTask task, Instant expiresAt) {
      this.key = key;
      this.task = task;
      this.expiresAt = expiresAt;
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
      return expiresAt;
    }

    private Rec held() {
      store.sweep();
      Rec r = rec(key);
      if (r.status != TaskStatus.IN_PROGRESS || !actor.equals(r.holder)) {
        throw new SourceException(SourceException.Kind.CONFLICT, "task " + key + " is " + r.status
            + (r.holder == null ? "" : " (held by " + r.holder + ")") + ", not held by " + actor);
      }
      return r;
    }

    @Override
    public void renew(Duration lease) {
      call(Op.RENEW, key, null, () -> {
        synchronized (store) {
          held().expiresAt = store.clock.nanoTime() + lease.toNanos();
        }
        return null;
      });
    }

    @Override
    public void complete(List<JsonNode> outputs) {
      call(Op.COMPLETE, key, null, () -> {
        synchronized (store) {
          Rec r = held();
          r.status = TaskStatus.COMPLETED;
          r.outputs = List.copyOf(outputs);
        }
        return null;
      });
      autoPush(() -> store.views.forEach(v -> v.statusChanged(key, TaskStatus.COMPLETED)));
    }

    @Override
    public void fail(String reason) {
      call(Op.FAIL, key, reason, () -> {
        synchronized (store) {
          Rec r = held();
          r.status = TaskStatus.FAILED;
          r.reason = reason;
        }
        return null;
      });
      autoPush(() -> store.views.forEach(v -> v.push(new SourceEvent.StatusChanged(key, TaskStatus.FAILED,
          Lease.parkReason(reason)))));
    }

    /** As ATS: failed with the question's reason (the task has threads), reopened by {@link #unpark}. */
    @Override
    public void park(String reason, Duration recheck) {
      fail(reason);
    }

    @Override
    public void release(Duration delay) {
      call(Op.RELEASE, key, null, () -> {
        synchronized (store) {
          Rec r = held();
          r.status = TaskStatus.PENDING;
          r.holder = null;
        }
        return null;
      });
      autoPush(() -> store.views.forEach(v -> v.offer(key, SourceEvent.Why.RELEASED)));
    }
  }
}
