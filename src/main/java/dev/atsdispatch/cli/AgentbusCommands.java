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
    subcommands = {AgentbusCommands.Setup.class})
public final class AgentbusCommands implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (setup)");
  }

  /** {@code agentbus setup}: idempotent; prints one line per stream and the consumer. */
  @Command(name = "setup", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Create (or bring up to date) AGENT_TASKS, AGENT_RESULTS and the agent's durable pull consumer.",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:done", "1:NATS refused or could not be reached", "2:invalid options"})
  public static final class Setup implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin GlobalOptions global;

    @Option(names = "--nats-url", required = true, paramLabel = "URL",
        description = "the NATS server, e.g. nats://127.0.0.1:4222 (user:password@ in the URL is used)")
    String url;

    @Option(names = "--agent", required = true, paramLabel = "ID",
        description = "the worker's agent id (agent-code or code): its tasks are agent.<id>.tasks")
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
        wait = Settings.duration(timeout);
        JetStreamSetup.Consumer c = JetStreamSetup.Consumer.forAgent(agent, Settings.duration(ackWait), maxDeliver);
        consumer = durable == null ? c : new JetStreamSetup.Consumer(durable.strip(), c.taskSubject(), c.ackWait(), c.maxDeliver());
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus setup: " + e.getMessage());
        return 2;
      }
      Options o = new Options.Builder().server(url).connectionTimeout(wait).maxReconnects(0).noReconnect()
          .errorListener(new io.nats.client.ErrorListener() {}).build(); // failures are said once, below
      try (Connection nc = Nats.connect(o)) {
        for (String line : JetStreamSetup.ensure(nc, consumer)) out.println(line);
        return 0;
      } catch (IOException | JetStreamApiException e) {
        err.println("ats-dispatch: agentbus setup: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        return 1;
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: agentbus setup: bad --nats-url: " + e.getMessage());
        return 2;
      }
    }
  }
}
