package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.ChildJvm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17: {@code run}'s logs are plain lines when standard error is a terminal (a real
 * pseudo-terminal, made by util-linux's {@code script}) and JSON when it is a pipe or a file.
 * README's first command, {@code run --embedded --agent cat --demo}, is what runs.
 */
@Timeout(90)
final class LogFormatTest {
  @TempDir Path dir;

  List<String> args(String name) {
    return List.of("run", "--embedded", "--agent", "cat", "--demo", "--state-dir", dir.resolve(name + "/state").toString(),
        "--keys-dir", dir.resolve(name + "/keys").toString());
  }

  @Test
  void plainAtATerminalJsonInAPipe() throws Exception {
    StringBuilder cmd = new StringBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString())
        .append(" -Xmx256m -cp ").append(ChildJvm.classpath()).append(" dev.atsdispatch.cli.Main");
    for (String a : args("tty")) cmd.append(' ').append(a);
    // standard output to a file: only standard error, where the logs go, is the terminal (the JVM's
    // own console check, which wants stdin and stdout, would say no terminal here)
    cmd.append(" > ").append(dir.resolve("demo.out"));
    ProcessBuilder pb = new ProcessBuilder("script", "-qec", cmd.toString(), "/dev/null").redirectErrorStream(true)
        .directory(dir.toFile());
    pb.environment().put("ATS_DISPATCH_EMBEDDED_PORT", "0");
    pb.environment().remove("ATS_DISPATCH_LOG_FORMAT");
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String tty = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), tty);
    assertTrue(tty.contains("ats-dispatch watching"), tty);
    assertFalse(tty.contains("{\"@timestamp\""), "JSON at a terminal:\n" + tty);
    assertTrue(java.nio.file.Files.size(dir.resolve("demo.out")) > 0, "the demo's result went to standard output");

    try (ChildJvm j = ChildJvm.start(dir, "pipe", Map.of("ATS_DISPATCH_EMBEDDED_PORT", "0"), args("pipe"))) {
      assertEquals(0, j.waitFor(Duration.ofSeconds(60)), j.stderr());
      assertTrue(j.stderrLines().stream().anyMatch(l -> l.startsWith("{\"@timestamp\"") && l.contains("ats-dispatch watching")),
          j.stderr());
    }
  }
}
