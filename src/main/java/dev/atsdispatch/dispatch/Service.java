package dev.atsdispatch.dispatch;

import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsEvent;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventTypes;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.status.Readiness;
import dev.atsdispatch.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running executor: the state-directory lock, the engine, and the WebSocket watcher that feeds
 * it (every confirmed subscription triggers a reconcile). {@link #start()} once, {@link #close()}
 * once: close is the graceful shutdown (drain, then stop agents).
 */
public final class Service implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Service.class);
  public static final List<String> EVENTS = List.of(EventTypes.CREATED, EventTypes.REOPENED,
      EventTypes.LEASE_EXPIRED, EventTypes.CANCELLED, EventTypes.COMPLETED, EventTypes.FAILED);

  private final ServiceConfig cfg;
  private final AtsClient client;
  private final StateDir state;
  private final Extensions ext;
  private final AgentRunner runner;
  private final Clock clock;
  private final Map<String, String> env;
  private volatile Engine engine;
  private TaskObserver observer = TaskObserver.NONE;
  private Intake intake = Intake.PLAIN;
  private final EventWatcher watcher;
  private final ScheduledExecutorService watcherTimers =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ats-watcher");
        t.setDaemon(true);
        return t;
      });
  private boolean closed;
  private final java.util.concurrent.atomic.AtomicInteger subscriptions = new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean atsReachable;
  private volatile String atsDetail = "not checked yet";

  public Service(ServiceConfig cfg, AtsSettings settings, AtsClient client, AgentRunner runner,
      Clock clock, Map<String, String> env, EventWatcher.Timing timing) {
    this(cfg, settings, client, runner, clock, env, timing, Extensions.NONE);
  }

  /**
   * What the service is built with besides its core: the encryption policy and the observers
   * (notifications), each made from the state directory and the ATS client once the service
   * has them.
   */
  public record Extensions(Function<StateDir, Intake> intake,
      BiFunction<StateDir, AtsClient, TaskObserver> observer) {
    public static final Extensions NONE = new Extensions(s -> Intake.PLAIN, (s, c) -> TaskObserver.NONE);
  }

  public Service(ServiceConfig cfg, AtsSettings settings, AtsClient client, AgentRunner runner,
      Clock clock, Map<String, String> env, EventWatcher.Timing timing, Extensions ext) {
    this.cfg = cfg;
    this.client = client;
    this.state = new StateDir(cfg.stateDir());
    this.ext = ext;
    this.runner = runner;
    this.clock = clock;
    this.env = Map.copyOf(env);
    this.watcher = new EventWatcher(settings, cfg.channel(), EVENTS, new EventWatcher.Listener() {
      @Override
      public void onSubscribed() {
        if (subscriptions.getAndIncrement() > 0) engine.metrics().webSocketReconnected();
        engine.reconcileSoon();
      }

      @Override
      public void onEvent(AtsEvent e) {
        engine.onEvent(e);
      }
    }, clock, watcherTimers, timing);
  }

  public Engine engine() {
    return engine;
  }

  public EventWatcher watcher() {
    return watcher;
  }

  /** Takes the state directory's lock, then builds and starts the engine and the watcher. */
  public void start() {
    state.lock();
    observer = ext.observer().apply(state, client);
    intake = ext.intake().apply(state);
    engine = new Engine(cfg, client, runner, state, clock, env, intake, observer);
    engine.start();
    watcher.start();
    watcherTimers.scheduleWithFixedDelay(this::checkHealth, 0, 10, java.util.concurrent.TimeUnit.SECONDS);
    log.info("ats-dispatch watching channel {} with {} transport (concurrency {}, lease {} s)",
        cfg.channel(), client.transport(), cfg.concurrency(), cfg.lease().toSeconds());
  }

  /** Ready: subscribed to the channel's events, and ATS answered the last health check (every 10 s). */
  public Readiness readiness() {
    return new Readiness() {
      @Override
      public boolean subscribed() {
        return watcher.subscribed();
      }

      @Override
      public boolean atsReachable() {
        return atsReachable;
      }

      @Override
      public String detail() {
        return atsDetail;
      }
    };
  }

  private void checkHealth() {
    try {
      client.health();
      atsReachable = true;
      atsDetail = "ATS answered";
    } catch (RuntimeException e) {
      atsReachable = false;
      atsDetail = "ATS health check failed: " + e.getMessage();
    }
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    watcher.close();
    watcherTimers.shutdownNow();
    if (engine != null) engine.shutdown();
    observer.close();
    intake.close();
    client.close();
    state.close();
    log.info("ats-dispatch stopped");
  }
}
