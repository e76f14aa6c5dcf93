package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.testing.FakeAgentRunner;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.FakeTaskSource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One engine on fakes: a {@link FakeTaskSource}, a {@link FakeAgentRunner}, a {@link FakeClock}
 * and a state directory in a temp dir. The config suits fast tests: a 3 s lease (the lease
 * keeper's real-time ticker then looks at the fake clock every 150 ms), no drain, no periodic
 * reconcile (a test asks for one with {@code source.connected()}), no retry backoff.
 */
final class EngineHarness implements AutoCloseable {
  /** What the observer was told, in order. */
  record Seen(String what, TaskKey key, int attempt, TaskObserver.Failure why, String reason) {}

  static final class RecordingObserver implements TaskObserver {
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    volatile RuntimeException throwOnPickup;

    @Override
    public void pickedUp(TaskView view, int attempt) {
      seen.add(new Seen("picked_up", view.key(), attempt, null, null));
      RuntimeException x = throwOnPickup;
      if (x != null) throw x;
    }

    @Override
    public void completed(TaskView view, int attempt, String result) {
      seen.add(new Seen("completed", view.key(), attempt, null, result));
    }

    @Override
    public void failed(TaskView view, int attempt, Failure why, String reason) {
      seen.add(new Seen("failed", view.key(), attempt, why, reason));
    }

    List<Seen> of(String what, TaskKey key) {
      return seen.stream().filter(s -> s.what().equals(what) && s.key().equals(key)).toList();
    }
  }

  static ServiceConfig.Builder config(Path dir) {
    ServiceConfig.Builder b = ServiceConfig.builder();
    b.agentCommand = List.of("fake-agent");
    b.stateDir = dir.resolve("state");
    b.keysDir = dir.resolve("keys");
    b.lease = Duration.ofSeconds(3);
    b.grace = Duration.ofMillis(100);
    b.drain = Duration.ZERO;
    b.reconcileEvery = Duration.ofHours(1);
    b.retryBackoff = Duration.ZERO;
    b.concurrency = 4;
    return b;
  }

  final FakeClock clock;
  final FakeTaskSource source;
  final FakeAgentRunner runner;
  final StateDir state;
  final ServiceConfig cfg;
  final RecordingObserver observer = new RecordingObserver();
  final Engine engine;
  private boolean shutDown;

  EngineHarness(FakeClock clock, FakeTaskSource source, FakeAgentRunner runner, ServiceConfig cfg, Intake intake) {
    this.clock = clock;
    this.source = source;
    this.runner = runner;
    this.cfg = cfg;
    this.state = new StateDir(cfg.stateDir());
    this.engine = new Engine(cfg, source, runner, state, clock, Map.of("PATH", "/usr/bin"), intake, observer,
        DispatchMetrics.create(), "instance-" + source.actor());
  }

  EngineHarness(Path dir, ServiceConfig.Builder b) {
    this(new FakeClock(), dir, b, Intake.PLAIN);
  }

  private EngineHarness(FakeClock clock, Path dir, ServiceConfig.Builder b, Intake intake) {
    this(clock, new FakeTaskSource(clock), new FakeAgentRunner(clock), b.build(), intake);
  }

  static EngineHarness withIntake(Path dir, ServiceConfig.Builder b, Intake intake) {
    return new EngineHarness(new FakeClock(), dir, b, intake);
  }

  EngineHarness start() {
    engine.start();
    return this;
  }

  TaskLedger.Summary summary(TaskKey k) {
    return state.ledger(k).summary();
  }

  List<String> ledgerEvents(TaskKey k) {
    return DispatchFixture.ledger(cfg.stateDir(), k.numericId()).stream().map(e -> e.path("event").asText()).toList();
  }

  /** Shuts the engine down, bounded in real time even if something in it is stuck. */
  void shutdown() {
    if (shutDown) return;
    shutDown = true;
    Thread t = new Thread(engine::shutdown, "test-shutdown");
    t.setDaemon(true);
    t.start();
    try {
      t.join(TimeUnit.SECONDS.toMillis(5));
      while (t.isAlive()) { // something is stuck on the fake clock: move it on
        source.openAllGates();
        clock.advance(Duration.ofMinutes(5));
        t.join(200);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    source.openAllGates();
    shutdown();
    state.close();
  }
}
