package dev.atsdispatch.exec;

import dev.atsdispatch.files.OwnerOnly;
import dev.atsdispatch.time.Clock;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs agents as real processes, each in its own session and process group (through
 * {@code setsid}), with a scrubbed environment and its own working directory. Per attempt: one
 * watchdog thread (timeouts, stop requests, reaping) and two drain threads (stdout, stderr) plus a
 * short-lived stdin writer. Every way an attempt ends goes through TERM to the group, a grace
 * period, then KILL to the group and to every descendant seen while it ran, so nothing outlives
 * it. Deadlines are read from the {@link Clock} seam; the watchdog polls it every {@code tick}.
 */
public final class ProcessAgentRunner implements AgentRunner {
  private static final Logger log = LoggerFactory.getLogger(ProcessAgentRunner.class);
  private static final String SETSID = Files.isExecutable(Path.of("/usr/bin/setsid"))
      ? "/usr/bin/setsid" : "setsid";
  private static final Duration DRAIN_WAIT = Duration.ofSeconds(5);
  /**
   * Holds a spawned agent until the service has recorded it: reads one line from stdin (EOF, as
   * when the service died first: exit without running anything), then execs the agent in place,
   * so its pid, process group and start time stay those recorded. The rest of stdin is the prompt.
   */
  private static final String GATE = "IFS= read -r go || exit 125; exec \"$@\"";
  /** The gate for a sandboxed agent: bwrap runs with TERM ignored (see {@link Sandbox}). */
  private static final String SANDBOX_GATE = "IFS= read -r go || exit 125; trap '' TERM; exec \"$@\"";
  private static final String SANDBOX_START = "trap '' TERM; exec \"$@\"";
  /** Characters of the prompt encoded and written to stdin at a time. */
  private static final int STDIN_SLICE = 64 * 1024;
  /**
   * The attempts' threads (watchdog, two drains, stdin writer), reused: starting four new threads
   * per agent cost about 1.8 ms of the pickup on 2 cores, while the agent's own start competed for
   * them. Unbounded like the threads it replaces (four per running agent); idle ones end after 60 s.
   */
  private static final ExecutorService THREADS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
      new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "agent-idle");
        t.setDaemon(true);
        return t;
      });

  private static final String NUL_REFUSED = "the agent's environment or arguments hold a value the OS cannot pass (a NUL)";

  private final Clock clock;
  private final Duration tick;
  private final Sandbox sandbox;
  private volatile ReadyGates gates;

  public ProcessAgentRunner(Clock clock, Duration tick) {
    this(clock, tick, Sandbox.none());
  }

  public ProcessAgentRunner(Clock clock, Duration tick, Sandbox sandbox) {
    this.clock = clock;
    this.tick = tick;
    this.sandbox = sandbox;
  }

  public ProcessAgentRunner() {
    this(Clock.SYSTEM, Duration.ofMillis(100));
  }

  /**
   * Finds {@code program} the way execvp would with the agent's PATH; returns the resolved file,
   * or throws IOException naming what was searched.
   */
  public static Path resolve(String program, Map<String, String> env) throws IOException {
    return resolve(program, env, "agent command");
  }

  /** As {@link #resolve(String, Map)}; {@code what} names the program in the error message. */
  public static Path resolve(String program, Map<String, String> env, String what) throws IOException {
    if (program.contains("/")) {
      Path p = Path.of(program);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
      throw new IOException(what + " not found or not executable: " + program);
    }
    String path = env.getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (String dir : path.split(File.pathSeparator)) {
      if (dir.isEmpty()) continue;
      Path p = Path.of(dir, program);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
    }
    throw new IOException(what + " not found on PATH (" + path + "): " + program);
  }

  /** When the process {@code pid} started, in epoch ms, or -1 if it is not running. */
  public static long startMillis(long pid) {
    return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).map(i -> i.toEpochMilli())
        .orElse(-1L);
  }

  /**
   * Kills process group {@code pgid} left by an earlier incarnation of the service, but only if
   * its leader is the same process that was recorded (same start time), never a reused pid.
   * Returns whether it killed anything.
   */
  public static boolean killLeftover(long pgid, long recordedStartMillis) {
    long now = startMillis(pgid);
    if (now < 0 || recordedStartMillis < 0 || Math.abs(now - recordedStartMillis) > 1000) return false;
    ProcessGroups.signal(pgid, "KILL");
    return true;
  }

  @Override
  public RunningAgent start(AgentSpec spec) throws IOException {
    return start(spec, null);
  }

  /**
   * With {@code spawned}, the agent is started behind a one-line gate ({@code /bin/sh}, exec'd
   * away before the agent runs) and let go only after {@code spawned} has returned. When this
   * runner keeps gates ready ({@link #keepingGatesReady}), a gate started ahead takes the agent:
   * its line also carries the directory, the environment and the command, so the fork and the
   * two execs before the gate are off the pickup's path.
   */
  @Override
  public RunningAgent start(AgentSpec spec, Spawned spawned) throws IOException {
    List<String> argv = spec.argv();
    Path program = resolve(argv.get(0), spec.env());
    if (argv.get(0).contains("/") && !Path.of(argv.get(0)).isAbsolute()) {
      // the service's settings made it absolute at start-up already; a ServiceConfig built another
      // way (tests, bench) is taken from the service's directory too, never from the work directory
      List<String> abs = new java.util.ArrayList<>(argv);
      abs.set(0, program.toAbsolutePath().toString());
      argv = abs;
    }
    OwnerOnly.createDirectories(spec.workDir());
    if (spec.stdoutLog() != null) OwnerOnly.createDirectories(spec.stdoutLog().toAbsolutePath().getParent());
    if (spec.stderrLog() != null) OwnerOnly.createDirectories(spec.stderrLog().toAbsolutePath().getParent());
    List<String> agentCmd = sandbox.enabled() ? sandbox.wrap(argv, spec.workDir(), program) : argv;
    Process process = spawned == null ? null : throughReadyGate(spec, agentCmd, spawned);
    if (process == null) process = throughNewGate(spec, agentCmd, spawned);
    // the attempt keeps no prompt: a huge one lives only until the stdin writer has written it
    Attempt a = new Attempt(spec.withoutPrompt(), process);
    a.begin(spec.templated() ? null : spec.prompt());
    return a;
  }

  /** Forks the agent now: setsid, then the gate when {@code spawned} is given, then the agent. */
  private Process throughNewGate(AgentSpec spec, List<String> agentCmd, Spawned spawned) throws IOException {
    List<String> cmd = new java.util.ArrayList<>(agentCmd.size() + 5);
    cmd.add(SETSID);
    if (sandbox.enabled()) {
      cmd.addAll(List.of("/bin/sh", "-c", spawned != null ? SANDBOX_GATE : SANDBOX_START, "ats-dispatch-gate"));
    } else if (spawned != null) {
      cmd.addAll(List.of("/bin/sh", "-c", GATE, "ats-dispatch-gate"));
    }
    cmd.addAll(agentCmd);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(spec.workDir().toFile());
    Map<String, String> env = pb.environment();
    env.clear();
    Process process;
    try {
      env.putAll(spec.env());
      process = pb.start();
    } catch (IllegalArgumentException e) {
      // the JDK's message quotes the offending value, which may be task text: never passed on
      throw new IOException(NUL_REFUSED);
    }
    if (spawned != null) {
      try {
        spawned.started(process.pid(), startMillis(process.pid()));
        OutputStream in = process.getOutputStream();
        in.write('\n');
        in.flush();
      } catch (IOException | RuntimeException e) {
        process.destroyForcibly(); // still in the gate: the agent has run nothing
        throw e;
      }
    }
    return process;
  }

  /**
   * Hands the agent to a gate started ahead, or returns null (none ready, or this spec cannot be
   * said in its line): the caller then forks one. The line is shell words, each single-quoted, so
   * no character of task text is ever read as shell syntax.
   */
  private Process throughReadyGate(AgentSpec spec, List<String> agentCmd, Spawned spawned) throws IOException {
    if (gates == null) return null;
    byte[] line = ReadyGates.line(spec.workDir(), spec.env(), agentCmd, sandbox.enabled());
    if (line == null) return null;
    ReadyGates.Gate g = gates.take();
    if (g == null) return null;
    try {
      spawned.started(g.process().pid(), g.startMs());
    } catch (RuntimeException e) {
      g.discard(); // still in the gate: the agent has run nothing
      throw e;
    }
    try {
      OutputStream in = g.process().getOutputStream();
      in.write(line);
      in.flush();
      return g.process();
    } catch (IOException e) {
      // the gate died while it waited (killed from outside): the marker is rewritten by a fresh one
      g.discard();
      return null;
    }
  }

  /**
   * Keeps {@code n} gates started ahead of the agents that will need them (see {@link ReadyGates});
   * {@link #close} ends them. Returns this runner.
   */
  public ProcessAgentRunner keepingGatesReady(int n) {
    if (n > 0 && gates == null) gates = new ReadyGates(n, SETSID);
    return this;
  }

  /** How many gates are ready now (for tests). */
  public int readyGates() {
    ReadyGates g = gates;
    return g == null ? 0 : g.readyCount();
  }

  /** Ends the gates kept ready; the agents already running are not touched. */
  @Override
  public void close() {
    if (gates != null) gates.close();
  }

  /** One running attempt and its threads. */
  private final class Attempt implements RunningAgent {
    private final AgentSpec spec;
    private final Process process;
    private final long pgid;
    private final long started;
    private final AtomicLong lastOutput;
    private final OutputDrain out;
    private final OutputDrain err;
    private final String name;
    private volatile Future<?> outDone;
    private volatile Future<?> errDone;
    private final CompletableFuture<AgentResult> result = new CompletableFuture<>();
    private final Map<Long, ProcessHandle> seen = new HashMap<>();
    private volatile String stopReason;
    private volatile Duration stopGrace;

    Attempt(AgentSpec spec, Process process) {
      this.spec = spec;
      this.process = process;
      this.pgid = process.pid(); // setsid execs in place: the agent leads its own group
      this.started = clock.nanoTime();
      this.lastOutput = new AtomicLong(started);
      var sink = spec.lines();
      this.out = new OutputDrain(process.getInputStream(), spec.stdoutLog(), spec.sealLogsTo(),
          spec.responseCapBytes(), 0, clock, lastOutput, sink == null ? null : l -> sink.accept("stdout", l));
      this.err = new OutputDrain(process.getErrorStream(), spec.stderrLog(), spec.sealLogsTo(), 0,
          spec.stderrTailBytes(), clock, lastOutput, sink == null ? null : l -> sink.accept("stderr", l));
      this.name = "agent-" + pgid;
    }

    /** Starts the threads; {@code prompt} goes to stdin, or null closes stdin at once. */
    void begin(String prompt) {
      outDone = THREADS.submit(named(out, name + "-stdout"));
      errDone = THREADS.submit(named(err, name + "-stderr"));
      if (prompt == null) {
        closeStdin();
      } else {
        THREADS.execute(named(() -> writeStdin(prompt), name + "-stdin"));
      }
      THREADS.execute(named(this::watch, name + "-watch"));
    }

    /** Writes the prompt as UTF-8 in slices, so no copy of the whole prompt as bytes is made. */
    private void writeStdin(String prompt) {
      try (OutputStream in = process.getOutputStream()) {
        for (int from = 0; from < prompt.length(); ) {
          int to = Math.min(prompt.length(), from + STDIN_SLICE);
          if (to < prompt.length() && Character.isHighSurrogate(prompt.charAt(to - 1))) to--; // keep a pair whole
          in.write(prompt.substring(from, to).getBytes(StandardCharsets.UTF_8));
          from = to;
        }
      } catch (IOException e) {
        // EPIPE: the agent does not read its stdin, or exited; not an error
      }
    }

    private void closeStdin() {
      try {
        process.getOutputStream().close();
      } catch (IOException e) {
        // nothing to do
      }
    }

    @Override
    public long pid() {
      return pgid;
    }

    @Override
    public CompletableFuture<AgentResult> result() {
      return result;
    }

    @Override
    public void stop(String reason, Duration grace) {
      synchronized (this) {
        if (stopReason != null) return;
        stopGrace = grace;
        stopReason = reason;
      }
    }

    private void watch() {
      AgentResult.Outcome outcome = AgentResult.Outcome.EXITED;
      String why = null;
      long killAt = Long.MAX_VALUE;
      boolean killed = false;
      // the first walk of /proc for descendants after a second, not at once: a just-started agent
      // has none yet, and most agents of a busy service end before then (a walk costs ~1 ms of CPU)
      long nextScan = started + Duration.ofSeconds(1).toNanos();
      long timeoutAt = started + spec.timeout().toNanos();
      try {
        while (process.isAlive()) {
          long now = clock.nanoTime();
          if (now - nextScan >= 0) {
            track();
            nextScan = now + Duration.ofSeconds(1).toNanos();
          }
          if (killAt == Long.MAX_VALUE) {
            Duration grace = spec.grace();
            if (stopReason != null) {
              outcome = AgentResult.Outcome.STOPPED;
              why = stopReason;
              grace = stopGrace;
            } else if (now - timeoutAt >= 0) {
              outcome = AgentResult.Outcome.TIMED_OUT;
            } else if (spec.noOutputTimeout() != null
                && now - lastOutput.get() - spec.noOutputTimeout().toNanos() >= 0) {
              outcome = AgentResult.Outcome.NO_OUTPUT;
            }
            if (outcome != AgentResult.Outcome.EXITED) {
              track();
              terminate("TERM");
              killAt = now + grace.toNanos();
            }
          } else if (!killed && now - killAt >= 0) {
            track();
            terminate("KILL");
            killed = true;
          }
          process.waitFor(tick.toMillis(), TimeUnit.MILLISECONDS);
        }
        long ended = clock.nanoTime();
        int exit = process.exitValue();
        cleanUpLeftovers(killed);
        joinDrains();
        result.complete(new AgentResult(outcome, exit, (ended - started) / 1_000_000,
            out.head().strip(), out.truncated(), out.total(), err.tail(), why));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        terminate("KILL");
        result.completeExceptionally(e);
      } catch (RuntimeException e) {
        terminate("KILL");
        result.completeExceptionally(e);
      }
    }

    /** Remembers every descendant, so one that left the group is still killed at the end. */
    private void track() {
      process.descendants().forEach(h -> seen.putIfAbsent(h.pid(), h));
    }

    private void terminate(String signal) {
      ProcessGroups.signal(pgid, signal);
      for (ProcessHandle h : seen.values()) {
        if (!h.isAlive()) continue;
        if (signal.equals("KILL")) h.destroyForcibly(); else h.destroy();
      }
    }

    /**
     * The agent has exited; anything it left behind in its group (or that it spawned elsewhere)
     * gets TERM, the grace period, then KILL, so that no descendant outlives the attempt.
     */
    private void cleanUpLeftovers(boolean alreadyKilled) throws InterruptedException {
      if (!anyLeft()) return;
      if (!alreadyKilled) {
        terminate("TERM");
        long deadline = clock.nanoTime() + spec.grace().toNanos();
        while (anyLeft() && clock.nanoTime() - deadline < 0) {
          Thread.sleep(Math.min(tick.toMillis(), 50));
        }
      }
      if (anyLeft()) terminate("KILL");
      long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (anyLeft() && System.nanoTime() < until) Thread.sleep(20);
    }

    private boolean anyLeft() {
      // the usual end, an empty group, is the kernel's answer; a walk of /proc (~1 ms of CPU) only
      // when the group still has processes, zombies included (the walk leaves those out)
      if (!ProcessGroups.surelyEmpty(pgid) && !ProcessGroups.members(pgid).isEmpty()) return true;
      return seen.values().stream().anyMatch(ProcessGroups::running);
    }

    private void joinDrains() throws InterruptedException {
      long until = System.nanoTime() + DRAIN_WAIT.toNanos();
      awaitDrain(outDone, until);
      awaitDrain(errDone, until);
      if (!outDone.isDone() || !errDone.isDone()) {
        log.warn("agent {} output pipes still open after every known process ended", pgid);
      }
      if (out.logError() != null || err.logError() != null) {
        log.error("agent {} log could not be written: {}", pgid,
            out.logError() != null ? out.logError() : err.logError());
      }
    }
  }

  /** Waits for a drain until {@code until} (System.nanoTime); a drain that threw has ended all the same. */
  private static void awaitDrain(Future<?> f, long until) throws InterruptedException {
    try {
      f.get(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // a drain that failed has still ended; one still running is reported by the caller
    }
  }

  /** Runs {@code r} under {@code name}, so a thread dump names the agent each pooled thread serves. */
  private static Runnable named(Runnable r, String name) {
    return () -> {
      Thread t = Thread.currentThread();
      String idle = t.getName();
      t.setName(name);
      try {
        r.run();
      } finally {
        t.setName(idle);
      }
    };
  }
}
