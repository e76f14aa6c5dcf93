package dev.atsdispatch.testing;

import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.exec.AgentSpec;
import dev.atsdispatch.exec.RunningAgent;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A scripted {@link AgentRunner}: no process is started. Each start takes the next behaviour
 * scripted for its task (by the task id in {@code ATS_TASK_ID}), else the default one:
 * succeed with a response, exit with a code, hang until stopped, throw at start, or wait for the
 * test to finish it ({@link Run#finish}). A stop ends a run that is still going with outcome
 * STOPPED. Records every start and stop, and how many runs of one task were going at once
 * (shared by several engines, it sees across all of them). Thread-safe.
 */
public final class FakeAgentRunner implements AgentRunner {
  private static final long FIRST_PID = 50_000_000L; // above any pid_max: never a real process

  /** What one start does. */
  public interface Behaviour {
    /** Returns null to leave the run going (hang, or finish by the test). */
    AgentResult begin(Run run) throws IOException;
  }

  public static Behaviour succeed(String response) {
    return r -> result(AgentResult.Outcome.EXITED, 0, response, "", null);
  }

  public static Behaviour exit(int code, String stderr) {
    return r -> result(AgentResult.Outcome.EXITED, code, "", stderr, null);
  }

  public static Behaviour timedOut() {
    return r -> result(AgentResult.Outcome.TIMED_OUT, 143, "", "", null);
  }

  /** Runs until stopped (or finished by the test). */
  public static Behaviour hang() {
    return r -> null;
  }

  public static Behaviour ioAtStart(String message) {
    return r -> {
      throw new IOException(message);
    };
  }

  public static Behaviour runtimeAtStart(String message) {
    return r -> {
      throw new IllegalStateException(message);
    };
  }

  static AgentResult result(AgentResult.Outcome o, Integer code, String response, String stderr, String stop) {
    return new AgentResult(o, code, 1, response, false, response.length(), stderr, stop);
  }

  /** One start. */
  public final class Run implements RunningAgent {
    public final TaskKey key;
    public final int attempt;
    public final long pid;
    public final String thread;
    public final long startedAtFakeNanos;
    public final long seq;
    public final AgentSpec spec;
    private final CompletableFuture<AgentResult> result = new CompletableFuture<>();
    private volatile String stopReason;
    private volatile long stoppedSeq = -1;
    private volatile long endedSeq = -1;

    Run(TaskKey key, int attempt, AgentSpec spec) {
      this.key = key;
      this.attempt = attempt;
      this.spec = spec;
      this.pid = FIRST_PID + pids.incrementAndGet();
      this.thread = Thread.currentThread().getName();
      this.startedAtFakeNanos = clock.nanoTime();
      this.seq = events.incrementAndGet();
    }

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
      synchronized (this) {
        if (stopReason == null) {
          stopReason = reason;
          stoppedSeq = events.incrementAndGet();
          stops.add(this);
        }
      }
      end(FakeAgentRunner.result(AgentResult.Outcome.STOPPED, 143, "", "", reason));
    }

    /** The test ends the run: exit {@code code} with {@code response} on stdout. */
    public void finish(int code, String response) {
      end(FakeAgentRunner.result(AgentResult.Outcome.EXITED, code, response, "", null));
    }

    void end(AgentResult r) {
      synchronized (this) {
        if (result.isDone()) return;
        endedSeq = events.incrementAndGet();
        concurrent(key).decrementAndGet(); // before the engine can see the result
      }
      result.complete(r);
    }

    public boolean stopped() {
      return stopReason != null;
    }

    public String stopReason() {
      return stopReason;
    }

    public boolean ended() {
      return result.isDone();
    }

    /** Order of the stop among all starts, stops and ends; -1 if never stopped. */
    public long stoppedSeq() {
      return stoppedSeq;
    }

    public long endedSeq() {
      return endedSeq;
    }

    @Override
    public String toString() {
      return "run " + key + " attempt " + attempt + (stopReason == null ? "" : " stopped: " + stopReason);
    }
  }

  private final String sourceName;
  private final Clock clock;
  private final AtomicLong pids = new AtomicLong();
  private final AtomicLong events = new AtomicLong();
  private final Map<TaskKey, Deque<Behaviour>> scripts = new HashMap<>();
  private final Map<TaskKey, AtomicInteger> concurrent = new HashMap<>();
  private final Map<TaskKey, Integer> maxConcurrent = new HashMap<>();
  private final List<Run> starts = new CopyOnWriteArrayList<>();
  private final List<Run> stops = new CopyOnWriteArrayList<>();
  private final List<TaskKey> failedStarts = new CopyOnWriteArrayList<>();
  private volatile Behaviour fallback = succeed("ok");

  public FakeAgentRunner(Clock clock) {
    this(clock, "ats");
  }

  public FakeAgentRunner(Clock clock, String sourceName) {
    this.clock = clock;
    this.sourceName = sourceName;
  }

  /** What a start does when nothing is scripted for its task. */
  public FakeAgentRunner byDefault(Behaviour b) {
    fallback = b;
    return this;
  }

  /** The behaviours of the next starts of {@code key}, in order. */
  public synchronized FakeAgentRunner script(TaskKey key, Behaviour... next) {
    Deque<Behaviour> q = scripts.computeIfAbsent(key, k -> new ArrayDeque<>());
    q.addAll(List.of(next));
    return this;
  }

  @Override
  public RunningAgent start(AgentSpec spec) throws IOException {
    TaskKey key = new TaskKey(sourceName, spec.env().get("ATS_TASK_ID"));
    int attempt = Integer.parseInt(spec.env().getOrDefault("ATS_ATTEMPT", "0"));
    Behaviour b;
    synchronized (this) {
      Deque<Behaviour> q = scripts.get(key);
      b = q == null || q.isEmpty() ? fallback : q.poll();
    }
    Run run = new Run(key, attempt, spec);
    AgentResult now;
    synchronized (this) {
      int n = concurrent(key).incrementAndGet();
      maxConcurrent.merge(key, n, Math::max);
    }
    try {
      now = b.begin(run);
    } catch (IOException | RuntimeException e) {
      synchronized (this) {
        concurrent(key).decrementAndGet();
      }
      failedStarts.add(key);
      throw e;
    }
    starts.add(run);
    if (now != null) run.end(now);
    return run;
  }

  private synchronized AtomicInteger concurrent(TaskKey key) {
    return concurrent.computeIfAbsent(key, k -> new AtomicInteger());
  }

  /** Runs started (those that threw at start are not among them). */
  public List<Run> starts() {
    return List.copyOf(starts);
  }

  public List<Run> starts(TaskKey key) {
    return starts.stream().filter(r -> r.key.equals(key)).toList();
  }

  public List<Run> stops() {
    return List.copyOf(stops);
  }

  /** Starts that threw (IOException or RuntimeException). */
  public List<TaskKey> failedStarts() {
    return List.copyOf(failedStarts);
  }

  /** The most runs of {@code key} that were going at the same time. */
  public synchronized int maxConcurrent(TaskKey key) {
    return maxConcurrent.getOrDefault(key, 0);
  }

  /** Runs of {@code key} going now. */
  public int runningNow(TaskKey key) {
    return concurrent(key).get();
  }

  /** The highest concurrent count over all tasks. */
  public synchronized int maxConcurrentAnyTask() {
    return maxConcurrent.values().stream().mapToInt(Integer::intValue).max().orElse(0);
  }
}
