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
  private final Path config; // null: flags only
  private Process process;

  private NatsServer(Path store, int port, Path config) {
    this.store = store;
    this.port = port;
    this.config = config;
  }

  /** Starts one with its store under {@code dir}. */
  public static NatsServer start(Path dir) throws IOException, InterruptedException {
    return start(dir, null);
  }

  /**
   * As above, with {@code extraConfig} (nats-server configuration, e.g. a {@code tls} or
   * {@code authorization} block) in its configuration file.
   */
  public static NatsServer start(Path dir, String extraConfig) throws IOException, InterruptedException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path store = Files.createDirectories(dir.resolve("nats-store"));
    Path config = null;
    if (extraConfig != null) {
      config = dir.resolve("nats-server.conf");
      Files.writeString(config, "listen: \"127.0.0.1:" + port + "\"\njetstream { store_dir: \"" + store + "\" }\n"
          + extraConfig + "\n");
    }
    NatsServer n = new NatsServer(store, port, config);
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
    ProcessBuilder pb = config != null ? new ProcessBuilder(binary(), "-c", config.toString())
        : new ProcessBuilder(binary(), "-js", "-a", "127.0.0.1", "-p", Integer.toString(port), "-sd", store.toString());
    process = pb.redirectErrorStream(true).redirectOutput(store.resolveSibling("nats-server.log").toFile()).start();
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

  public int port() {
    return port;
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
