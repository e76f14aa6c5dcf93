package dev.atsdispatch.source.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.ChildJvm;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link AtsSource#status} reads a task light over http (defect 9): eight threads reading the
 * status of tasks with 7 MiB descriptions at once fit in a 64 MiB heap, where eight full reads
 * (what the engine's call pool did for the reopen checks of a stale listing) run out of memory.
 */
class StatusReadTest {
  private static final int TASKS = 8;
  @TempDir Path dir;
  private DevServer server;

  @AfterEach
  void stop() {
    if (server != null) server.close();
  }

  @Test
  void eightConcurrentStatusReadsOfSevenMegabyteTasksFitIn64Megabytes() throws Exception {
    server = DevServer.builder().port(0).inMemory().start();
    byte[] body = ("{\"title\":\"big\",\"channel\":\"big\",\"description\":\""
        + "x".repeat(7 << 20) + "\"}").getBytes(StandardCharsets.UTF_8);
    HttpClient http = HttpClient.newHttpClient();
    List<String> args = new ArrayList<>(List.of(server.url(), "3"));
    args.add("source");
    for (int i = 0; i < TASKS; i++) {
      HttpRequest create = HttpRequest.newBuilder(URI.create(server.url() + "/tasks"))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
      HttpResponse<InputStream> r = http.send(create, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream in = r.body()) {
        in.transferTo(OutputStream.nullOutputStream());
      }
      assertEquals(201, r.statusCode());
      args.add(Integer.toString(i + 1)); // a fresh server numbers its tasks from 1
    }
    body = null;

    List<String> jvm = List.of("-Xmx64m", "-XX:+ExitOnOutOfMemoryError");
    try (ChildJvm light = ChildJvm.start(dir, "light", Map.of(), jvm, StatusReadProbe.class.getName(), args)) {
      assertEquals(0, light.waitFor(Duration.ofSeconds(60)), light.stdout() + light.stderr());
      assertEquals("statuses: " + String.join(" ", java.util.Collections.nCopies(TASKS, "pending")),
          light.stdout().strip());
    }
    // The contrast: full reads of the same tasks from the same threads.
    args.set(2, "full");
    try (ChildJvm full = ChildJvm.start(dir, "full", Map.of(), jvm, StatusReadProbe.class.getName(), args)) {
      assertEquals(3, full.waitFor(Duration.ofSeconds(60)), full.stdout() + full.stderr());
      assertTrue((full.stdout() + full.stderr()).contains("OutOfMemoryError"), full.stdout() + full.stderr());
    }
  }
}
