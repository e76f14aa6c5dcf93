package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.FakeMessagesApi;
import dev.atsdispatch.testing.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the tests that run a real agent CLI (claude, pi) against {@link FakeMessagesApi} share: a
 * dev server on a fresh database, a human's {@link Http} client to it, and the fake API, started
 * before each test and closed after it (after the subclass's own {@code @AfterEach}, which closes
 * its service first). Subclasses name the CLI, which the build installs.
 */
abstract class FakeMessagesApiTestBase {
  @TempDir Path dir;
  DevServer server;
  Http http;
  FakeMessagesApi api;

  /** The agent CLI the tests run. */
  abstract Path cli();

  @BeforeEach
  void startServerAndApi() throws Exception {
    assertTrue(Files.isExecutable(cli()), cli() + " is missing: the build installs it (mvn process-test-resources)");
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    api = FakeMessagesApi.start();
  }

  @AfterEach
  void stopServerAndApi() {
    if (api != null) api.close();
    if (server != null) server.close();
  }
}
