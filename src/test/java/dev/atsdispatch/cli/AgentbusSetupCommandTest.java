package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.NatsServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ats-dispatch agentbus setup} against a real nats-server: its report, a rerun, and its errors. */
@Timeout(60)
final class AgentbusSetupCommandTest {
  @TempDir Path dir;

  record Run(int rc, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> a = new ArrayList<>(List.of("agentbus", "setup"));
    a.addAll(List.of(args));
    return new Run(cl.execute(a.toArray(String[]::new)), out.toString(), err.toString());
  }

  @Test
  void setsUpOnceThenReportsNothingToDoAndSaysWhatIsWrong() throws Exception {
    try (NatsServer nats = NatsServer.start(dir)) {
      Run first = run("--nats-url", nats.url(), "--agent", "agent-code", "--ack-wait", "45s");
      assertEquals(0, first.rc(), first.err());
      assertEquals(List.of("stream AGENT_TASKS: created ([agent.*.tasks], max age 7 d)",
          "stream AGENT_RESULTS: created ([agent.*.results], max age 30 d)",
          "consumer code: created (agent.code.tasks, ack wait 45 s, max deliver 4)"), first.out().lines().toList());
      Run again = run("--nats-url", nats.url(), "--agent", "code", "--ack-wait", "45s");
      assertEquals(0, again.rc(), again.err());
      assertEquals(List.of("stream AGENT_TASKS: unchanged", "stream AGENT_RESULTS: unchanged", "consumer code: unchanged"),
          again.out().lines().toList());
      Run bad = run("--nats-url", nats.url(), "--agent", "code", "--max-deliver", "0");
      assertEquals(2, bad.rc());
      assertEquals("ats-dispatch: agentbus setup: max deliver must be at least 1", bad.err().strip());
      nats.kill();
      Run down = run("--nats-url", nats.url(), "--agent", "code", "--timeout", "2s");
      assertEquals(1, down.rc());
      assertTrue(down.err().startsWith("ats-dispatch: agentbus setup: Unable to connect to NATS servers"), down.err());
    }
  }
}
