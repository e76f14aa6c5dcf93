package dev.atsdispatch.exec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills this service's agents when the service dies without stopping them (kill -9, OOM), before
 * their leases run out and another service takes their tasks: a small shell process in its own
 * session that polls this JVM every half second and, once it is gone, kills the process group of
 * every running marker this JVM wrote ({@code running/*.run}, fourth line: the owner's pid). A
 * graceful shutdown stops the agents itself and then closes the guard. One per service; no
 * thread of its own in the JVM.
 */
public final class OrphanGuard implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OrphanGuard.class);
  private static final String SCRIPT = String.join("\n",
      "jvm=$1; dir=$2",
      "alive() { [ -d /proc/$jvm ] && ! grep -q '^State:[[:space:]]*Z' /proc/$jvm/status 2>/dev/null; }",
      "while alive; do sleep 0.5; done",
      "for f in \"$dir\"/*.run; do",
      "  [ -f \"$f\" ] || continue",
      "  [ \"$(sed -n 4p \"$f\")\" = \"$jvm\" ] || continue",
      "  g=$(sed -n 2p \"$f\")",
      "  case \"$g\" in ''|*[!0-9]*) continue;; esac",
      "  kill -KILL \"-$g\" 2>/dev/null", // dash's kill takes no "--" before a group
      "done");

  private final Process process;

  private OrphanGuard(Process process) {
    this.process = process;
  }

  /** Starts the guard over {@code runningDir}; null (logged) when no shell can be started. */
  public static OrphanGuard start(Path runningDir) {
    List<String> cmd = new java.util.ArrayList<>();
    if (java.nio.file.Files.isExecutable(Path.of("/usr/bin/setsid"))) cmd.add("/usr/bin/setsid");
    cmd.addAll(List.of("/bin/sh", "-c", SCRIPT, "ats-dispatch-orphan-guard",
        Long.toString(ProcessHandle.current().pid()), runningDir.toAbsolutePath().toString()));
    try {
      Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      return new OrphanGuard(p);
    } catch (IOException e) {
      log.warn("no orphan guard ({}): agents of a service that crashes run on until its next start", e.getMessage());
      return null;
    }
  }

  public long pid() {
    return process.pid();
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }
}
