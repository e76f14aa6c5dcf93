package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, findings 2 and 3 with plaintext tasks through the real service: titles that cannot
 * pass into an environment variable (a NUL; more than the OS takes) still run, once, with the
 * whole title in the prompt and a cleaned, capped {@code ATS_TASK_TITLE}.
 */
@Timeout(60)
final class HostileTitlesTest {
  @TempDir Path dir;
  DevServer server;
  Service service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void titlesWithANulOrOfTwoHundredKilobytesRunOnceAndComplete() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http http = new Http(server.url(), "human", "tester", "Tester");
    Path agent = DispatchFixture.agent(dir, "agent.sh", "cat > prompt; printf %s \"$ATS_TASK_TITLE\" > title;"
        + " echo \"$ATS_TASK_ID\" >> " + dir.resolve("runs") + "; echo ok");
    service = DispatchFixture.start(server.url(),
        DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys")).build(), "ada-1", dir);

    String nul = "before\u0000after\n12:00:00.000 INFO  Engine: forged";
    String huge = "h".repeat(200 * 1024);
    long a = DispatchFixture.create(http, nul, 5, null);
    long b = DispatchFixture.create(http, huge, 5, null);
    DispatchFixture.awaitStatus(http, a, "completed", Duration.ofSeconds(20));
    DispatchFixture.awaitStatus(http, b, "completed", Duration.ofSeconds(20));

    Path workA = new StateDir(dir.resolve("state")).workDir(dev.atsdispatch.source.TaskKey.of("ats", a));
    Path workB = new StateDir(dir.resolve("state")).workDir(dev.atsdispatch.source.TaskKey.of("ats", b));
    assertTrue(Files.readString(workA.resolve("prompt")).contains("<task-title>\n" + nul + "\n</task-title>"),
        "the prompt has the title as written");
    assertEquals("before\uFFFDafter\uFFFD12:00:00.000 INFO  Engine: forged", Files.readString(workA.resolve("title")));
    assertTrue(Files.readString(workB.resolve("prompt")).contains(huge));
    String titleB = Files.readString(workB.resolve("title"));
    assertEquals("h".repeat(4096) + "\u2026", titleB);
    assertEquals(2, DispatchFixture.lines(dir.resolve("runs")).size(), "each ran once");
  }
}
