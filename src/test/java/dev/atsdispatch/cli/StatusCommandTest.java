package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.util.ContextInitializer;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.status.Readiness;
import dev.atsdispatch.status.StatusServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * {@code ats-dispatch status} against a real StatusServer over real HTTP: the summary, the JSON
 * document and the exit code for ready, not ready, and nothing listening. Most runs are in-process
 * (the command writes to picocli's out/err); two run as a separate JVM to pin the real exit status
 * and the default settings file in the working directory.
 */
@Timeout(60)
final class StatusCommandTest {
  @TempDir Path dir;
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open) c.close();
  }

  /** The command configures logging for its process; give the test JVM its default back. */
  @AfterAll
  static void restoreLogging() throws Exception {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    new ContextInitializer(ctx).autoConfig();
  }

  record Run(int exit, String out, String err) {
    List<String> errLines() {
      return err.lines().toList();
    }

    JsonNode json() throws Exception {
      return Http.JSON.readTree(out);
    }
  }

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> a = new ArrayList<>(List.of("status"));
    a.addAll(List.of(args));
    int rc = cl.execute(a.toArray(String[]::new));
    return new Run(rc, out.toString(), err.toString());
  }

  StatusServer server(Readiness readiness) {
    DispatchMetrics m = DispatchMetrics.create();
    m.gauges(() -> 2, () -> 5, () -> 1, () -> 3);
    for (int i = 0; i < 7; i++) m.taskFinished("completed");
    m.taskFinished("failed");
    m.taskFinished("failed");
    m.taskFinished("poisoned");
    m.strike();
    m.strike();
    m.strike();
    m.webSocketReconnected();
    m.webSocketReconnected();
    m.webSocketReconnected();
    m.webSocketReconnected();
    StatusServer s = StatusServer.start("127.0.0.1", 0, m, readiness);
    open.add(s);
    return s;
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void readyPrintsTheSummaryAndExitsZero() throws Exception {
    StatusServer ready = server(Readiness.of(true, true));
    Run human = run("--url", ready.url());
    assertEquals(0, human.exit(), human.err());
    List<String> lines = human.out().lines().toList();
    assertTrue(lines.get(0).startsWith("ats-dispatch at " + ready.url() + ": ready [pid "), lines.get(0));
    assertTrue(human.out().contains("2 running, 5 waiting, 1 deferred"), human.out());
    assertTrue(human.out().contains("7 completed, 2 failed, 1 poisoned; 3 strikes"), human.out());
    assertTrue(human.out().contains("3 undelivered; websocket reconnects: 4"), human.out());
    assertEquals("", human.err());

    Run json = run("--url", ready.url() + "/", "--json");
    assertEquals(0, json.exit(), json.err());
    JsonNode j = json.json();
    assertEquals(ready.url(), j.path("url").asText());
    assertTrue(j.path("reachable").asBoolean());
    assertTrue(j.path("ready").asBoolean());
    assertEquals(2, j.path("tasks").path("running").asInt());
    assertEquals(5, j.path("tasks").path("waiting").asInt());
    assertEquals(1, j.path("tasks").path("deferred").asInt());
    assertEquals(List.of(), HelpTextTest.undocumented(j, "status"));
    assertEquals(7, j.path("finished").path("completed").asInt());
    assertEquals(2, j.path("finished").path("failed").asInt());
    assertEquals(0, j.path("finished").path("lease_lost").asInt());
    assertEquals(3, j.path("outbox_depth").asInt());
    assertEquals(4, j.path("websocket_reconnects").asInt());
    assertEquals(3, j.path("strikes").asInt());
  }

  @Test
  void notReadySaysWhyAndExitsOne() throws Exception {
    StatusServer notReady = server(new Readiness() {
      @Override
      public boolean subscribed() {
        return false;
      }

      @Override
      public boolean atsReachable() {
        return false;
      }

      @Override
      public String detail() {
        return "ATS health: 502 Bad Gateway";
      }
    });
    Run down = run("--url", notReady.url());
    assertEquals(1, down.exit(), down.err());
    String first = down.out().lines().findFirst().orElse("");
    assertTrue(first.startsWith("ats-dispatch at " + notReady.url()
        + ": NOT READY: websocket not subscribed, ATS not reachable (ATS health: 502 Bad Gateway)"), first);
    assertTrue(down.out().contains("2 running, 5 waiting, 1 deferred"), "counts still shown: " + down.out());

    Run json = run("--url", notReady.url(), "--json");
    assertEquals(1, json.exit(), json.err());
    JsonNode dj = json.json();
    assertTrue(dj.path("reachable").asBoolean());
    assertFalse(dj.path("ready").asBoolean());
    assertFalse(dj.path("subscribed").asBoolean());
    assertEquals("ATS health: 502 Bad Gateway", dj.path("detail").asText());
    assertEquals(List.of("websocket not subscribed", "ATS not reachable"),
        List.of(dj.path("missing").get(0).asText(), dj.path("missing").get(1).asText()));
  }

  @Test
  void nothingListeningOrSomethingElseListeningExitsThree() throws Exception {
    int nobody = freePort();
    Run none = run("--url", "http://127.0.0.1:" + nobody);
    assertEquals(3, none.exit(), none.err());
    assertEquals("", none.out());
    assertEquals(List.of("ats-dispatch: no status answer at http://127.0.0.1:" + nobody
        + ": connection refused (is ats-dispatch run going, with status.port set?)"), none.errLines());

    Run json = run("--url", "http://127.0.0.1:" + nobody, "--json");
    assertEquals(3, json.exit(), json.err());
    assertFalse(json.json().path("reachable").asBoolean());
    assertTrue(json.json().path("error").asText().startsWith("connection refused"), json.out());
    assertEquals(List.of(), HelpTextTest.undocumented(json.json(), "status"));

    MockWebServer other = new MockWebServer();
    other.enqueue(new MockResponse().setResponseCode(404).setBody("<html>nope</html>"));
    other.start();
    open.add(other);
    Run stranger = run("--url", other.url("/").toString());
    assertEquals(3, stranger.exit(), stranger.err());
    assertEquals(1, stranger.errLines().size(), stranger.err());
    assertTrue(stranger.err().contains("not an ats-dispatch status port (GET /healthz answered 404)"),
        stranger.err());
  }

  @Test
  void theUrlComesFromSettingsUnlessGiven() throws Exception {
    StatusServer ready = server(Readiness.of(true, true));
    Path on = dir.resolve("on.toml");
    Files.writeString(on, "[status]\nport = " + ready.port() + "\nhost = \"0.0.0.0\"\n");
    Path off = dir.resolve("off.toml");
    Files.writeString(off, "[status]\nport = \"off\"\n");
    Path bad = dir.resolve("bad.toml");
    Files.writeString(bad, "[status]\nport = 70000\n");

    Run f = run("--config", on.toString());
    assertEquals(0, f.exit(), f.err());
    assertTrue(f.out().startsWith("ats-dispatch at http://127.0.0.1:" + ready.port() + ": ready"),
        "a wildcard bind address is asked through loopback: " + f.out());

    Run o = run("--config", off.toString());
    assertEquals(2, o.exit(), o.err());
    assertEquals(List.of("ats-dispatch: status.port is off: set it, or pass --url"), o.errLines());

    Run b = run("--config", bad.toString());
    assertEquals(2, b.exit(), b.err());
    assertEquals(1, b.errLines().size(), b.err());
    assertTrue(b.errLines().get(0).startsWith("ats-dispatch: invalid setting status.port: "), b.err());

    Run u = run("--url", "127.0.0.1:7879");
    assertEquals(2, u.exit(), u.err());
    assertEquals(List.of("ats-dispatch: --url: not an http(s) URL: 127.0.0.1:7879"), u.errLines());
  }

  @Test
  void asItsOwnProcessReadsTheWorkingDirectorysSettingsAndExitsWithTheCode() throws Exception {
    StatusServer ready = server(Readiness.of(true, true));
    Path runDir = Files.createDirectories(dir.resolve("svc"));
    // ./ats-dispatch.toml in the working directory, as run reads it
    Files.writeString(runDir.resolve("ats-dispatch.toml"), "[status]\nport = " + ready.port() + "\n");
    ChildJvm up = ChildJvm.start(runDir, "up", Map.of("HOME", dir.toString()), List.of("status"));
    open.add(up);
    ChildJvm none = ChildJvm.start(dir, "none", Map.of("HOME", dir.toString(),
        "ATS_DISPATCH_STATUS_PORT", String.valueOf(freePort())), List.of("status"));
    open.add(none);
    assertEquals(0, up.waitFor(Duration.ofSeconds(30)), up.stderr());
    assertTrue(up.stdout().startsWith("ats-dispatch at http://127.0.0.1:" + ready.port() + ": ready"),
        up.stdout());
    assertEquals(3, none.waitFor(Duration.ofSeconds(30)), none.stderr());
    assertEquals(1, none.stderrLines().size(), none.stderr());
    assertTrue(none.stderrLines().get(0).contains("connection refused"), none.stderr());
  }
}
