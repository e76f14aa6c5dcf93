package dev.atsdispatch.exec;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Agent gates started ahead of the agents that will need them, so that a pickup does not wait for
 * a fork and two execs (about 2 ms of its path here). Each gate is {@code setsid /bin/sh} in a
 * session and process group of its own, with an empty environment and {@code /} as its directory,
 * idle in a read of one line from its stdin. The runner writes the agent's running marker with the
 * gate's process group, then the line: shell words that change to the work directory, export the
 * agent's environment and exec the agent (through bwrap when sandboxed), so the agent keeps the
 * gate's pid, process group and start time, as with a gate forked for it. Every word is
 * single-quoted (a newline becomes {@code '"$nl"'}), so no character of task text is read as shell
 * syntax. A gate whose stdin closes (the service died or closed it) exits 125 having run nothing.
 * Threads: one refill thread, kept for the service's life (see the constructor).
 */
final class ReadyGates implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReadyGates.class);
  static final String SCRIPT = "nl='\n'; IFS= read -r go || exit 125; eval \"$go\"";
  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  /** A gate ready for an agent, with its start time (epoch ms) read when it was started. */
  record Gate(Process process, long startMs) {
    /** Ends a gate that will take no agent: its stdin closed, then killed (it has run nothing). */
    void discard() {
      try {
        process.getOutputStream().close();
      } catch (IOException ignored) {
        // it is killed below all the same
      }
      process.destroyForcibly();
    }
  }

  private final int keep;
  private final String setsid;
  private final ArrayDeque<Gate> ready = new ArrayDeque<>();
  private final AtomicBoolean refilling = new AtomicBoolean();
  private final ExecutorService refiller;
  private boolean closed;

  ReadyGates(int keep, String setsid) {
    this.keep = keep;
    this.setsid = setsid;
    // One thread for the service's life, never timed out: a gate's parent is the thread that
    // forked it, and bwrap's --die-with-parent kills the sandbox when that thread ends (a thread
    // that idled out 5 s after a refill killed agents that ran longer, exit 137).
    this.refiller = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "agent-gates");
      t.setDaemon(true);
      return t;
    });
    refill();
  }

  /** A live gate, or null when none is ready; a refill starts either way. */
  Gate take() {
    Gate g;
    synchronized (this) {
      while ((g = ready.poll()) != null && !g.process().isAlive()) {
        g.discard();
      }
    }
    refill();
    return g;
  }

  int readyCount() {
    synchronized (this) {
      return ready.size();
    }
  }

  private void refill() {
    synchronized (this) {
      if (closed) return;
    }
    if (!refilling.compareAndSet(false, true)) return;
    try {
      refiller.execute(this::fill);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      refilling.set(false);
    }
  }

  private void fill() {
    try {
      while (true) {
        synchronized (this) {
          if (closed || ready.size() >= keep) return;
        }
        Gate g;
        try {
          g = start();
        } catch (IOException | RuntimeException e) {
          // the agent that needs one forks its own gate, and says why if that fails too
          log.debug("no gate started ahead: {}", e.toString());
          return;
        }
        synchronized (this) {
          if (closed) {
            g.discard();
            return;
          }
          ready.add(g);
        }
      }
    } finally {
      refilling.set(false);
    }
  }

  private Gate start() throws IOException {
    ProcessBuilder pb = new ProcessBuilder(setsid, "/bin/sh", "-c", SCRIPT, "ats-dispatch-gate")
        .directory(new File("/"));
    pb.environment().clear();
    Process p = pb.start();
    return new Gate(p, ProcessAgentRunner.startMillis(p.pid()));
  }

  /**
   * The line that lets a gate run {@code cmd} in {@code dir} with exactly {@code env} (and the
   * {@code PWD} a shell sets, as a forked gate gives it), or null when a name in {@code env} is no
   * shell name or a value holds a NUL: the caller forks a gate for such an agent.
   */
  static byte[] line(Path dir, Map<String, String> env, List<String> cmd, boolean sandboxed) {
    StringBuilder b = new StringBuilder(512);
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (!NAME.matcher(e.getKey()).matches() || e.getValue().indexOf('\0') >= 0) return null;
      b.append("export ");
      quote(b, e.getKey() + "=" + e.getValue());
      b.append("; ");
    }
    b.append("cd -P -- ");
    String d = dir.toAbsolutePath().toString();
    if (d.indexOf('\0') >= 0) return null;
    quote(b, d);
    b.append(" || exit 126; ");
    if (!env.containsKey("OLDPWD")) b.append("unset OLDPWD; ");
    if (sandboxed) b.append("trap '' TERM; "); // bwrap runs with TERM ignored (see Sandbox)
    b.append("exec");
    for (String a : cmd) {
      if (a.indexOf('\0') >= 0) return null;
      b.append(' ');
      quote(b, a);
    }
    b.append('\n');
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** {@code s} as one single-quoted shell word; a quote and a newline are spelled outside the quotes. */
  static void quote(StringBuilder b, String s) {
    b.append('\'');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\'') b.append("'\\''");
      else if (c == '\n') b.append("'\"$nl\"'");
      else b.append(c);
    }
    b.append('\'');
  }

  /** Ends every gate that is ready; no more are started. */
  @Override
  public void close() {
    List<Gate> left;
    synchronized (this) {
      closed = true;
      left = List.copyOf(ready);
      ready.clear();
    }
    left.forEach(Gate::discard);
    refiller.shutdown();
  }
}
