package dev.atsdispatch.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code nats-server} with JetStream on a free loopback port and its own store directory,
 * for the NATS source's tests (no mock of NATS anywhere). {@link #close} kills it; {@link #kill}
 * and {@link #start} again on the same port and store stand for a crash and a restart.
 */
public final class NatsServer implements AutoCloseable {
  private final Path store;
  private final int port;
  private Process process;

  private NatsServer(Path store, int port) {
    this.store = store;
    this.port = port;
  }

  /** Starts one with its store under {@code dir}. */
  public static NatsServer start(Path dir) throws IOException, InterruptedException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    NatsServer n = new NatsServer(Files.createDirectories(dir.resolve("nats-store")), port);
    n.start();
    return n;
  }

  public static String binary() {
    for (String p : List.of("/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server")) {
      if (Files.isExecutable(Path.of(p))) return p;
    }
    return "nats-server";
  }

  /** (Re)starts the server on its port and store; returns once it accepts connections. */
  public void start() throws IOException, InterruptedException {
    process = new ProcessBuilder(binary(), "-js", "-a", "127.0.0.1", "-p", Integer.toString(port), "-sd", store.toString())
        .redirectErrorStream(true).redirectOutput(store.resolveSibling("nats-server.log").toFile()).start();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < end) {
      if (!process.isAlive()) throw new IOException("nats-server exited: " + Files.readString(store.resolveSibling("nats-server.log")));
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException notYet) {
        Thread.sleep(20);
      }
    }
    throw new IOException("nats-server did not listen on " + port + " within 20 s");
  }

  public String url() {
    return "nats://127.0.0.1:" + port;
  }

  /** kill -9. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null) kill();
  }
}
