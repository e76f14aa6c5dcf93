package dev.atsdispatch.status;

import dev.atsdispatch.exec.ProcStat;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Tells whether a TCP connection to the status port comes from one of this service's own agents
 * (a descendant process of the JVM in a session other than the JVM's: every agent is started
 * with {@code setsid}), so the status port can refuse it: an agent shares the
 * host's network when {@code agent.network = true}, and would otherwise read the service's pid
 * and metrics. Linux only: the client socket's inode is found in {@code /proc/net/tcp} and
 * {@code tcp6} by its port pair, then among the open files of the JVM's descendants; wherever
 * {@code /proc} cannot tell, the answer is no. Stateless; called on the status port's worker
 * threads, a few file reads per request.
 */
final class OwnAgents {
  private OwnAgents() {}

  /** Whether the peer at {@code remote}, connected to local port {@code serverPort}, is an agent of ours. */
  static boolean isOwnAgent(InetSocketAddress remote, int serverPort) {
    if (remote == null) return false;
    Set<String> inodes = new HashSet<>();
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) inodes.addAll(clientInodes(Path.of(table), remote.getPort(), serverPort));
    if (inodes.isEmpty()) return false;
    Set<String> wanted = inodes.stream().map(i -> "socket:[" + i + "]").collect(Collectors.toSet());
    long ours = session(ProcessHandle.current().pid());
    // agents run in sessions of their own (setsid); the service's other children (the ats CLI)
    // share its session and are not agents. The orphan guard has a session of its own too, but
    // never connects.
    return ProcessHandle.current().descendants()
        .anyMatch(p -> session(p.pid()) != ours && holds(p.pid(), wanted));
  }

  /** The session id of {@code pid} from /proc, or -1. */
  static long session(long pid) {
    ProcStat st = ProcStat.of(pid);
    return st == null ? -1 : st.session();
  }

  /** Inodes of sockets whose local port is {@code clientPort} and remote port {@code serverPort}. */
  static Set<String> clientInodes(Path table, int clientPort, int serverPort) {
    Set<String> out = new HashSet<>();
    List<String> lines;
    try {
      lines = Files.readAllLines(table);
    } catch (IOException | RuntimeException e) {
      return out;
    }
    for (int i = 1; i < lines.size(); i++) {
      String[] f = lines.get(i).trim().split("\\s+");
      if (f.length < 10) continue;
      if (port(f[1]) == clientPort && port(f[2]) == serverPort && !f[9].equals("0")) out.add(f[9]);
    }
    return out;
  }

  private static int port(String hexAddress) {
    int colon = hexAddress.lastIndexOf(':');
    try {
      return colon < 0 ? -1 : Integer.parseInt(hexAddress.substring(colon + 1), 16);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static boolean holds(long pid, Set<String> sockets) {
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path fd : fds) {
        try {
          if (sockets.contains(Files.readSymbolicLink(fd).toString())) return true;
        } catch (IOException | RuntimeException e) {
          // closed meanwhile
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone, or not ours to read
    }
    return false;
  }
}
