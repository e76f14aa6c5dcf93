package dev.atsdispatch.exec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Where an agent runs: in a bubblewrap ({@code bwrap}) sandbox, or (mode {@code none}) as a plain
 * process of the service's user. In the sandbox the agent sees a read-only root, its own work
 * directory read-write, a private {@code /tmp}, its own PID namespace (no {@code /proc} of the
 * service or of other agents), nothing of the hidden paths (the state and keys directories, secret
 * files: empty and read-only in their place), and with {@code network = false} no network but a
 * loopback of its own. It dies with the service ({@code --die-with-parent}; the PID namespace
 * takes every descendant with it).
 *
 * <p>Signals: the service stops an agent with TERM to its process group, then KILL after the
 * grace. bwrap itself would die of that TERM and take the agent with it at once, so it runs with
 * TERM ignored and the agent with TERM put back to default ({@code env --default-signal=TERM}).
 *
 * <p>Immutable; {@link #wrap} is safe from any thread. {@link #create} probes bwrap once (a
 * process), at start-up.
 */
public final class Sandbox {
  /** The {@code agent.sandbox} setting. */
  public enum Mode {
    /** bwrap when it is installed and works here; else none, with one warning at start-up. */
    AUTO,
    /** bwrap, or the service refuses to start. */
    BWRAP,
    /** Agents run as plain processes of the service's user. */
    NONE;

    public static Mode parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("must be auto, bwrap or none; got: " + s);
      }
    }
  }

  /** Why a sandbox the settings ask for cannot be had. */
  public static final class Unavailable extends Exception {
    Unavailable(String message) {
      super(message);
    }
  }

  private static final Path ENV = Path.of("/usr/bin/env");
  private final Path bwrap;
  private final boolean network;
  private final List<Path> hidden;
  private final List<Path> readOnly;
  private final List<Path> readWrite;
  private final String note;
  /** Bound after the hidden directories (like the work directory): the agent API's socket directory. */
  private final List<Path> late;

  private Sandbox(Path bwrap, boolean network, List<Path> hidden, List<Path> readOnly, List<Path> readWrite,
      String note) {
    this(bwrap, network, hidden, readOnly, readWrite, note, List.of());
  }

  private Sandbox(Path bwrap, boolean network, List<Path> hidden, List<Path> readOnly, List<Path> readWrite,
      String note, List<Path> late) {
    this.bwrap = bwrap;
    this.network = network;
    this.hidden = List.copyOf(hidden);
    this.readOnly = List.copyOf(readOnly);
    this.readWrite = List.copyOf(readWrite);
    this.note = note;
    this.late = List.copyOf(late);
  }

  /**
   * This sandbox with {@code dir} bound read-write after the hidden directories, so that it is
   * seen even inside the hidden state directory (the agent API's socket directory; it must exist
   * when an agent starts).
   */
  public Sandbox bindingAfterHidden(Path dir) {
    if (bwrap == null) return this;
    List<Path> l = new ArrayList<>(late);
    l.add(dir.toAbsolutePath().normalize());
    return new Sandbox(bwrap, network, hidden, readOnly, readWrite, note, l);
  }

  /** No sandbox. */
  public static Sandbox none() {
    return new Sandbox(null, true, List.of(), List.of(), List.of(), null);
  }

  /**
   * The sandbox the settings ask for. {@code hidden}: paths the agent must not see (directories
   * become empty, files empty; those that do not exist are skipped). {@code readOnly} and
   * {@code readWrite}: extra binds, each of which must exist. With {@link Mode#AUTO} and no
   * working bwrap the result is {@link #none()} with {@link #warning()} set.
   */
  public static Sandbox create(Mode mode, boolean network, List<Path> hidden, List<Path> readOnly,
      List<Path> readWrite, Map<String, String> env) throws Unavailable {
    if (mode == Mode.NONE) return none();
    for (Path p : readOnly) requireExists(p, "agent.ro_binds");
    for (Path p : readWrite) requireExists(p, "agent.rw_binds");
    Path found;
    try {
      found = ProcessAgentRunner.resolve("bwrap", env, "bwrap");
    } catch (IOException e) {
      return fallback(mode, "bubblewrap (bwrap) is not installed (" + e.getMessage() + ")");
    }
    // bwrap follows symlinks in destinations outside the new root: every path as it really is
    List<Path> hide = real(hidden);
    List<Path> ro = real(readOnly);
    List<Path> rw = real(readWrite);
    for (Path b : concat(ro, rw)) {
      for (Path h : hide) {
        if (b.startsWith(h)) {
          throw new Unavailable("agent.ro_binds / agent.rw_binds: " + b + " is inside " + h
              + ", which agents must not see");
        }
      }
    }
    // a sandbox at all? if not, auto runs agents plainly (with the warning)
    Sandbox bare = new Sandbox(found, network, List.of(), List.of(), List.of(), null);
    String broken = bare.probe();
    if (broken != null) return fallback(mode, "bwrap cannot make a sandbox here: " + broken);
    // this sandbox? if not, never fall back to none: refuse, naming what failed
    Sandbox s = new Sandbox(found, network, hide, ro, rw, null);
    broken = s.probe();
    if (broken != null) {
      throw new Unavailable("bwrap cannot make the sandbox these settings ask for (the hidden paths "
          + hide + ", the binds " + concat(ro, rw) + "): " + broken);
    }
    return s;
  }

  private static List<Path> real(List<Path> ps) {
    List<Path> out = new ArrayList<>();
    for (Path p : ps) {
      Path a = p.toAbsolutePath().normalize();
      try {
        out.add(Files.exists(a) ? a.toRealPath() : a);
      } catch (IOException e) {
        out.add(a);
      }
    }
    return out;
  }

  private static List<Path> concat(List<Path> a, List<Path> b) {
    List<Path> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private static Sandbox fallback(Mode mode, String why) throws Unavailable {
    if (mode == Mode.BWRAP) throw new Unavailable("agent.sandbox = bwrap, but " + why);
    return new Sandbox(null, true, List.of(), List.of(), List.of(), why
        + "; agents run WITHOUT a sandbox and can read everything the service's user can (its state"
        + " and keys directories, its environment through /proc). Install bubblewrap, or set"
        + " agent.sandbox = none to say this is intended.");
  }

  private static void requireExists(Path p, String setting) throws Unavailable {
    if (!Files.exists(p)) throw new Unavailable(setting + ": " + p + " does not exist");
  }


  public boolean enabled() {
    return bwrap != null;
  }

  public boolean network() {
    return network;
  }

  /** Set when {@code auto} found no working bwrap: what to log once at start-up. */
  public String warning() {
    return note;
  }

  /** For the start-up log and the status: the mode in effect. */
  public String describe() {
    if (bwrap == null) return "none";
    return "bwrap (" + bwrap + ", network " + (network ? "on" : "off") + ", " + readOnly.size()
        + " read-only and " + readWrite.size() + " read-write binds)";
  }

  /**
   * The command that runs {@code argv} in the sandbox, in {@code workDir}; {@code program} is
   * the resolved agent program (bound read-only if it lives where the sandbox hides things, such
   * as under /tmp). Without a sandbox: {@code argv} unchanged.
   */
  public List<String> wrap(List<String> argv, Path workDir, Path program) {
    if (bwrap == null) return argv;
    Path work = workDir.toAbsolutePath().normalize();
    try {
      work = work.toRealPath();
    } catch (IOException e) {
      // not there yet: bwrap says so
    }
    List<String> c = new ArrayList<>(48 + argv.size());
    c.add(bwrap.toString());
    // no capabilities, even for root: nothing inside can unmount what hides the state and keys
    c.addAll(List.of("--die-with-parent", "--cap-drop", "ALL", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try"));
    if (!network) c.add("--unshare-net");
    c.addAll(List.of("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--tmpfs", "/var/tmp", "--tmpfs", "/dev/shm"));
    // /run holds the sockets of the user's session bus and systemd, docker's and others: a
    // read-only mount does not stop connect(), so /run is empty but for the resolver's files
    c.addAll(List.of("--tmpfs", "/run"));
    if (Files.isDirectory(Path.of("/run/systemd/resolve"))) {
      c.addAll(List.of("--ro-bind", "/run/systemd/resolve", "/run/systemd/resolve"));
    }
    // the binds first, then what is hidden (so a bind of a parent cannot uncover it), then the
    // work directory (inside the hidden state directory), then the hidden directories read-only
    for (Path p : readOnly) c.addAll(List.of("--ro-bind", p.toString(), p.toString()));
    if (program != null) {
      Path prog = program.toAbsolutePath().normalize();
      if (isUnderHidden(prog)) c.addAll(List.of("--ro-bind", prog.toString(), prog.toString()));
    }
    for (Path p : readWrite) c.addAll(List.of("--bind", p.toString(), p.toString()));
    List<String> remount = new ArrayList<>();
    for (Path h : hidden) {
      if (Files.isDirectory(h)) {
        c.addAll(List.of("--tmpfs", h.toString()));
        remount.add(h.toString());
      } else if (Files.exists(h)) {
        c.addAll(List.of("--ro-bind", "/dev/null", h.toString()));
      }
    }
    c.addAll(List.of("--bind", work.toString(), work.toString()));
    for (Path p : late) {
      if (Files.isDirectory(p)) c.addAll(List.of("--bind", p.toString(), p.toString())); // absent: nothing to reach
    }
    for (String r : remount) c.addAll(List.of("--remount-ro", r)); // after the binds made their mount points
    c.addAll(List.of("--chdir", work.toString(), "--", ENV.toString(), "--default-signal=TERM"));
    c.addAll(argv);
    return c;
  }

  private boolean isUnderHidden(Path p) {
    if (p.startsWith("/tmp") || p.startsWith("/var/tmp") || p.startsWith("/dev/shm") || p.startsWith("/run")) return true;
    for (Path h : hidden) if (p.startsWith(h)) return true;
    return false;
  }

  /** Runs {@code true} in the sandbox once; null if that worked, else what bwrap said. */
  private String probe() {
    Path dir = null;
    try {
      dir = Files.createTempDirectory("ats-dispatch-sandbox-probe");
      List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "trap '' TERM; exec \"$@\"", "probe"));
      cmd.addAll(wrap(List.of("true"), dir, null));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE);
      Process p = pb.start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readNBytes(4096);
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "the probe did not finish within 10 s";
      }
      if (p.exitValue() == 0) return null;
      String said = new String(out, StandardCharsets.UTF_8).strip();
      return "exit " + p.exitValue() + (said.isEmpty() ? "" : ": " + said);
    } catch (IOException e) {
      return e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    } finally {
      if (dir != null) {
        try {
          Files.deleteIfExists(dir);
        } catch (IOException ignored) {
          // a temp directory left behind
        }
      }
    }
  }
}
