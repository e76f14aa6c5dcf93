package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Choosing the sandbox: what bwrap mode refuses, what auto falls back to, and the argv it makes. */
final class SandboxTest {
  @TempDir Path dir;
  private static final Map<String, String> NO_BWRAP = Map.of("PATH", "/nonexistent");

  @Test
  void bwrapModeRefusesToStartWithoutBubblewrap() {
    Sandbox.Unavailable e = assertThrows(Sandbox.Unavailable.class,
        () -> Sandbox.create(Sandbox.Mode.BWRAP, true, List.of(), List.of(), List.of(), NO_BWRAP));
    assertTrue(e.getMessage().startsWith("agent.sandbox = bwrap, but bubblewrap (bwrap) is not installed"), e.getMessage());
  }

  @Test
  void autoWithoutBubblewrapRunsAgentsPlainAndSaysWhatTheyCanReach() throws Exception {
    Sandbox s = Sandbox.create(Sandbox.Mode.AUTO, true, List.of(dir), List.of(), List.of(), NO_BWRAP);
    assertFalse(s.enabled());
    assertTrue(s.warning().contains("WITHOUT a sandbox") && s.warning().contains("Install bubblewrap"), s.warning());
    assertEquals(List.of("agent", "x"), s.wrap(List.of("agent", "x"), dir, null));
    assertEquals("none", Sandbox.create(Sandbox.Mode.NONE, true, List.of(), List.of(), List.of(), Map.of()).describe());
  }

  @Test
  void aBindThatDoesNotExistIsRefused() {
    Sandbox.Unavailable e = assertThrows(Sandbox.Unavailable.class, () -> Sandbox.create(Sandbox.Mode.AUTO, true,
        List.of(), List.of(), List.of(dir.resolve("missing")), Map.of("PATH", System.getenv("PATH"))));
    assertTrue(e.getMessage().contains("agent.rw_binds") && e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void theArgvHidesWhatItMustAndBindsTheWorkDirectoryLast() throws Exception {
    Path state = java.nio.file.Files.createDirectories(dir.resolve("state"));
    Sandbox s = Sandbox.create(Sandbox.Mode.BWRAP, false, List.of(state), List.of(), List.of(),
        Map.of("PATH", System.getenv("PATH")));
    Path work = dir.resolve("state/tasks/ats/1/work");
    String argv = String.join(" ", s.wrap(List.of("claude", "-p"), work, null));
    assertTrue(argv.contains("--unshare-pid") && argv.contains("--unshare-net") && argv.contains("--die-with-parent"), argv);
    assertTrue(argv.contains("--tmpfs " + dir.resolve("state")), argv);
    int bind = argv.indexOf("--bind " + work + " " + work);
    int remount = argv.indexOf("--remount-ro " + dir.resolve("state"));
    assertTrue(bind > 0 && remount > bind, "the work dir is bound before its hidden parent is made read-only: " + argv);
    assertTrue(argv.endsWith("-- /usr/bin/env --default-signal=TERM claude -p"), argv);
  }

  /** Runs {@code argv} in {@code s} with {@code dir} as its work directory; returns what it printed. */
  private String run(Sandbox s, List<String> argv) throws Exception {
    Path work = java.nio.file.Files.createDirectories(dir.resolve("work"));
    List<String> cmd = new java.util.ArrayList<>(List.of("/bin/sh", "-c", "trap '' TERM; exec \"$@\"", "t"));
    cmd.addAll(s.wrap(argv, work, null));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor();
    return out;
  }

  @Test
  void aBindOfAParentDoesNotUncoverAHiddenFileAndSymlinkedPathsAreHiddenToo() throws Exception {
    // outside /tmp (the sandbox's /tmp is empty anyway), so only the hiding hides it
    Path base = java.nio.file.Files.createTempDirectory(Path.of(System.getProperty("user.home")), "ats-sandbox-test");
    try {
      hiddenUnderABind(base);
    } finally {
      try (var files = java.nio.file.Files.walk(base)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private void hiddenUnderABind(Path dir) throws Exception {
    Path repo = java.nio.file.Files.createDirectories(dir.resolve("repo"));
    Path settings = java.nio.file.Files.writeString(repo.resolve("ats-dispatch.toml"), "token = \"SECRET-1\"\n");
    Path real = java.nio.file.Files.createDirectories(dir.resolve("real/keys"));
    java.nio.file.Files.writeString(real.resolve("k"), "SECRET-2");
    Path link = java.nio.file.Files.createSymbolicLink(dir.resolve("link"), dir.resolve("real"));
    Sandbox s = Sandbox.create(Sandbox.Mode.BWRAP, true, List.of(settings, link.resolve("keys")), List.of(),
        List.of(repo), Map.of("PATH", System.getenv("PATH")));
    String out = run(s, List.of("/bin/sh", "-c", "cat " + settings + " " + link.resolve("keys/k")
        + " " + real.resolve("k") + "; umount " + real + " 2>&1; cat " + real.resolve("k") + "; echo done"));
    assertFalse(out.contains("SECRET"), out);
    assertTrue(out.contains("done"), out);
  }

  @Test
  void anAgentReachesNoSocketUnderRun() throws Exception {
    Path sock = Path.of("/run", "ats-dispatch-test-" + ProcessHandle.current().pid() + ".sock");
    try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      server.bind(java.net.UnixDomainSocketAddress.of(sock));
      String probe = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('REACHED')\n"
          + "except OSError as e:\n print('blocked', e)\n";
      assertTrue(run(Sandbox.none(), List.of("python3", "-c", probe, sock.toString())).contains("REACHED"),
          "without a sandbox the socket answers: the probe works");
      Sandbox s = Sandbox.create(Sandbox.Mode.BWRAP, false, List.of(), List.of(), List.of(), Map.of("PATH", System.getenv("PATH")));
      String out = run(s, List.of("python3", "-c", probe, sock.toString()));
      assertTrue(out.contains("blocked"), out);
    } finally {
      java.nio.file.Files.deleteIfExists(sock);
    }
  }
}
