package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.exec.AgentSpec;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.exec.Sandbox;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 18, point 1: {@code --agent ./agent.sh} is taken from the directory the service was started
 * in, not from the task's work directory the agent runs in (where it was exit 127 for every task),
 * with the plain runner and under bwrap.
 */
@Timeout(120)
final class RelativeAgentPathTest {
  @TempDir Path dir;
  private DevServer server;
  private ChildJvm service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  private static void script(Path p, String body) throws IOException {
    Files.createDirectories(p.getParent());
    Files.writeString(p, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
  }

  /**
   * Settings loaded with an explicit start directory (not the JVM's), then one agent run by the
   * runner of those settings. The work directory holds a decoy at the same relative path, so a
   * command resolved against the work directory runs the decoy, and one resolved against the JVM's
   * directory finds nothing: either fails the test.
   */
  @ParameterizedTest
  @ValueSource(strings = {"none", "bwrap"})
  void theSettingsResolveARelativeProgramAgainstTheStartDirectory(String mode) throws Exception {
    Path start = dir.resolve("start");
    script(start.resolve("bin/agent.sh"), "echo \"start-dir agent in $PWD\"");
    Path work = dir.resolve("state/tasks/ats/1/work");
    script(work.resolve("bin/agent.sh"), "echo decoy from the work directory");
    Settings s = Settings.load(null, Map.of("agent.command", "./bin/agent.sh",
            "state_dir", dir.resolve("state").toString(), "keys_dir", dir.resolve("keys").toString()),
        Map.of("ATS_DISPATCH_AGENT_SANDBOX", mode), AtsSettings.Flags.NONE, start, dir);
    assertEquals(List.of(start.resolve("bin/agent.sh").toString()), s.service().agentCommand());
    Sandbox sandbox = RunCommand.sandbox(s, System.getenv());
    assertEquals(mode.equals("bwrap"), sandbox.enabled(), sandbox.describe());

    AgentSpec spec = new AgentSpec(s.service().agentCommand(), "", work, Map.of("PATH", System.getenv("PATH")),
        null, null, Duration.ofSeconds(20), null, Duration.ofSeconds(1), 64 * 1024, 4096, null);
    AgentResult r = new ProcessAgentRunner(Clock.SYSTEM, Duration.ofMillis(100), sandbox).start(spec)
        .result().get(30, TimeUnit.SECONDS);
    assertTrue(r.succeeded(), r.toString());
    assertEquals("start-dir agent in " + work.toRealPath(), r.response());
  }

  /** The issue as reported: {@code run --agent ./agent.sh} from the script's directory completes its tasks. */
  @ParameterizedTest
  @ValueSource(strings = {"none", "bwrap"})
  void aServiceStartedWithADotSlashAgentCompletesItsTasks(String mode) throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http api = new Http(server.url(), "human", "tester", "Tester");
    // the service starts in dir (ChildJvm's working directory); the agent runs in state/tasks/ats/<id>/work
    script(dir.resolve("agent.sh"), "cat > /dev/null; echo \"agent.sh ran in $PWD\"");
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_AGENT_SANDBOX", mode);
    env.put("ATS_DISPATCH_STATUS_PORT", "off");
    long id = api.post("/tasks", "{\"title\":\"relative\",\"channel\":\"rel\"}").task().path("id").asLong();
    service = ChildJvm.start(dir, "service-" + mode, env, List.of("run", "--transport", "http",
        "--url", server.url(), "--channel", "rel", "--agent", "./agent.sh",
        "--state-dir", dir.resolve("state").toString(), "--keys-dir", dir.resolve("keys").toString()));
    JsonNode t = awaitTerminal(api, id);
    assertEquals("completed", t.path("status").asText(), t + "\n" + service.stderr());
    Path work = dir.resolve("state/tasks/ats/" + id + "/work").toRealPath();
    assertEquals("agent.sh ran in " + work, t.path("outputs").path(0).path("response").asText(), t.toString());
  }

  private JsonNode awaitTerminal(Http api, long id) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    JsonNode t = null;
    while (System.nanoTime() < end) {
      t = api.get("/tasks/" + id).task();
      String st = t.path("status").asText();
      if (st.equals("completed") || st.equals("failed")) return t;
      if (!service.process().isAlive()) throw new AssertionError("the service exited:\n" + service.stderr());
      Thread.sleep(100);
    }
    throw new AssertionError("task " + id + " did not finish: " + t + "\n" + service.stderr());
  }
}
