package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Wait;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's view of the agents on the status port, read by a real SSE client ({@code curl
 * -N}): an agent's lines arrive while it runs (it waits for the test, which waits for its first
 * line), the stream ends when the attempt does, and a subscriber who comes late gets the buffered
 * history; {@code /agents} lists the running agent and {@code /agents/{task}} its events.
 */
@Timeout(120)
final class OperatorAgentsTest {
  @TempDir Path dir;
  DevServer server;
  ChildJvm service;
  final List<Process> curls = new ArrayList<>();

  @AfterEach
  void stop() {
    curls.forEach(Process::destroyForcibly);
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void anAgentsLinesStreamAsTheyComeAndALateReaderGetsTheHistory() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http ats = new Http(server.url(), "human", "tester", "Tester");
    Path go = dir.resolve("go");
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, "#!/bin/sh\ncat > /dev/null\necho 'line one'\necho 'to stderr' >&2\n"
        + "while [ ! -e " + go + " ]; do sleep 0.05; done\necho 'line two'\n");
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "none");
    env.put("ATS_DISPATCH_STATUS_PORT", Integer.toString(port));
    env.put("ATS_DISPATCH_LOG_FORMAT", "plain");
    env.put("ATS_DISPATCH_LEASE", "3s"); // renewed every second while the agent waits: renewals in the history
    service = ChildJvm.start(dir, "service", env, List.of("run", "--transport", "http", "--url", server.url(),
        "--channel", "ops", "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
        "--keys-dir", dir.resolve("keys").toString()));
    Http status = new Http("http://127.0.0.1:" + port);
    long id = ats.post("/tasks", "{\"title\":\"watched\",\"channel\":\"ops\"}").task().path("id").asLong();
    Wait.until("the agent listed as running", Duration.ofSeconds(60), () -> {
      if (!service.process().isAlive()) throw new AssertionError(service.stderr());
      try {
        JsonNode a = status.get("/agents").body().path("agents");
        return a.size() == 1 && a.get(0).path("task").asText().equals("ats:" + id);
      } catch (RuntimeException e) {
        return false; // the status port is not up yet
      }
    });

    JsonNode st = status.get("/status").body();
    assertEquals(1, st.path("running").asInt(), st.toString());
    assertEquals(4, st.path("capacity").asInt(), st.toString());
    assertEquals(0, st.path("waiting").asInt(), st.toString());
    assertEquals(1, st.path("agents").asInt(), st.toString());

    List<String> live = sse("http://127.0.0.1:" + port + "/agents/ats:" + id + "/events");
    Wait.until("the first line, while the agent waits", Duration.ofSeconds(20), () -> has(live, "line one"));
    Wait.until("a lease renewal, streamed", Duration.ofSeconds(20), () -> has(live, "event: renewed"));
    assertTrue(!has(live, "line two") && !has(live, "\"finished\""), live.toString());
    Files.writeString(go, "");
    Wait.until("the second line and the end", Duration.ofSeconds(20), () -> has(live, "\"type\":\"finished\""));
    List<String> data = data(live);
    // stdout and stderr are two pipes: each in its order, the two interleaved as they were read
    assertEquals(List.of("started", "stdout:line one", "stdout:line two", "finished"),
        data.stream().filter(d -> !d.startsWith("stderr:") && !d.equals("renewed")).toList(), live.toString());
    assertTrue(data.contains("stderr:to stderr"), data.toString());
    assertTrue(curls.get(0).waitFor(10, TimeUnit.SECONDS), "the stream did not end with the attempt");

    List<String> late = sse("http://127.0.0.1:" + port + "/agents/" + id + "/events");
    assertTrue(curls.get(1).waitFor(10, TimeUnit.SECONDS), "the late stream did not end");
    Wait.until("the late stream read to its end", Duration.ofSeconds(10), () -> has(late, "\"type\":\"finished\""));
    assertEquals(data, data(late), "a late reader gets the history");

    JsonNode one = status.get("/agents/ats:" + id).body();
    assertEquals(1, one.path("attempt").asInt(), one.toString());
    assertEquals(data.size(), one.path("events").size(), one.toString());
    assertEquals(0, status.get("/agents").body().path("agents").size());
    assertEquals(404, status.get("/agents/ats:999999").status());
  }

  /** Starts {@code curl -N} on {@code url}; its output lines are collected as they come. */
  private List<String> sse(String url) throws Exception {
    Process p = new ProcessBuilder("curl", "-s", "-N", url).redirectErrorStream(true).start();
    curls.add(p);
    List<String> lines = Collections.synchronizedList(new ArrayList<>());
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String l;
        while ((l = r.readLine()) != null) lines.add(l);
      } catch (Exception e) {
        // the process went away
      }
    }, "sse-reader");
    t.setDaemon(true);
    t.start();
    return lines;
  }

  private static boolean has(List<String> lines, String s) {
    synchronized (lines) {
      return lines.stream().anyMatch(l -> l.contains(s));
    }
  }

  /** Each event as "type" or "type:text" (the "started" and "finished" texts left out). */
  private static List<String> data(List<String> lines) throws Exception {
    List<String> out = new ArrayList<>();
    synchronized (lines) {
      for (String l : lines) {
        if (!l.startsWith("data: ")) continue;
        JsonNode e = Http.JSON.readTree(l.substring(6));
        String type = e.path("type").asText();
        out.add(type.equals("stdout") || type.equals("stderr") ? type + ":" + e.path("text").asText() : type);
      }
    }
    return out;
  }
}
