package dev.atsdispatch.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Three real {@code nats-server}s with JetStream in one cluster on loopback ports, each with its
 * own store, for the tests that kill a node. {@link #kill(int)} is SIGKILL; {@link #close} kills
 * them all.
 */
public final class NatsCluster implements AutoCloseable {
  private final Path dir;
  private final int[] clientPorts = new int[3];
  private final int[] routePorts = new int[3];
  private final Process[] nodes = new Process[3];

  private NatsCluster(Path dir) {
    this.dir = dir;
  }

  public static NatsCluster start(Path dir) throws IOException, InterruptedException {
    NatsCluster c = new NatsCluster(dir);
    for (int i = 0; i < 3; i++) {
      c.clientPorts[i] = freePort();
      c.routePorts[i] = freePort();
    }
    for (int i = 0; i < 3; i++) c.startNode(i);
    for (int i = 0; i < 3; i++) c.awaitListening(i);
    return c;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private void startNode(int i) throws IOException {
    Path store = Files.createDirectories(dir.resolve("node" + i));
    List<String> routes = new ArrayList<>();
    for (int j = 0; j < 3; j++) if (j != i) routes.add("nats-route://127.0.0.1:" + routePorts[j]);
    Path conf = dir.resolve("node" + i + ".conf");
    Files.writeString(conf, "server_name: n" + i + "\nlisten: 127.0.0.1:" + clientPorts[i] + "\n"
        + "jetstream { store_dir: \"" + store + "\" }\n"
        + "cluster { name: c1\n listen: 127.0.0.1:" + routePorts[i] + "\n routes: ["
        + String.join(", ", routes) + "] }\n");
    nodes[i] = new ProcessBuilder(NatsServer.binary(), "-c", conf.toString()).redirectErrorStream(true)
        .redirectOutput(dir.resolve("node" + i + ".log").toFile()).start();
  }

  private void awaitListening(int i) throws IOException, InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < end) {
      if (!nodes[i].isAlive()) throw new IOException("nats-server n" + i + " exited: " + Files.readString(dir.resolve("node" + i + ".log")));
      try (Socket s = new Socket("127.0.0.1", clientPorts[i])) {
        return;
      } catch (IOException notYet) {
        Thread.sleep(20);
      }
    }
    throw new IOException("nats-server n" + i + " did not listen within 20 s");
  }

  /** All three client URLs, comma-separated: what a client is given to fail over. */
  public String urls() {
    List<String> u = new ArrayList<>();
    for (int p : clientPorts) u.add("nats://127.0.0.1:" + p);
    return u.stream().collect(Collectors.joining(","));
  }

  public String url(int i) {
    return "nats://127.0.0.1:" + clientPorts[i];
  }

  /** kill -9 of node {@code i}. */
  public void kill(int i) throws InterruptedException {
    nodes[i].destroyForcibly();
    nodes[i].waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : nodes) {
      if (p != null) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
