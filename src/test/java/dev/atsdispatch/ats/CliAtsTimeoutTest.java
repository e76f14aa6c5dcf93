package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.AtsStandIn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cli transport against fake {@code ats} shell scripts that hang, leave a grandchild holding
 * the pipes or flood their output: every call ends by its timeout and leaves no process behind.
 * Each script writes its pids to files in {@code $HOME} (the temp dir), which {@link #killLeftovers}
 * uses to clean up after a failed run.
 */
final class CliAtsTimeoutTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(1);
  private static final Duration LONG = Duration.ofSeconds(30);
  /** Records the script's pid, then becomes a {@code sleep} that outlives any test. */
  private static final String HANG = "echo $$ >> \"$HOME/pids\"\nexec sleep 1000\n";
  private static final String TASK = "{\"id\":7,\"title\":\"t\",\"status\":\"pending\"}";

  @TempDir Path dir;

  @AfterEach
  void killLeftovers() throws IOException {
    for (long pid : pids()) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
  }

  @Test
  void aScriptThatSleepsForeverTimesOutAndIsKilled() throws Exception {
    CliAtsClient c = client(HANG, TIMEOUT);
    assertTimesOutPromptly(() -> c.get(7));
    assertAllGone();
  }

  @Test
  void aGrandchildHoldingStdoutOfAHungScriptIsKilledToo() throws Exception {
    CliAtsClient c = client("sleep 1000 &\necho $! >> \"$HOME/pids\"\n" + HANG, TIMEOUT);
    assertTimesOutPromptly(() -> c.get(7));
    assertEquals(2, pids().size());
    assertAllGone();
  }

  @Test
  void aGrandchildHoldingStdoutAfterTheScriptExitedStillEndsTheCall() throws Exception {
    CliAtsClient c = client("sleep 1000 &\necho $! >> \"$HOME/pids\"\necho $$ >> \"$HOME/pids\"\n"
        + "sleep 0.6\necho '" + TASK + "'\nexit 0\n", TIMEOUT);
    assertTimesOutPromptly(() -> c.get(7));
    assertEquals(2, pids().size());
    assertAllGone();
  }

  @Test
  void eightHungCallsTimeOutTogetherNotOneAfterAnother() throws Exception {
    CliAtsClient c = client(HANG, TIMEOUT);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      long t0 = System.nanoTime();
      List<Future<AtsException>> calls = new ArrayList<>();
      for (int i = 0; i < 8; i++) calls.add(pool.submit(() -> assertThrows(AtsException.class, () -> c.get(7))));
      for (Future<AtsException> f : calls) {
        AtsException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> f.get());
        assertEquals(AtsException.Kind.UNAVAILABLE, e.kind());
        assertEquals("ats get timed out after 1 s", e.getMessage());
      }
      double s = seconds(t0);
      assertTrue(s < 3.0, "8 concurrent calls took " + s + " s");
    } finally {
      pool.shutdownNow();
    }
    assertEquals(8, pids().size());
    assertAllGone();
  }

  @Test
  void interruptingTheCallerKillsTheProcess() throws Exception {
    CliAtsClient c = client(HANG, LONG);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean stillInterrupted = new AtomicBoolean();
    Thread caller = new Thread(() -> {
      try {
        c.get(7);
      } catch (Throwable e) {
        thrown.set(e);
        stillInterrupted.set(Thread.currentThread().isInterrupted());
      }
    });
    caller.setDaemon(true);
    caller.start();
    for (int i = 0; i < 100 && pids().isEmpty(); i++) Thread.sleep(50);
    assertEquals(1, pids().size());
    long t0 = System.nanoTime();
    caller.interrupt();
    caller.join(5_000);
    assertFalse(caller.isAlive(), "the interrupted call did not end");
    assertTrue(seconds(t0) < 2.0);
    AtsException e = (AtsException) thrown.get();
    assertEquals(AtsException.Kind.UNAVAILABLE, e.kind());
    assertEquals("ats get interrupted", e.getMessage());
    assertTrue(stillInterrupted.get(), "the interrupt flag is kept");
    assertAllGone();
  }

  @Test
  void floodsOnBothStreamsNeedNoFreeCommonPoolThread() throws Exception {
    // 8 MB on stderr, then a task with a 4 MB description on stdout, with every common-pool worker
    // busy (a stderr reader there would never run; the pool is only used when its parallelism is
    // above 1, so this is a real check on machines with 3 or more cores)
    CliAtsClient c = client("head -c 8000000 /dev/zero | tr '\\0' e >&2\n"
        + "printf '{\"id\":7,\"title\":\"t\",\"status\":\"pending\",\"description\":\"'\n"
        + "head -c 4000000 /dev/zero | tr '\\0' d\nprintf '\"}\\n'\n", LONG);
    int n = ForkJoinPool.commonPool().getParallelism();
    CountDownLatch busy = new CountDownLatch(n);
    CountDownLatch release = new CountDownLatch(1);
    for (int i = 0; i < n; i++) {
      ForkJoinPool.commonPool().execute(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
    }
    try {
      busy.await();
      Task t = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> c.get(7));
      assertEquals(7, t.id());
      assertEquals("d".repeat(4_000_000), t.description());
    } finally {
      release.countDown();
    }
  }

  @Test
  void theErrorLineAfterAStderrFloodIsStillSeen() throws Exception {
    CliAtsClient c = client("head -c 8000000 /dev/zero | tr '\\0' e >&2\n"
        + "printf '\\nError: Task 7 not found\\n' >&2\nexit 1\n", LONG);
    AtsException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(AtsException.class, () -> c.get(7)));
    assertEquals(AtsException.Kind.NOT_FOUND, e.kind());
    assertEquals("Task 7 not found", e.getMessage());
  }

  @Test
  void stdoutPastTheLimitIsAnErrorNotAnOutOfMemory() throws Exception {
    CliAtsClient c = client("head -c 70000000 /dev/zero | tr '\\0' ' '\necho '" + TASK + "'\n", LONG);
    AtsException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
        () -> assertThrows(AtsException.class, () -> c.get(7)));
    assertEquals(AtsException.Kind.UNAVAILABLE, e.kind());
    assertEquals("ats get printed more than 64 MiB", e.getMessage());
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private CliAtsClient client(String script, Duration timeout) throws IOException {
    Path ats = dir.resolve("bin/ats");
    Files.createDirectories(ats.getParent());
    Files.writeString(ats, "#!/bin/sh\n" + script);
    Files.setPosixFilePermissions(ats, PosixFilePermissions.fromString("rwx------"));
    AtsSettings settings = new AtsSettings("http://127.0.0.1:9", "default", "main", false, "agent", "id", "name");
    return new CliAtsClient(settings, ats.toString(), timeout, AtsStandIn.env(dir));
  }

  private static void assertTimesOutPromptly(Executable call) {
    long t0 = System.nanoTime();
    AtsException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(AtsException.class, call));
    double s = seconds(t0);
    assertEquals(AtsException.Kind.UNAVAILABLE, e.kind());
    assertEquals("ats get timed out after 1 s", e.getMessage());
    assertTrue(s >= 0.95 && s < 2.0, "took " + s + " s");
  }

  private List<Long> pids() throws IOException {
    Path f = dir.resolve("pids");
    if (!Files.exists(f)) return List.of();
    try (Stream<String> lines = Files.lines(f)) {
      return lines.map(String::strip).filter(l -> !l.isEmpty()).map(Long::parseLong).toList();
    }
  }

  /** Every pid the scripts recorded ends within 5 s (a zombie left for init to reap counts as ended). */
  private void assertAllGone() throws Exception {
    List<Long> pids = pids();
    assertFalse(pids.isEmpty(), "the script recorded no pid");
    for (int i = 0; i < 100 && pids.stream().anyMatch(CliAtsTimeoutTest::running); i++) Thread.sleep(50);
    for (long pid : pids) assertFalse(running(pid), "process " + pid + " is still running");
  }

  private static boolean running(long pid) {
    if (!Files.isDirectory(Path.of("/proc/self"))) {
      return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (IOException e) {
      return false;
    }
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }
}
