package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, finding 1, through the real service ({@code ats-dispatch run} in a child JVM, the dev
 * server over real sockets, real bwrap): an agent that tries to read the keys, the service's
 * environment through /proc, another task's attempt log, to write into the outbox, to reach the
 * status port and (network off) the network. Under {@code bwrap} every attempt fails (with the
 * network on, only the network answers); under {@code none} the same probe reaches all of them but
 * the status port, which shows the probe is real (and is what README's security model says an
 * agent without a sandbox can do). That a status request from elsewhere is served is shown by the
 * test waiting for the port, and by StatusServerTest.
 */
@Timeout(120)
final class AgentSandboxTest {
  private static final String ENV_CANARY = "service-env-canary-5521";
  private static final String LOG_CANARY = "victim-output-canary-9043";

  @TempDir Path dir;
  private DevServer server;
  private ChildJvm service;

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void underBwrapWithoutNetworkEveryProbeFails() throws Exception {
    Map<String, String> seen = probe("bwrap", false);
    assertEquals(blocked("keys", "environ", "other_log", "outbox", "status_port", "network"), seen);
  }

  @Test
  void underBwrapWithNetworkTheStateKeysAndServiceStayHidden() throws Exception {
    Map<String, String> seen = probe("bwrap", true);
    // the network is the host's (README says so): ATS answers; the status port refuses its own agents
    Map<String, String> want = blocked("keys", "environ", "other_log", "outbox", "status_port");
    want.put("network", "reached");
    assertEquals(want, seen);
  }

  @Test
  void withoutASandboxTheProbeReachesEverything() throws Exception {
    Map<String, String> seen = probe("none", true);
    Map<String, String> want = new TreeMap<>();
    for (String k : List.of("keys", "environ", "other_log", "outbox", "network")) want.put(k, "reached");
    want.put("status_port", "blocked"); // refused to the service's own agents in every mode
    assertEquals(want, seen);
  }

  /**
   * Stopping under bwrap: SIGTERM to the service reaches a sandboxed agent as TERM (bwrap itself
   * does not die of it and cut the grace short); an agent that ignores TERM and a grandchild that
   * left its process group both end; and kill -9 of the service ends a sandbox within seconds.
   */
  @Test
  void sandboxedAgentsGetTermAndNothingOutlivesTheService() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http api = new Http(server.url(), "human", "tester", "Tester");
    Path state = dir.resolve("state");
    // "graceful" answers TERM; any other title ignores it and leaves a grandchild in a session of its own
    Path agent = dir.resolve("stop.sh");
    Files.writeString(agent, String.join("\n", "#!/bin/bash",
        "case \"$ATS_TASK_TITLE\" in",
        "  graceful) trap 'echo term > got-term; exit 0' TERM; echo up > started; sleep 600 & wait;;",
        "  *) trap '' TERM; setsid sleep \"61$ATS_TASK_ID\" & echo up > started; sleep 600 & wait;;",
        "esac", ""));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "bwrap");
    env.put("ATS_DISPATCH_DRAIN", "1s");
    env.put("ATS_DISPATCH_AGENT_GRACE", "1s");
    env.put("ATS_DISPATCH_STATUS_PORT", "off");
    List<String> args = List.of("run", "--transport", "http", "--url", server.url(), "--channel", "stop",
        "--agent", agent.toString(), "--state-dir", state.toString(), "--keys-dir", dir.resolve("keys").toString());

    long graceful = api.post("/tasks", "{\"title\":\"graceful\",\"channel\":\"stop\"}").task().path("id").asLong();
    long stubborn = api.post("/tasks", "{\"title\":\"stubborn\",\"channel\":\"stop\"}").task().path("id").asLong();
    service = ChildJvm.start(dir, "stop-1", env, args);
    awaitFile(state.resolve("tasks/ats/" + graceful + "/work/started"));
    awaitFile(state.resolve("tasks/ats/" + stubborn + "/work/started"));
    assertTrue(awaitSleeping("61" + stubborn), "the grandchild runs");
    service.process().destroy(); // SIGTERM
    assertTrue(service.process().waitFor(15, java.util.concurrent.TimeUnit.SECONDS), "the service stopped");
    assertEquals("term", Files.readString(state.resolve("tasks/ats/" + graceful + "/work/got-term")).trim(),
        "the sandboxed agent got TERM and had its grace");
    assertFalse(sleeping("61" + stubborn), "a grandchild outlived the service");

    // kill -9: nothing of the service runs any more, and the sandbox goes with it
    long third = api.post("/tasks", "{\"title\":\"stubborn\",\"channel\":\"stop\"}").task().path("id").asLong();
    service = ChildJvm.start(dir, "stop-2", env, args);
    awaitFile(state.resolve("tasks/ats/" + third + "/work/started"));
    assertTrue(awaitSleeping("61" + third), "the grandchild runs");
    service.process().destroyForcibly();
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (sleeping("61" + third) && System.nanoTime() < end) Thread.sleep(100);
    assertFalse(sleeping("61" + third), "a sandbox outlived kill -9 of its service");
  }

  /**
   * A sandboxed agent outlives the thread that started its gate: bwrap's --die-with-parent kills
   * the sandbox when the <em>thread</em> that forked it ends, and the gates' refill thread used to
   * end 5 s after its last refill, killing (exit 137) agents that ran longer. Tasks that come a
   * moment apart take gates the refill thread has just made; each agent runs past those 5 s.
   */
  @Test
  void sandboxedAgentsOutliveTheThreadThatStartedTheirGate() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http api = new Http(server.url(), "human", "tester", "Tester");
    Path agent = dir.resolve("slow.sh");
    Files.writeString(agent, "#!/bin/sh\nsleep 7\necho done\n");
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "bwrap");
    env.put("ATS_DISPATCH_STATUS_PORT", "off");
    service = ChildJvm.start(dir, "gates", env, List.of("run", "--transport", "http", "--url", server.url(),
        "--channel", "gates", "--agent", agent.toString(), "--state-dir", dir.resolve("state").toString(),
        "--keys-dir", dir.resolve("keys").toString()));
    List<Long> ids = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(api.post("/tasks", "{\"title\":\"slow " + i + "\",\"channel\":\"gates\"}").task().path("id").asLong());
      awaitStatus(api, ids.get(i), "in_progress"); // each takes a gate refilled after the previous pickup
    }
    for (long id : ids) awaitStatus(api, id, "completed");
  }

  /** Waits up to 10 s for a {@code sleep <n>} to run (the agent forks it in the background). */
  private static boolean awaitSleeping(String n) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!sleeping(n) && System.nanoTime() < end) Thread.sleep(20);
    return sleeping(n);
  }

  /** Whether a {@code sleep <n>} process runs (seen from outside any sandbox). */
  private static boolean sleeping(String n) {
    return ProcessHandle.allProcesses().anyMatch(h -> h.info().commandLine().orElse("").equals("sleep " + n)
        || h.info().arguments().map(a -> a.length == 1 && a[0].equals(n)
            && h.info().command().orElse("").endsWith("/sleep")).orElse(false));
  }

  private void awaitFile(Path f) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!Files.exists(f)) {
      if (!service.process().isAlive()) throw new AssertionError("the service exited:\n" + service.stderr());
      if (System.nanoTime() > end) throw new AssertionError("no " + f + "\n" + service.stderr());
      Thread.sleep(50);
    }
  }

  private static Map<String, String> blocked(String... what) {
    Map<String, String> m = new TreeMap<>();
    for (String w : what) m.put(w, "blocked");
    return m;
  }

  /** Runs a victim task, then the probe task, under {@code sandbox}; returns what the probe saw. */
  private Map<String, String> probe(String sandbox, boolean network) throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    Http api = new Http(server.url(), "human", "tester", "Tester");
    Path state = dir.resolve("state");
    Path keys = dir.resolve("keys");
    int statusPort = freePort();
    int atsPort = URI.create(server.url()).getPort();
    // each line: <what> reached|blocked. A probe "reaches" only if it gets what it went for.
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, String.join("\n",
        "#!/bin/bash",
        "prompt=$(cat)",
        "case \"$prompt\" in *victim*) echo " + LOG_CANARY + "; exit 0;; esac",
        "r() { if [ \"$2\" = yes ]; then echo \"$1 reached\"; else echo \"$1 blocked\"; fi; }",
        "k=no; grep -qi secret " + keys + "/dispatch-keys.json 2>/dev/null && k=yes; r keys $k",
        "e=no; for f in /proc/$PPID/environ /proc/[0-9]*/environ; do grep -qa " + ENV_CANARY + " $f 2>/dev/null && e=yes; done; r environ $e",
        "l=no; cat " + state + "/tasks/ats/$VICTIM/attempt-1.stdout.log 2>/dev/null | grep -q " + LOG_CANARY + " && l=yes; r other_log $l",
        "o=no; echo x > " + state + "/outbox/results/probe-$$.txt 2>/dev/null && o=yes; r outbox $o",
        "s=no; exec 3<>/dev/tcp/127.0.0.1/" + statusPort + " 2>/dev/null && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3"
            + " && timeout 5 cat <&3 | grep -q 200 && s=yes; exec 3>&-; r status_port $s",
        "n=no; exec 4<>/dev/tcp/127.0.0.1/" + atsPort + " 2>/dev/null && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&4"
            + " && timeout 5 cat <&4 | grep -q 200 && n=yes; exec 4>&-; r network $n",
        ""));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));

    long victim = api.post("/tasks", "{\"title\":\"victim\",\"channel\":\"probe\"}").task().path("id").asLong();
    Map<String, String> env = new LinkedHashMap<>();
    env.put("HOME", dir.toString());
    env.put("SECRET_OF_THE_SERVICE", ENV_CANARY);
    env.put("ATS_DISPATCH_AGENT_SANDBOX", sandbox);
    env.put("ATS_DISPATCH_AGENT_NETWORK", Boolean.toString(network));
    env.put("ATS_DISPATCH_STATUS_PORT", Integer.toString(statusPort));
    env.put("ATS_DISPATCH_CONCURRENCY", "1");
    // the victim's id, which an attacker would find by listing the state directory
    env.put("ATS_DISPATCH_AGENT_ENV", "{VICTIM = \"" + victim + "\"}");
    service = ChildJvm.start(dir, "service-" + sandbox, env, List.of("run", "--transport", "http",
        "--url", server.url(), "--channel", "probe", "--agent", agent.toString(),
        "--state-dir", state.toString(), "--keys-dir", keys.toString()));
    awaitStatus(api, victim, "completed");
    awaitStatusPort(statusPort);
    long probe = api.post("/tasks", "{\"title\":\"probe\",\"channel\":\"probe\"}").task().path("id").asLong();
    awaitStatus(api, probe, "completed");
    String response = api.get("/tasks/" + probe).task().path("outputs").path(0).path("response").asText();
    Map<String, String> seen = new TreeMap<>();
    for (String line : response.strip().split("\n")) {
      String[] f = line.trim().split(" ");
      if (f.length == 2) seen.put(f[0], f[1]);
    }
    assertTrue(Files.isRegularFile(keys.resolve("dispatch-keys.json")), "the keys the probe went for exist");
    assertEquals(200, new Http("http://127.0.0.1:" + statusPort).get("/healthz").status(),
        "the status port serves everyone else");
    assertTrue(Files.isRegularFile(state.resolve("tasks/ats/" + victim + "/attempt-1.stdout.log")), "so does the log");
    if (!seen.containsKey("outbox") || seen.get("outbox").equals("blocked")) {
      try (var ls = Files.list(state.resolve("outbox/results"))) {
        assertTrue(ls.noneMatch(p -> p.getFileName().toString().startsWith("probe-")), "a write reached the outbox");
      }
    }
    return seen;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private void awaitStatusPort(int port) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < end) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        if (!service.process().isAlive()) throw new AssertionError("the service exited:\n" + service.stderr());
        Thread.sleep(100);
      }
    }
    throw new AssertionError("no status port\n" + service.stderr());
  }

  private void awaitStatus(Http api, long id, String status) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(40).toNanos();
    JsonNode t = null;
    while (System.nanoTime() < end) {
      t = api.get("/tasks/" + id).task();
      if (t.path("status").asText().equals(status)) return;
      if (!service.process().isAlive()) throw new AssertionError("the service exited:\n" + service.stderr());
      Thread.sleep(100);
    }
    throw new AssertionError("task " + id + " not " + status + ": " + t + "\n" + service.stderr());
  }
}
