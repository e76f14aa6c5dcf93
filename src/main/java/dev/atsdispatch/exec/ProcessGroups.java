package dev.atsdispatch.exec;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Linux process-group operations Java lacks: signal a whole group (through {@code kill -- -PGID},
 * one atomic kill(2)), and list a group's live members from /proc.
 */
final class ProcessGroups {
  private static final String KILL = Files.isExecutable(Path.of("/usr/bin/kill")) ? "/usr/bin/kill"
      : Files.isExecutable(Path.of("/bin/kill")) ? "/bin/kill" : "kill";

  private ProcessGroups() {}

  /** Sends {@code signal} (TERM, KILL) to every process in group {@code pgid}; quiet if none. */
  static void signal(long pgid, String signal) {
    if (pgid <= 1) throw new IllegalArgumentException("refusing to signal process group " + pgid);
    try {
      Process p = new ProcessBuilder(KILL, "-s", signal, "--", "-" + pgid)
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      p.waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      // cannot fork: the per-process fallback in the caller still runs
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Whether {@code h} runs: alive and not a zombie. A zombie counts as alive for the JDK, and one
   * whose parent has exited waits for init to reap it (a sandbox's PID-namespace init, say, which
   * some inits reap only every few seconds); it runs nothing and holds nothing.
   */
  static boolean running(ProcessHandle h) {
    if (!h.isAlive()) return false;
    ProcStat st = ProcStat.of(h.pid());
    return st == null ? h.isAlive() : !st.zombie(); // no /proc, or gone meanwhile: the JDK's word
  }

  /**
   * Whether group {@code pgid} has no process at all, zombies included: the kernel's answer
   * (kill(2) with signal 0, ESRCH), asked of a shell kept for it, so neither a fork nor a walk of
   * /proc is made. False when it has members or when the answer cannot be had: the caller then
   * walks /proc with {@link #members}, which also leaves out zombies.
   */
  static boolean surelyEmpty(long pgid) {
    if (pgid <= 1) return false;
    return Probe.INSTANCE.empty(pgid);
  }

  /**
   * One {@code /bin/sh} for the service's lifetime that answers "is group N empty?" with its
   * built-in kill; requests are serialized. It exits when the JVM does (its stdin closes).
   */
  private static final class Probe {
    static final Probe INSTANCE = new Probe();
    private static final String SCRIPT = "while IFS= read -r g; do"
        + " case \"$g\" in ''|*[!0-9]*) echo bad; continue;; esac;"
        + " if out=$(kill -0 \"-$g\" 2>&1); then echo alive;"
        + " else case \"$out\" in *'No such process'*) echo gone;; *) echo unknown;; esac; fi;"
        + " done";
    private Process shell;
    private java.io.BufferedReader answers;
    private boolean broken;

    synchronized boolean empty(long pgid) {
      if (broken) return false;
      try {
        if (shell == null || !shell.isAlive()) {
          shell = new ProcessBuilder("/bin/sh", "-c", SCRIPT, "ats-dispatch-group-probe")
              .redirectError(ProcessBuilder.Redirect.DISCARD).start();
          answers = new java.io.BufferedReader(new java.io.InputStreamReader(shell.getInputStream(),
              java.nio.charset.StandardCharsets.US_ASCII));
        }
        java.io.OutputStream out = shell.getOutputStream();
        out.write((pgid + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.flush();
        return "gone".equals(answers.readLine());
      } catch (IOException e) {
        if (shell != null) shell.destroyForcibly();
        shell = null;
        broken = true; // no shell to be had: every caller walks /proc, as before
        return false;
      }
    }
  }

  /** Pids of live (non-zombie) processes whose process group is {@code pgid}. */
  static Set<Long> members(long pgid) {
    Set<Long> out = new HashSet<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"))) {
      for (Path p : procs) {
        String name = p.getFileName().toString();
        if (name.isEmpty() || !Character.isDigit(name.charAt(0))) continue;
        ProcStat st = ProcStat.of(Long.parseLong(name)); // null: gone meanwhile
        if (st != null && !st.zombie() && st.pgrp() == pgid) out.add(Long.parseLong(name));
      }
    } catch (IOException e) {
      // no /proc: callers fall back on the descendants they tracked
    }
    return out;
  }
}
