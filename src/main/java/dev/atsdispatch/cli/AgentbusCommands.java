package dev.atsdispatch.cli;

import dev.atsdispatch.source.nats.JetStreamSetup;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ats-dispatch agentbus ...}: the NATS JetStream side of agentbus 0.1.0 (issue 14). For now
 * {@code setup}, which makes the two streams and a worker's durable consumer as agentbus's
 * {@code stream-setup.sh} does, with AckWait and MaxDeliver set explicitly. Runs on the caller's
 * thread.
 */
@Command(name = "agentbus", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "NATS JetStream tasks on agentbus's wire (streams AGENT_TASKS and AGENT_RESULTS).",
    subcommands = {AgentbusCommands.Setup.class, AgentbusCommands.Worker.class, AgentbusCommands.Publish.class,
        AgentbusCommands.Results.class})
public final class AgentbusCommands implements Runnable {
  @Spec CommandSpec spec;

  /** One connection for one command: no reconnects, and no log lines of its own (the command says what failed). */
  static Connection connect(String url, Duration wait, Access access) throws IOException, InterruptedException {
    return dev.atsdispatch.source.nats.NatsAccess.connect(
        access.apply(new Options.Builder().server(url).connectionTimeout(wait).noReconnect()), null);
  }

  /** How setup, publish and results authenticate and trust the server besides the URL's credentials. */
  public static final class Access {
    @Option(names = "--creds", paramLabel = "FILE", description = "a .creds file (JWT and NKey seed) to connect with")
    java.nio.file.Path creds;

    @Option(names = "--ca-file", paramLabel = "FILE",
        description = "a PEM file of the CA certificates the server's TLS certificate is checked against (tls:// URLs)")
    java.nio.file.Path caFile;

    /** IllegalArgumentException naming the option when a file cannot be used. */
    Options.Builder apply(Options.Builder b) {
      return dev.atsdispatch.source.nats.NatsAccess.secured(b, creds, caFile, "--creds", "--ca-file");
    }

    void check() {
      apply(new Options.Builder());
    }
  }

  static String why(Exception e) {
    return dev.atsdispatch.source.nats.NatsAccess.describe(e);
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (setup, worker, publish, results)");
  }

  /**
   * {@code agentbus worker}: what replaces {@code agentbus worker run [--config FILE]}: the
   * service ({@code run}) on the NATS source, configured by the same agentbus file, with the
   * service's own settings (state directory, concurrency, sandbox, notifications) beside it.
   */
  @Command(name = "worker", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Run the worker an agentbus worker file describes (agentbus worker run), as this service: "
          + "tasks from agent.<id>.tasks, results to agent.<reply_to>.results.",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:stopped by SIGTERM or SIGINT", "1:NATS, the keys or the agent could not be used",
          "2:invalid options or settings"})
  public static final class Worker implements Callable<Integer> {
    @Mixin GlobalOptions global;
    @Mixin Access access;

    @Option(names = "--config", paramLabel = "FILE", description = "agentbus's worker file (default: ./agentbus.toml, "
        + "~/.agentbus/config.toml, /etc/agentbus/agentbus.toml, the first that exists)")
    java.nio.file.Path config;

    @Option(names = "--settings", paramLabel = "FILE",
        description = "this service's own TOML settings (default: ./ats-dispatch.toml if present)")
    java.nio.file.Path settings;

    @Option(names = "--state-dir", paramLabel = "DIR",
        description = "state directory (default: state; env ATS_DISPATCH_STATE_DIR)")
    String stateDir;

    @Option(names = "--keys-dir", paramLabel = "DIR",
        description = "keys directory (default: keys; env ATS_DISPATCH_KEYS_DIR)")
    String keysDir;

    @Option(names = "--concurrency", paramLabel = "N",
        description = "agents running at once (default: 4; env ATS_DISPATCH_CONCURRENCY; agentbus runs one)")
    String concurrency;

    @Override
    public Integer call() {
      java.nio.file.Path file = config;
      if (file == null) {
        String home = System.getProperty("user.home");
        for (java.nio.file.Path p : dev.atsdispatch.source.nats.AgentbusConfig.searchPath(
            java.nio.file.Path.of("").toAbsolutePath(), java.nio.file.Path.of(home == null ? "/" : home))) {
          if (java.nio.file.Files.isRegularFile(p)) {
            file = p;
            break;
          }
        }
        if (file == null) {
          System.err.println("ats-dispatch: config file is required; pass --config or create ~/.agentbus/config.toml");
          return 2;
        }
      }
      RunCommand run = new RunCommand();
      run.global = global;
      run.options = new SettingsOptions();
      run.options.ats.config = settings;
      run.options.service.stateDir = stateDir;
      run.options.service.keysDir = keysDir;
      run.options.service.concurrency = concurrency;
      run.options.more.put("agentbus_config", file.toString());
      // the service's nats.creds and nats.ca_file, as flags (they win over the settings file)
      if (access.creds != null) run.options.more.put("nats.creds", access.creds.toString());
      if (access.caFile != null) run.options.more.put("nats.ca_file", access.caFile.toString());
      return run.call();
    }
  }

  /** {@code agentbus setup}: idempotent; prints one line per stream and the consumer. */
  @Command(name = "setup", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Create (or bring up to date) AGENT_TASKS, AGENT_RESULTS and the agent's durable pull consumer.",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:done", "1:NATS refused or could not be reached", "2:invalid options"})
  public static final class Setup implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin GlobalOptions global;
    @Mixin Access access;

    @Option(names = "--config", paramLabel = "FILE",
        description = "agentbus's worker config to take [nats] url, [agent] id, [nats] durable and task_subject from "
            + "(default, when --nats-url or --agent is missing: ./agentbus.toml, ~/.agentbus/config.toml, "
            + "/etc/agentbus/agentbus.toml)")
    java.nio.file.Path config;

    @Option(names = "--nats-url", paramLabel = "URL",
        description = "the NATS server, e.g. nats://127.0.0.1:4222 (user:password@ in the URL is used; default: from the config)")
    String url;

    @Option(names = "--agent", paramLabel = "ID",
        description = "the worker's agent id (agent-code or code): its tasks are agent.<id>.tasks (default: from the config)")
    String agent;

    @Option(names = "--durable", paramLabel = "NAME", description = "the consumer's durable name (default: the agent id)")
    String durable;

    @Option(names = "--ack-wait", paramLabel = "DURATION", defaultValue = "30s",
        description = "how long a delivered task is this worker's before it is delivered again; the worker "
            + "renews it every third of this while the agent runs (default: ${DEFAULT-VALUE})")
    String ackWait;

    @Option(names = "--max-deliver", paramLabel = "N", defaultValue = "4",
        description = "deliveries of one task at most: the service's max_attempts (3) plus one, for the delivery "
            + "that publishes the poison result (default: ${DEFAULT-VALUE})")
    int maxDeliver;

    @Option(names = "--replicas", paramLabel = "N", defaultValue = "1",
        description = "servers of a JetStream cluster that keep each stream, 1 to 5 (default: ${DEFAULT-VALUE}; "
            + "3 in a three-node cluster, so one node may fail)")
    int replicas;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s",
        description = "how long to wait for the server (default: ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() throws InterruptedException {
      global.apply(LogSetup.Format.PLAIN);
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      JetStreamSetup.Consumer consumer;
      Duration wait;
      try {
        access.check();
        if (replicas < 1 || replicas > 5) throw new IllegalArgumentException("--replicas must be 1 to 5");
        wait = Settings.duration(timeout);
        String name = durable;
        String subject = null;
        if (config != null || url == null || agent == null) {
          dev.atsdispatch.source.nats.AgentbusConfig c = dev.atsdispatch.source.nats.AgentbusConfig.load(config,
              java.nio.file.Path.of("").toAbsolutePath(), java.nio.file.Path.of(System.getProperty("user.home")));
          if (url == null) url = c.natsUrl();
          if (agent == null) {
            agent = c.agentId();
            subject = c.taskSubject();
            if (name == null) name = c.durable();
          }
        }
        JetStreamSetup.Consumer c = JetStreamSetup.Consumer.forAgent(agent, Settings.duration(ackWait), maxDeliver);
        consumer = new JetStreamSetup.Consumer(name == null ? c.durable() : name.strip(),
            subject == null ? c.taskSubject() : subject, c.ackWait(), c.maxDeliver());
      } catch (IllegalArgumentException | IOException e) {
        String why = e.getMessage();
        if (config == null && why != null && why.startsWith("config file is required")) {
          why = "give --nats-url and --agent, or an agentbus config file (--config, ./agentbus.toml, "
              + "~/.agentbus/config.toml or /etc/agentbus/agentbus.toml)";
        }
        err.println("ats-dispatch: agentbus setup: " + why);
        return 2;
      }
      try (Connection nc = connect(url, wait, access)) {
        for (String line : JetStreamSetup.ensure(nc, consumer, replicas)) out.println(line);
        return 0;
      } catch (IOException | JetStreamApiException e) {
        err.println("ats-dispatch: agentbus setup: " + why(e));
        return 1;
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus setup: bad --nats-url: " + e.getMessage());
        return 2;
      }
    }
  }

  /**
   * {@code agentbus publish}: {@code agentbus task publish}'s message, one per {@code --to}, sent
   * with a JetStream publish that waits for the stream's acknowledgement (agentbus sends with core
   * NATS and cannot tell a message no stream kept from one that was). Prints what agentbus prints:
   * the task, or the list of them, as one compact JSON line.
   */
  @Command(name = "publish", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Publish a task to agents on agentbus's wire (agent.<id>.tasks), as `agentbus task publish` does.",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:published, each kept by the stream", "1:NATS refused, could not be reached, or no stream keeps the subject",
          "2:invalid options"})
  public static final class Publish implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin GlobalOptions global;
    @Mixin Access access;

    @CommandLine.Parameters(index = "0", paramLabel = "CONTENT", description = "the task's content (text, or JSON with --payload-fmt json)")
    String content;

    @Option(names = "--nats-url", required = true, paramLabel = "URL", description = "the NATS server, e.g. nats://127.0.0.1:4222")
    String url;

    @Option(names = "--to", required = true, paramLabel = "ID", description = "a target agent (agent-code or code); repeat for several")
    java.util.List<String> to;

    @Option(names = "--task-type", required = true, paramLabel = "TYPE", description = "the task's task_type, e.g. review")
    String taskType;

    @Option(names = "--payload-fmt", paramLabel = "FMT", defaultValue = "text",
        description = "text or json: how CONTENT goes into payload.content (default: ${DEFAULT-VALUE})")
    String payloadFmt;

    @Option(names = "--from", paramLabel = "ID", defaultValue = "main", description = "the sender's agent id (default: ${DEFAULT-VALUE})")
    String from;

    @Option(names = "--reply-to", paramLabel = "ID", description = "where results go (default: --from)")
    String replyTo;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s",
        description = "how long to wait for the server and each acknowledgement (default: ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() throws InterruptedException {
      global.apply(LogSetup.Format.PLAIN);
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      java.util.List<com.fasterxml.jackson.databind.node.ObjectNode> tasks = new java.util.ArrayList<>();
      Duration wait;
      try {
        access.check();
        wait = Settings.duration(timeout);
        for (String target : to) {
          tasks.add(dev.atsdispatch.source.nats.AgentbusPublish.task(content, payloadFmt, from, target, replyTo, taskType,
              java.util.UUID.randomUUID()));
        }
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus publish: " + e.getMessage());
        return 2;
      }
      try (Connection nc = connect(url, wait, access)) {
        io.nats.client.JetStream js = nc.jetStream(io.nats.client.JetStreamOptions.builder().requestTimeout(wait).build());
        for (var t : tasks) {
          String subject = dev.atsdispatch.source.nats.AgentbusPublish.subject(t.get("to").asText());
          try {
            js.publish(subject, dev.atsdispatch.source.nats.AgentbusPublish.bytes(t));
          } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("503")) {
              err.println("ats-dispatch: agentbus publish: no stream keeps " + subject + " (run ats-dispatch agentbus setup)");
              return 1;
            }
            throw e;
          }
        }
      } catch (IOException | JetStreamApiException e) {
        err.println("ats-dispatch: agentbus publish: " + why(e));
        return 1;
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus publish: bad --nats-url: " + e.getMessage());
        return 2;
      }
      com.fasterxml.jackson.databind.JsonNode shown = tasks.size() == 1 ? tasks.get(0)
          : com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode().addAll(tasks);
      out.println(dev.atsdispatch.source.nats.AgentbusPublish.printed(shown));
      return 0;
    }
  }

  /**
   * {@code agentbus results}: {@code agentbus result get}. The last {@code --limit} results kept
   * for an agent in {@code AGENT_RESULTS}, oldest first, one compact JSON object a line, read
   * without consuming them (an ordered consumer on the agent's subject, so only that subject is
   * read); with {@code --watch} it goes on printing new ones, with no gap between the two.
   */
  @Command(name = "results", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Print the results kept for an agent (agent.<id>.results), as `agentbus result get` does.",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:printed", "1:NATS refused or could not be reached, or a stored result is not a JSON object",
          "2:invalid options"})
  public static final class Results implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin GlobalOptions global;
    @Mixin Access access;

    @Option(names = "--nats-url", required = true, paramLabel = "URL", description = "the NATS server, e.g. nats://127.0.0.1:4222")
    String url;

    @Option(names = "--agent", required = true, paramLabel = "ID", description = "whose results: agent-main or main")
    String agent;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "1", description = "how many of the newest (default: ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--watch", description = "then print new results as they come, until interrupted")
    boolean watch;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s",
        description = "how long to wait for the server (default: ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() throws InterruptedException {
      global.apply(LogSetup.Format.PLAIN);
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      String subject;
      Duration wait;
      try {
        access.check();
        if (limit <= 0) throw new IllegalArgumentException("limit must be positive");
        wait = Settings.duration(timeout);
        subject = dev.atsdispatch.source.nats.AgentbusPublish.resultSubject(agent);
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus results: " + e.getMessage());
        return 2;
      }
      com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
      try (Connection nc = connect(url, wait, access)) {
        io.nats.client.StreamContext sc = nc.getStreamContext(JetStreamSetup.RESULTS_STREAM);
        Long kept = sc.getStreamInfo(io.nats.client.api.StreamInfoOptions.filterSubjects(subject))
            .getStreamState().getSubjectMap().get(subject);
        long stored = kept == null ? 0 : kept;
        io.nats.client.OrderedConsumerContext oc = sc.createOrderedConsumer(
            new io.nats.client.api.OrderedConsumerConfiguration().filterSubject(subject));
        java.util.ArrayDeque<String> last = new java.util.ArrayDeque<>();
        for (long seen = 0; seen < stored; ) {
          io.nats.client.Message m = oc.next(wait);
          if (m == null) break; // expired or removed meanwhile: what was read is printed
          seen++;
          last.addLast(line(json, m));
          if (last.size() > limit) last.removeFirst();
        }
        last.forEach(out::println);
        out.flush();
        while (watch) {
          io.nats.client.Message m = oc.next(Duration.ofSeconds(1));
          if (m != null) {
            out.println(line(json, m));
            out.flush();
          }
        }
        return 0;
      } catch (IOException | JetStreamApiException | io.nats.client.JetStreamStatusCheckedException e) {
        err.println("ats-dispatch: agentbus results: " + why(e));
        return 1;
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus results: " + e.getMessage());
        return 1;
      }
    }

    private static String line(com.fasterxml.jackson.databind.ObjectMapper json, io.nats.client.Message m) {
      com.fasterxml.jackson.databind.JsonNode n;
      try {
        n = json.readTree(m.getData());
      } catch (IOException e) {
        n = null;
      }
      if (n == null || !n.isObject()) throw new IllegalArgumentException("result message must be a JSON object");
      return dev.atsdispatch.source.nats.AgentbusPublish.printed(n);
    }
  }
}
