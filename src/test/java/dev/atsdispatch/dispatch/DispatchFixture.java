package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.EventWatcher;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** Shared helpers for the dispatch tests: agents in a temp dir, services, tasks, waiting. */
final class DispatchFixture {
  static final EventWatcher.Timing FAST = new EventWatcher.Timing(Duration.ofSeconds(1),
      Duration.ofSeconds(5), Duration.ofMillis(100), Duration.ofMillis(500));
  static final String CH = "ada-dispatch";

  private DispatchFixture() {}

  /** Writes an executable /bin/sh script {@code dir/name}. */
  static Path agent(Path dir, String name, String body) {
    Path p = dir.resolve(name);
    try {
      Files.writeString(p, "#!/bin/sh\n" + body + "\n");
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  static ServiceConfig.Builder config(Path agent, Path stateDir, Path keysDir) {
    ServiceConfig.Builder b = ServiceConfig.builder();
    b.channel = CH;
    b.agentCommand = List.of(agent.toString());
    b.stateDir = stateDir;
    b.keysDir = keysDir;
    b.grace = Duration.ofMillis(500);
    b.drain = Duration.ofSeconds(2);
    return b;
  }

  /** Starts a service; distinct services must use distinct actor ids (a re-claim by the same actor renews). */
  static Service start(String url, ServiceConfig cfg, String actorId, Path home) {
    return start(url, cfg, actorId, Map.of("PATH", System.getenv("PATH"), "HOME", home.toString()));
  }

  /** As above, with the whole environment the service sees (agents get only the allowlisted part). */
  static Service start(String url, ServiceConfig cfg, String actorId, Map<String, String> serviceEnv) {
    AtsSettings s = new AtsSettings(url, "default", "main", false, "agent", actorId, actorId);
    Service svc = new Service(cfg, s, new HttpAtsClient(s, Duration.ofSeconds(10)),
        new ProcessAgentRunner(Clock.SYSTEM, Duration.ofMillis(50)), Clock.SYSTEM, serviceEnv, FAST);
    svc.start();
    return svc;
  }

  /** A service with its extensions (encryption policy, notifications) on the real agent runner. */
  static Service start(String url, ServiceConfig cfg, Path home, Service.Extensions ext) {
    AtsSettings s = new AtsSettings(url, "default", "main", false, "agent", "ada-1", "Ada");
    Service svc = new Service(cfg, s, new HttpAtsClient(s, Duration.ofSeconds(10)), new ProcessAgentRunner(),
        Clock.SYSTEM, Map.of("PATH", System.getenv("PATH"), "HOME", home.toString()), FAST, ext);
    svc.start();
    return svc;
  }

  static long create(Http http, String title, int priority, String payload) {
    Http.Resp r = http.post("/tasks", "{\"title\":" + Http.json(title) + ",\"channel\":\"" + CH
        + "\",\"priority\":" + priority + (payload == null ? "" : ",\"payload\":" + payload) + "}");
    assertEquals(201, r.status(), r.text());
    return r.task().path("id").asLong();
  }

  static JsonNode task(Http http, long id) {
    return http.get("/tasks/" + id).task();
  }

  /** Tasks of the channel with this status (the server's total count). */
  static int count(Http http, String status) {
    Http.Resp r = http.get("/tasks?channel=" + CH + "&status=" + status + "&limit=1");
    assertEquals(200, r.status(), r.text());
    return r.body().path("count").asInt();
  }

  static void await(String what, Duration d, BooleanSupplier cond) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(20);
    }
  }

  static void awaitStatus(Http http, long id, String status, Duration d) throws InterruptedException {
    await("task " + id + " to be " + status, d, () -> task(http, id).path("status").asText().equals(status));
  }

  /** The lines of a file, or none if it does not exist yet. */
  static List<String> lines(Path f) {
    try {
      return Files.exists(f) ? Files.readAllLines(f) : new ArrayList<>();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The ledger's events of one task. */
  static List<JsonNode> ledger(Path stateDir, long id) {
    List<JsonNode> out = new ArrayList<>();
    for (String l : lines(stateDir.resolve("tasks/ats/" + id + "/events.jsonl"))) {
      try {
        out.add(Http.JSON.readTree(l));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return out;
  }

  static List<JsonNode> ledger(Path stateDir, long id, String event) {
    return ledger(stateDir, id).stream().filter(e -> e.path("event").asText().equals(event)).toList();
  }
}
