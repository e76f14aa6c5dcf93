package dev.atsdispatch.cli;

import dev.atsdispatch.devserver.DevServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ats-dispatch dev-server}: runs the local ATS-compatible server until SIGTERM/SIGINT. */
@Command(name = "dev-server", mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    description = {
        "Run a local ATS-compatible server (HTTP + WebSocket on one port, durable storage).",
        "Point the ats CLI or the service at it with ATS_URL=http://HOST:PORT."})
public final class DevServerCommand implements Callable<Integer> {
  @Mixin GlobalOptions global;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to bind (default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--port", defaultValue = "7878", description = "port, 0 for any free one (default: ${DEFAULT-VALUE})")
  int port;

  @Option(names = "--db", paramLabel = "FILE", defaultValue = "ats-dev.sqlite",
      description = "SQLite database file (default: ${DEFAULT-VALUE})")
  Path db;

  @Option(names = "--in-memory", description = "keep everything in memory; nothing survives a stop")
  boolean inMemory;

  @Option(names = "--fsync", description = "sync every commit to disk (survives power loss)")
  boolean fsync;

  @Option(names = "--enable-test-reset", description = "serve POST /_test/reset, which wipes all data")
  boolean testReset;

  @Option(names = "--strict-ownership",
      description = "only the assignee may complete or fail an in_progress task")
  boolean strictOwnership;

  @Option(names = "--max-body-bytes", defaultValue = "8388608",
      description = "largest request body accepted, at least 1 MiB (default: ${DEFAULT-VALUE})")
  int maxBodyBytes;

  @Override
  public Integer call() {
    global.apply(LogSetup.Format.JSON);
    if (port < 0 || port > 65535) {
      System.err.println("ats-dispatch dev-server: --port must be from 0 to 65535; got: " + port);
      return 2;
    }
    if (maxBodyBytes < (1 << 20)) {
      System.err.println("ats-dispatch dev-server: --max-body-bytes must be at least 1048576");
      return 2;
    }
    DevServer.Builder b = DevServer.builder().host(host).port(port).fsync(fsync)
        .enableTestReset(testReset).strictOwnership(strictOwnership).maxBodyBytes(maxBodyBytes);
    if (inMemory) b.inMemory(); else b.database(db);
    DevServer server;
    try {
      server = b.start();
    } catch (RuntimeException e) {
      System.err.println("ats-dispatch dev-server: " + e.getMessage());
      return 1;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "ats-dev-shutdown"));
    System.out.println("ATS dev server ready at " + server.url()
        + "  (export ATS_URL=" + server.url() + ")");
    System.out.flush();
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }
}
