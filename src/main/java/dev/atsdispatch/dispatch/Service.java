package dev.atsdispatch.dispatch;

import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.exec.AgentRunner;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.source.ats.AtsSource;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.status.Readiness;
import dev.atsdispatch.time.Clock;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running executor: the state-directory lock, the task source (an ATS channel, or any other), the engine
 * it feeds, and a health check of the source every 10 s for readiness. {@link #start()} once,
 * {@link #close()} once: close is the graceful shutdown (drain, then stop agents). Threads: one
 * health-check timer; the rest belong to the source and the engine.
 */
public final class Service implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Service.class);

  private final ServiceConfig cfg;
  private final TaskSource source;
  private final StateDir state;
  private final Extensions ext;
  private final AgentRunner runner;
  private final Clock clock;
  private final Map<String, String> env;
  private volatile Engine engine;
  private volatile dev.atsdispatch.api.AgentApi api;

  /** Where the agent API's socket is: its own directory in the state directory, bound into the sandbox. */
  public static java.nio.file.Path apiDir(java.nio.file.Path stateDir) {
    return stateDir.toAbsolutePath().normalize().resolve("api");
  }

  private Capacity capacity;
  private int capacityPriority;
  private int capacityOrder;
  private dev.atsdispatch.status.AgentEvents sharedEvents;
  private DailySpend sharedSpend;
  private String route;

  /** Names this service's route (shown with its running agents); call before {@link #start}. */
  public Service route(String name) {
    this.route = name;
    return this;
  }

  /** The backend's daily spend is counted in {@code s}, shared with the other routes (call before {@link #start}). */
  public Service shareSpend(DailySpend s) {
    this.sharedSpend = s;
    return this;
  }

  /** Makes this service one route of several, sharing {@code c} (call before {@link #start}). */
  public Service shareCapacity(Capacity c, int priority, int order) {
    this.capacity = c;
    this.capacityPriority = priority;
    this.capacityOrder = order;
    return this;
  }

  /** The agents' events go to {@code events}, shared with the other routes (call before {@link #start}). */
  public Service shareAgentEvents(dev.atsdispatch.status.AgentEvents events) {
    this.sharedEvents = events;
    return this;
  }

  /** The agent API, when it runs. */
  public dev.atsdispatch.api.AgentApi agentApi() {
    return api;
  }
  private TaskObserver observer = TaskObserver.NONE;
  private Intake intake = Intake.PLAIN;
  private final ScheduledExecutorService health = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "source-health");
    t.setDaemon(true);
    return t;
  });
  private boolean closed;
  private volatile boolean reachable;
  private volatile String detail = "not checked yet";

  /**
   * What the service is built with besides its core: the encryption policy and the observers
   * (notifications), each made from the state directory and the source once the service has them.
   */
  public record Extensions(Function<StateDir, Intake> intake,
      BiFunction<StateDir, TaskSource, TaskObserver> observer) {
    public static final Extensions NONE = new Extensions(s -> Intake.PLAIN, (s, c) -> TaskObserver.NONE);
  }

  public Service(ServiceConfig cfg, AtsSettings settings, AtsClient client, AgentRunner runner,
      Clock clock, Map<String, String> env, EventWatcher.Timing timing) {
    this(cfg, settings, client, runner, clock, env, timing, Extensions.NONE);
  }

  public Service(ServiceConfig cfg, AtsSettings settings, AtsClient client, AgentRunner runner,
      Clock clock, Map<String, String> env, EventWatcher.Timing timing, Extensions ext) {
    this(cfg, new AtsSource("ats", client, settings, cfg.channel(), clock, timing), runner, clock, env, ext);
  }

  /** A service on any task source (NATS JetStream, ...), which it closes when it stops. */
  public Service(ServiceConfig cfg, TaskSource source, AgentRunner runner, Clock clock, Map<String, String> env,
      Extensions ext) {
    this.cfg = cfg;
    this.state = new StateDir(cfg.stateDir());
    this.ext = ext;
    this.runner = runner;
    this.clock = clock;
    this.env = Map.copyOf(env);
    this.source = source;
  }

  public Engine engine() {
    return engine;
  }

  public TaskSource source() {
    return source;
  }

  /** Takes the state directory's lock, then builds and starts the engine on the source. */
  public void start() {
    state.lock();
    observer = ext.observer().apply(state, source);
    intake = ext.intake().apply(state);
    engine = new Engine(cfg, source, runner, state, clock, env, intake, observer, DispatchMetrics.create(),
        state.instanceId());
    if (capacity != null) engine.shareCapacity(capacity, capacityPriority, capacityOrder);
    if (sharedEvents != null) engine.shareAgentEvents(sharedEvents);
    if (sharedSpend != null) engine.shareSpend(sharedSpend);
    if (route != null) engine.route(route);
    if (cfg.agentApi()) {
      try {
        api = dev.atsdispatch.api.AgentApi.start(apiDir(cfg.stateDir()), source, engine.agentEvents());
        engine.useAgentApi(api);
      } catch (java.io.IOException e) {
        log.warn("the agent API is off: {}", e.getMessage());
      }
    }
    engine.start();
    health.scheduleWithFixedDelay(this::checkHealth, 0, 10, TimeUnit.SECONDS);
    log.info("ats-dispatch watching {} (concurrency {}, lease {} s)", source.describe(), cfg.concurrency(),
        cfg.lease().toSeconds());
  }

  /** Ready: the source's push channel is up, and it answered the last health check (every 10 s). */
  public Readiness readiness() {
    return new Readiness() {
      @Override
      public boolean subscribed() {
        return source.connected();
      }

      @Override
      public boolean atsReachable() {
        return reachable;
      }

      @Override
      public String detail() {
        Engine e = engine;
        Pause p = e == null ? null : e.pause();
        return p == null ? detail : detail + "; claiming paused until " + p.until() + " (" + p.reason() + ")";
      }
    };
  }

  private void checkHealth() {
    try {
      source.health();
      reachable = true;
      detail = "the source answered";
    } catch (RuntimeException e) {
      reachable = false;
      detail = "source health check failed: " + e.getMessage();
    }
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    health.shutdownNow();
    if (engine != null) engine.shutdown();
    if (api != null) api.close();
    runner.close();
    observer.close();
    intake.close();
    source.close();
    state.close();
    log.info("ats-dispatch stopped");
  }
}
