package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.ats.NewTask;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.crypto.Keyring;
import dev.atsdispatch.crypto.KeyringException;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.dispatch.Service;
import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.crypto.CryptoIntake;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.exec.Sandbox;
import dev.atsdispatch.files.OwnerOnly;
import dev.atsdispatch.notify.TaskNotifier;
import dev.atsdispatch.source.nats.NatsAccess;
import dev.atsdispatch.source.nats.NatsSource;
import dev.atsdispatch.status.StatusServer;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ats-dispatch run}: the long-running executor. Loads settings, optionally starts the dev
 * server in-process ({@code --embedded}), runs the preflight checks, then serves until SIGTERM or
 * SIGINT, when it drains and stops its agents.
 */
@Command(name = "run", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Watch an ATS channel and run each new task through the agent command.")
public final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);
  /** Agent gates kept started ahead (see ReadyGates): one for the next pickup, one for a burst. */
  private static final int READY_GATES = 2;
  @Mixin GlobalOptions global;
  @Mixin SettingsOptions options;

  @Option(names = "--embedded", description = "start the local ATS dev server in this process and use it "
      + "(http transport unless --transport is given)")
  boolean embedded;

  @Option(names = "--demo", description = "with --embedded: create one demo task, print its result, and exit")
  boolean demo;

  @Override
  public Integer call() {
    global.apply(LogSetup.Format.JSON);
    Settings s = options.loadOrExplain();
    if (s == null) return 2;
    if (demo && !embedded) {
      System.err.println("ats-dispatch: --demo needs --embedded");
      return 2;
    }
    // checked, never changed: a state or keys directory others can reach is refused
    for (var d : java.util.List.of(Map.entry("state_dir", s.service().stateDir()),
        Map.entry("keys_dir", s.service().keysDir()))) {
      String open = OwnerOnly.problem(d.getValue());
      if (open != null) {
        System.err.println("ats-dispatch: invalid setting " + d.getKey() + ": " + open);
        return 2;
      }
    }
    Sandbox sandbox;
    try {
      sandbox = sandbox(s, System.getenv());
    } catch (Sandbox.Unavailable e) {
      System.err.println("ats-dispatch: " + e.getMessage());
      return 2;
    }
    if (!s.routes().isEmpty()) {
      if (embedded || demo) {
        System.err.println("ats-dispatch: --embedded and --demo run one channel; they cannot be used with routes");
        return 2;
      }
      for (RouteSettings r : s.routes()) {
        Path d = Service.apiDir(routeState(s, r));
        sandbox = sandbox.bindingAfterHidden(d);
      }
      List<Service> all = routeServices(s, sandbox);
      return all == null ? 1 : serveRoutes(s, all);
    }
    if (s.board() != null) {
      if (embedded || demo) {
        System.err.println("ats-dispatch: --embedded and --demo start an ATS; they cannot be used with source = board");
        return 2;
      }
      Service svc = boardService(s, sandbox);
      return svc == null ? 1 : serve(s, svc, null, null);
    }
    if (s.nats() != null) {
      if (embedded || demo) {
        System.err.println("ats-dispatch: --embedded and --demo start an ATS; they cannot be used with source = nats");
        return 2;
      }
      Service svc = natsService(s, sandbox);
      return svc == null ? 1 : serve(s, svc, null, null);
    }
    DevServer server = null;
    AtsSettings ats = s.ats();
    String transport = s.transport();
    if (embedded) {
      try {
        Path db = s.service().stateDir().resolve("embedded-ats.sqlite");
        // SQLite gives its -wal and -shm files the mode of the database file
        OwnerOnly.createDirectories(db.getParent());
        OwnerOnly.open(db, java.nio.file.StandardOpenOption.WRITE).close();
        server = DevServer.builder().port(s.embeddedPort()).database(db).start();
      } catch (RuntimeException | IOException e) {
        System.err.println("ats-dispatch: cannot start the embedded dev server: " + e.getMessage());
        return 1;
      }
      ats = new AtsSettings(server.url(), ats.org(), ats.project(), false, ats.actorType(), ats.actorId(),
          ats.actorName());
      if (s.sources().get("transport").equals("default")) transport = "http";
    }
    // each service claims as an actor of its own, so two services with the same settings never
    // take one task (a re-claim by the holder is a renewal): the actor id carries the instance id
    String instance;
    try {
      instance = new StateDir(s.service().stateDir()).instanceId();
    } catch (RuntimeException e) {
      System.err.println("ats-dispatch: " + e.getMessage());
      if (server != null) server.close();
      return 1;
    }
    ats = new AtsSettings(ats.url(), ats.org(), ats.project(), ats.scoped(), ats.actorType(),
        ats.actorId() + "-" + instance, ats.actorName());
    AtsClient client;
    try {
      client = Transports.open(transport, ats, s.atsBin(), s.atsTimeout(), System.getenv());
      preflight(s, client);
      ensureKeyPair(new Keyring(s.service().keysDir()));
    } catch (PreflightException | IllegalArgumentException | KeyringException e) {
      System.err.println("ats-dispatch: preflight failed: " + e.getMessage());
      if (server != null) server.close();
      return 1;
    }
    Service svc = new Service(s.service(), ats, client, runner(sandbox), Clock.SYSTEM, System.getenv(),
        EventWatcher.Timing.DEFAULT, extensions(s));
    try {
      svc.start();
    } catch (RuntimeException e) {
      System.err.println("ats-dispatch: " + e.getMessage());
      client.close();
      if (server != null) server.close();
      return 1;
    }
    return serve(s, svc, server, client);
  }

  /** Serves until SIGTERM or SIGINT (or, with --demo, until the demo task ends): the status port and the shutdown hook. */
  private int serve(Settings s, Service svc, DevServer server, AtsClient client) {
    StatusServer status = null;
    if (s.statusPort().isPresent() && !demo) {
      try {
        status = StatusServer.start(s.statusHost(), s.statusPort().getAsInt(), svc.engine().metrics(),
            svc.readiness(), svc.engine().agentEvents()).serveStatus(svc.engine()::statusNow)
            .operatorToken(s.statusToken())
            .serveDashboard(new dev.atsdispatch.dispatch.Operations(
                List.of(new dev.atsdispatch.dispatch.Operations.Route(null, svc.engine(), svc.readiness())),
                svc.engine().agentEvents()));
        System.err.println("ats-dispatch: status port at " + status.url() + " (dashboard at /; /healthz /readyz /metrics)");
      } catch (RuntimeException e) {
        System.err.println("ats-dispatch: " + e.getMessage() + " (set status.port, or off)");
        svc.close();
        if (server != null) server.close();
        return 1;
      }
    }
    DevServer srv = server;
    StatusServer st = status;
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      svc.close();
      if (st != null) st.close();
      if (srv != null) srv.close();
      stopped.countDown();
    }, "ats-dispatch-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    if (server != null && !demo) {
      System.out.println("ats-dispatch: embedded ATS at " + server.url() + " (export ATS_URL="
          + server.url() + "); watching channel " + s.service().channel());
    }
    if (demo) return runDemo(s, client, svc, hook, srv);
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  private int runDemo(Settings s, AtsClient client, Service svc, Thread hook, DevServer srv) {
    int rc = 1;
    try {
      Task t = client.create(new NewTask("Say hello", "This demo task was created by "
          + "`ats-dispatch run --embedded --demo`. Reply with a short greeting.",
          new ObjectMapper().createObjectNode().put("demo", true), 5, s.service().channel(), null));
      System.out.println("demo: created task #" + t.id() + " on channel " + s.service().channel());
      long end = System.nanoTime() + s.service().agentTimeout().plusSeconds(30).toNanos();
      while (System.nanoTime() < end) {
        Task now = client.get(t.id());
        if (now.status().isTerminal()) {
          System.out.println("demo: task #" + t.id() + " " + now.status().wire()
              + (now.reason() == null ? "" : ": " + now.reason()));
          System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter()
              .writeValueAsString(now.outputs()));
          rc = now.status().wire().equals("completed") ? 0 : 1;
          break;
        }
        Thread.sleep(100);
      }
    } catch (AtsException | IOException e) {
      System.err.println("ats-dispatch: demo failed: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      Runtime.getRuntime().removeShutdownHook(hook);
      svc.close();
      srv.close();
    }
    return rc;
  }

  /** A start-up check that failed; its message is the one line the user sees. */
  static final class PreflightException extends RuntimeException {
    PreflightException(String message) {
      super(message);
    }
  }

  /** The JavaScript version makes the dispatch keypair on its first start; so does this, once preflight passed. */
  private static void ensureKeyPair(Keyring keys) {
    if (keys.dispatchKeyPair().isPresent()) return;
    var kp = keys.ensureDispatchKeyPair();
    System.err.println("ats-dispatch: generated the dispatcher keypair in " + keys.file(Keyring.DISPATCH_KEYS)
        + "; public key " + kp.publicKey() + " (fingerprint " + kp.fingerprint() + ")");
  }

  /**
   * The service on a NATS JetStream consumer: connects once (a wrong URL, refused credentials or a
   * missing stream stop it here with the reason), takes the consumer's AckWait as the lease, and
   * starts. Null after printing why it cannot.
   */
  private Service natsService(Settings s, Sandbox sandbox) {
    NatsSource src = new NatsSource("nats", s.nats(), s.service().concurrency(), Clock.SYSTEM);
    dev.atsdispatch.dispatch.ServiceConfig cfg;
    try {
      localPreflight(s);
      Duration ackWait;
      try {
        ackWait = src.connect();
      } catch (IOException | io.nats.client.JetStreamApiException e) {
        throw new PreflightException("NATS at " + NatsAccess.redact(s.nats().url()) + " cannot be used: " + NatsAccess.describe(e));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new PreflightException("interrupted while connecting to NATS");
      }
      var b = s.service().toBuilder();
      b.lease = ackWait; // the consumer's AckWait is the lease: in progress every third of it
      try {
        cfg = b.build();
      } catch (IllegalArgumentException e) {
        throw new PreflightException("consumer " + s.nats().durable() + " has ack wait " + ackWait.toSeconds()
            + " s; a worker needs 3 s to 24 h (ats-dispatch agentbus setup --ack-wait 30s)");
      }
      ensureKeyPair(new Keyring(s.service().keysDir()));
    } catch (PreflightException | IllegalArgumentException | KeyringException e) {
      System.err.println("ats-dispatch: preflight failed: " + e.getMessage());
      src.close();
      return null;
    }
    return started(cfg, src, sandbox, s);
  }

  /** The service on a board file: the file must be a board now (a clear error if not), then it is watched. */
  private Service boardService(Settings s, Sandbox sandbox) {
    dev.atsdispatch.source.board.BoardSource src = new dev.atsdispatch.source.board.BoardSource("board", s.board(),
        Clock.SYSTEM, boardOwner(s));
    try {
      localPreflight(s);
      src.health();
      ensureKeyPair(new Keyring(s.service().keysDir()));
    } catch (PreflightException | IllegalArgumentException | KeyringException | dev.atsdispatch.source.SourceException e) {
      System.err.println("ats-dispatch: preflight failed: " + e.getMessage());
      src.close();
      return null;
    }
    return started(s.service(), src, sandbox, s);
  }

  /** The service on {@code src}, started; null (having said why and closed the source) if it could not start. */
  private static Service started(dev.atsdispatch.dispatch.ServiceConfig cfg, dev.atsdispatch.source.TaskSource src,
      Sandbox sandbox, Settings s) {
    Service svc = new Service(cfg, src, runner(sandbox), Clock.SYSTEM, System.getenv(), extensions(s));
    try {
      svc.start();
    } catch (RuntimeException e) {
      System.err.println("ats-dispatch: " + e.getMessage());
      src.close();
      return null;
    }
    return svc;
  }

  /** A route's own state directory: {@code <state_dir>/routes/<name>} (its ledgers, outbox, agent API). */
  static Path routeState(Settings s, RouteSettings r) {
    return realState(s).resolve("routes").resolve(r.name());
  }

  /** The state directory as it really is (bwrap follows symlinks in bind destinations); as given if not made yet. */
  static Path realState(Settings s) {
    Path state = s.service().stateDir().toAbsolutePath().normalize();
    try {
      return state.toRealPath();
    } catch (IOException e) {
      return state; // made at start: the lock creates it
    }
  }

  /**
   * One service per route, sharing one concurrency cap, the slots (in priority order), the
   * agents' events and the backend's daily spend; null (having said why and stopped what started) when one cannot start.
   */
  private List<Service> routeServices(Settings s, Sandbox sandbox) {
    try {
      localPreflight(s, s.routes().stream().anyMatch(r -> r.agent() == null));
      ensureKeyPair(new Keyring(s.service().keysDir()));
      OwnerOnly.createDirectories(routeState(s, s.routes().get(0)).getParent());
      for (RouteSettings r : s.routes()) {
        if (r.agent() == null) continue;
        try {
          ProcessAgentRunner.resolve(r.agent().get(0), System.getenv(), "routes." + r.name() + ".agent");
        } catch (IOException e) {
          throw new PreflightException("route " + r.name() + ": " + e.getMessage());
        }
      }
    } catch (PreflightException | IllegalArgumentException | KeyringException | IOException e) {
      System.err.println("ats-dispatch: preflight failed: " + e.getMessage());
      return null;
    }
    dev.atsdispatch.dispatch.Capacity cap = new dev.atsdispatch.dispatch.Capacity(s.service().concurrency(), s.service().slots());
    dev.atsdispatch.status.AgentEvents events = new dev.atsdispatch.status.AgentEvents();
    // the routes run one backend (agent.preset): its daily spend is one, in the service's own state directory
    var spend = new dev.atsdispatch.dispatch.DailySpend(realState(s), Clock.SYSTEM);
    List<Service> started = new ArrayList<>();
    for (RouteSettings r : s.routes()) {
      var b = s.service().toBuilder();
      b.channel = r.channel();
      b.stateDir = routeState(s, r);
      if (r.agent() != null) b.agentCommand = r.agent();
      if (r.timeout() != null) b.agentTimeout = r.timeout();
      if (r.maxAttempts() != null) b.maxAttempts = r.maxAttempts();
      if (r.retries() != null) b.retries = r.retries();
      if (r.prompt() != null) b.promptTemplate = r.prompt();
      Service svc;
      try {
        var cfg = b.build();
        if (r.board() != null) {
          var src = new dev.atsdispatch.source.board.BoardSource("board", r.board(), Clock.SYSTEM,
              boardOwner(s) + "/" + r.name());
          src.health();
          svc = new Service(cfg, src, runner(sandbox), Clock.SYSTEM, System.getenv(), extensions(s));
        } else if (r.source().equals("nats")) {
          var ns = s.natsRoute(r.natsAgent(), r.natsDurable(), r.natsSubject(), cfg.maxAttempts());
          NatsSource src = new NatsSource("nats", ns, cfg.concurrency(), Clock.SYSTEM);
          Duration ackWait;
          try {
            ackWait = src.connect();
          } catch (IOException | io.nats.client.JetStreamApiException e) {
            src.close();
            throw new PreflightException("NATS at " + NatsAccess.redact(ns.url()) + " cannot be used: " + NatsAccess.describe(e));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            src.close();
            throw new PreflightException("interrupted while connecting to NATS");
          }
          var nb = cfg.toBuilder();
          nb.lease = ackWait; // the consumer's AckWait is the lease
          svc = new Service(nb.build(), src, runner(sandbox), Clock.SYSTEM, System.getenv(), extensions(s));
        } else {
          AtsSettings ats = s.ats();
          String instance = new StateDir(cfg.stateDir()).instanceId();
          ats = new AtsSettings(ats.url(), ats.org(), ats.project(), ats.scoped(), ats.actorType(),
              ats.actorId() + "-" + instance, ats.actorName());
          AtsClient client = Transports.open(s.transport(), ats, s.atsBin(), s.atsTimeout(), System.getenv());
          svc = new Service(cfg, ats, client, runner(sandbox), Clock.SYSTEM, System.getenv(),
              EventWatcher.Timing.DEFAULT, extensions(s));
        }
        svc.route(r.name()).shareCapacity(cap, r.priority(), r.order()).shareAgentEvents(events).shareSpend(spend).start();
      } catch (RuntimeException e) {
        System.err.println("ats-dispatch: route " + r.name() + ": " + e.getMessage());
        started.forEach(Service::close);
        return null;
      }
      started.add(svc);
      log.info("route {}: {} (priority {})", r.name(), r.channel(), r.priority());
    }
    return started;
  }

  /** Serves every route until SIGTERM; the status port shows the first route's metrics and every route's state. */
  private int serveRoutes(Settings s, List<Service> all) {
    StatusServer status = null;
    if (s.statusPort().isPresent()) {
      Service first = all.get(0);
      try {
        status = StatusServer.start(s.statusHost(), s.statusPort().getAsInt(), first.engine().metrics(),
            first.readiness(), first.engine().agentEvents()).serveStatus(() -> {
              com.fasterxml.jackson.databind.node.ObjectNode o = new ObjectMapper().createObjectNode();
              o.put("capacity", s.service().concurrency());
              var routes = o.putArray("routes");
              int running = 0;
              for (int i = 0; i < all.size(); i++) {
                var st = all.get(i).engine().statusNow();
                running += st.path("running").asInt();
                st.put("route", s.routes().get(i).name()).put("priority", s.routes().get(i).priority());
                routes.add(st);
              }
              o.put("running", running);
              return o;
            }).serveRoutes(() -> routesJson(s)).operatorToken(s.statusToken());
        List<dev.atsdispatch.dispatch.Operations.Route> ops = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
          ops.add(new dev.atsdispatch.dispatch.Operations.Route(s.routes().get(i).name(), all.get(i).engine(), all.get(i).readiness()));
        }
        status.serveDashboard(new dev.atsdispatch.dispatch.Operations(ops, first.engine().agentEvents()));
        System.err.println("ats-dispatch: status port at " + status.url() + " (dashboard at /; /healthz /readyz /metrics /status)");
      } catch (RuntimeException e) {
        System.err.println("ats-dispatch: " + e.getMessage() + " (set status.port, or off)");
        all.forEach(Service::close);
        return 1;
      }
    }
    StatusServer st = status;
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // the routes drain side by side: a stop takes one drain, not one per route
      List<Thread> closing = new ArrayList<>();
      for (Service svc : all) {
        Thread t = new Thread(svc::close, "ats-dispatch-route-stop");
        t.start();
        closing.add(t);
      }
      for (Thread t : closing) {
        try {
          t.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (st != null) st.close();
      stopped.countDown();
    }, "ats-dispatch-shutdown"));
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  /** The routes as {@code GET /routes} shows them (the agent's program, not its arguments). */
  static com.fasterxml.jackson.databind.node.ArrayNode routesJson(Settings s) {
    var a = new ObjectMapper().createArrayNode();
    for (RouteSettings r : s.routes()) {
      var o = a.addObject().put("name", r.name()).put("source", r.source()).put("priority", r.priority())
          .put("order", r.order());
      if (r.board() != null) {
        o.put("file", r.board().file().toString()).put("queue", r.board().queue())
            .put("in_progress_queue", r.board().inProgressQueue()).put("done_queue", r.board().doneQueue())
            .put("max_retries", r.board().maxRetries());
        if (r.board().deadLetterQueue() != null) o.put("dead_letter_queue", r.board().deadLetterQueue());
      } else if (r.source().equals("nats")) {
        o.put("subject", r.channel()).put("agent_id", r.natsAgent());
      } else {
        o.put("channel", r.channel());
      }
      o.put("agent", (r.agent() != null ? r.agent() : s.service().agentCommand()).get(0));
      if (r.prompt() != null) o.put("prompt", r.prompt());
      if (r.timeout() != null) o.put("timeout", r.timeout().toString());
      if (r.maxAttempts() != null) o.put("max_attempts", r.maxAttempts());
      if (r.retries() != null) o.put("retries", r.retries());
    }
    return a;
  }

  /** Who this service is on the cards it holds: the host and its state directory (one service per state directory). */
  static String boardOwner(Settings s) {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "localhost";
    }
    Path state = s.service().stateDir().toAbsolutePath().normalize();
    return host + ":" + state;
  }

  /** The agent runner in {@code sandbox}, with its gates started ahead; says where agents run. */
  private static ProcessAgentRunner runner(Sandbox sandbox) {
    if (sandbox.warning() != null) log.warn("agent.sandbox = auto: {}", sandbox.warning());
    log.info("agents run in: {}", sandbox.describe());
    return new ProcessAgentRunner(Clock.SYSTEM, Duration.ofMillis(100), sandbox).keepingGatesReady(READY_GATES);
  }

  /** The encryption policy and the notifications of the settings. */
  private static Service.Extensions extensions(Settings s) {
    return new Service.Extensions(state -> CryptoIntake.forState(s.service().keysDir(), state),
        TaskNotifier.factory(s.notifyConfig()));
  }

  /** The checks that need no task source: key files and the agent program. */
  static void localPreflight(Settings s) {
    localPreflight(s, true);
  }

  /** As above; {@code checkAgent} false when every route names an agent of its own. */
  static void localPreflight(Settings s, boolean checkAgent) {
    Map<String, String> env = System.getenv();
    Keyring keys = new Keyring(s.service().keysDir());
    try {
      keys.checkSecretKeyPermissions();
      keys.check();
    } catch (KeyringException e) {
      throw new PreflightException(e.getMessage());
    }
    // a relative program was made absolute against the start directory when the settings were loaded
    if (!checkAgent) return;
    Settings.AgentProgram program = s.agentProgram(env);
    if (program.path() == null) throw new PreflightException(program.how() + " (set agent.command)");
    String preset = s.service().preset();
    if (!preset.equals("command")) { // the preset's CLI must answer for itself
      String version = BackendsCommand.version(program.path());
      if (version == null) {
        throw new PreflightException("agent.preset = " + preset + ": " + program.path() + " --version failed or said "
            + "nothing in 10 s (is it the " + preset + " CLI, installed whole?)");
      }
      log.info("agent: {} preset, {} ({})", preset, version, program.path());
    }
  }

  static void preflight(Settings s, AtsClient client) {
    Map<String, String> env = System.getenv();
    localPreflight(s);
    if (client.transport().equals("cli")) {
      try {
        ProcessAgentRunner.resolve(s.atsBin(), env, "ats binary");
      } catch (IOException e) {
        throw new PreflightException("the ats CLI is needed by the cli transport: " + e.getMessage()
            + " (set ats_bin, or transport = \"http\")");
      }
    }
    try {
      client.health();
    } catch (AtsException e) {
      throw new PreflightException("ATS is not reachable through the " + client.transport()
          + " transport: " + e.getMessage());
    }
  }



  /**
   * The sandbox of the settings. Hidden from agents: the state directory (each sees only its own
   * work directory), the keys directory, the settings file, the files secrets were read from and
   * systemd's credentials directory.
   */
  static Sandbox sandbox(Settings s, Map<String, String> env) throws Sandbox.Unavailable {
    List<Path> hidden = new ArrayList<>(List.of(s.service().stateDir(), s.service().keysDir()));
    if (s.configFile() != null) hidden.add(s.configFile());
    if (s.agentbusConfig() != null) hidden.add(s.agentbusConfig()); // it may hold the NATS URL's password
    if (s.nats() != null && s.nats().credsFile() != null) hidden.add(s.nats().credsFile());
    else if (s.natsCredsFile() != null) hidden.add(s.natsCredsFile()); // a nats route's
    if (s.board() != null) hidden.add(s.board().file()); // agents change their card through the agent API
    hidden.addAll(s.secretFiles());
    String creds = env.get("CREDENTIALS_DIRECTORY");
    if (creds != null && !creds.isBlank()) hidden.add(Path.of(creds));
    List<Path> rw = new ArrayList<>(s.rwBinds());
    if (s.agentHome() != null && !rw.contains(s.agentHome())) rw.add(s.agentHome());
    Sandbox sb = Sandbox.create(s.sandboxMode(), s.agentNetwork(), hidden, s.roBinds(), rw, env);
    if (!s.service().agentApi()) return sb;
    return sb.bindingAfterHidden(dev.atsdispatch.dispatch.Service.apiDir(realState(s)));
  }
}
