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
}
