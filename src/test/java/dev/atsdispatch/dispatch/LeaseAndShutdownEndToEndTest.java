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
 * End-to-end variants of issue defects 1 and 3 against the real dev server and real agent
 * processes (seconds, not milliseconds; the core tests on fakes cover the same ground fast).
 * Written against the fixture API that the engine before the rewrite had too, so this file also
 * runs on that code and shows both defects there.
 */
@Timeout(60)
final class LeaseAndShutdownEndToEndTest {
  @TempDir Path dir;
  DevServer server;
  Service service;

  @AfterEach
  void stopAll() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void anAgentIsStoppedAtTheLocalLeaseDeadlineWhileAtsIsUnreachable() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    Http http = new Http(server.url(), "human", "tester", "Tester");
    Path marks = dir.resolve("marks");
    Path agent = DispatchFixture.agent(dir, "long.sh", "cat >/dev/null; echo start >> " + marks
        + "; trap 'echo term >> " + marks + "; exit 143' TERM; sleep 60 & wait $!; echo done");
    ServiceConfig.Builder b = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
    b.lease = Duration.ofSeconds(3);
    service = DispatchFixture.start(server.url(), b.build(), "fenced", dir);
    DispatchFixture.create(http, "runs long", 5, null);
    DispatchFixture.await("the agent to start", Duration.ofSeconds(20), () -> DispatchFixture.lines(marks).contains("start"));
    server.close(); // ATS unreachable: every renewal now fails with a connection error (retryable)
    server = null;
    long down = System.nanoTime();
    DispatchFixture.await("the agent to be stopped while ATS is unreachable", Duration.ofSeconds(10),
        () -> DispatchFixture.lines(marks).contains("term"));
    long ms = (System.nanoTime() - down) / 1_000_000;
    assertTrue(ms < 3_000 + 1_500, "stopped " + ms + " ms after ATS went away; the lease is 3 s");
    DispatchFixture.await("the lost lease to be counted", Duration.ofSeconds(5),
        () -> service.engine().stats().leaseLost.get() == 1);
    assertEquals(0, service.engine().stats().completed.get());
  }

  @Test
  void shutdownDuringARetryBackoffGivesTheTaskBack() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    Http http = new Http(server.url(), "human", "tester", "Tester");
    Path first = dir.resolve("first-attempt-done");
    Path agent = DispatchFixture.agent(dir, "flaky.sh", "cat >/dev/null; if [ -f " + first + " ]; then"
        + " trap 'exit 143' TERM; sleep 60 & wait $!; fi; touch " + first + "; echo flaky >&2; exit 1");
    ServiceConfig.Builder b = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
    b.lease = Duration.ofSeconds(30); // it cannot run out during the test: a dropped task stays in_progress
    b.retries = 1;
    b.retryBackoff = Duration.ofSeconds(1);
    b.drain = Duration.ofSeconds(5); // the backoff ends while shutdown drains
    service = DispatchFixture.start(server.url(), b.build(), "stopping", dir);
    long id = DispatchFixture.create(http, "flaky", 5, null);
    DispatchFixture.await("attempt 1 to fail", Duration.ofSeconds(20), () -> Files.exists(first));
    DispatchFixture.await("attempt 1 to be recorded (the retry backoff starts)", Duration.ofSeconds(10),
        () -> !DispatchFixture.ledger(dir.resolve("state"), id, "attempt_finished").isEmpty());
    service.close(); // during the 1 s backoff
    service = null;
    assertEquals("pending", DispatchFixture.task(http, id).path("status").asText(),
        "the task was not given back at shutdown");
  }
}
