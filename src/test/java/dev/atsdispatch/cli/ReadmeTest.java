package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's configuration table stays the one the code uses (one source of truth). */
final class ReadmeTest {
  @Test
  void everyKeyIsDocumentedWithItsEnvironmentVariable() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    for (Settings.Key k : Settings.KEYS) {
      assertTrue(readme.contains("| `" + k.name() + "` |"), "README lacks key " + k.name());
      assertTrue(readme.contains("`" + k.env() + "`"), "README lacks " + k.env());
      String def = k.defaultValue().replace("\"", "\"");
      if (!k.name().equals("agent.env_allowlist")) {
        assertTrue(readme.contains("| `" + k.name() + "` | `" + def + "` |"),
            "README shows another default for " + k.name() + " (code: " + def + ")");
      }
    }
  }

  @Test
  void quickStartCommandsAreTheOnesCiAndUsersRun() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    String ci = Files.readString(Path.of(".ci/run"));
    assertTrue(readme.contains("mvn -B verify"));
    assertTrue(ci.contains("mvn -B verify"), ".ci/run must run README's test command");
    assertTrue(readme.contains("java -jar target/ats-dispatch.jar run --embedded --agent cat --demo"));
  }

  /**
   * The quick start runs in a fresh clone with the default ./keys and ./state, which must be
   * 0700: a directory the repository carried would be checked out 0755 and refused.
   */
  @Test
  void theQuickStartsDefaultDirectoriesAreNotInTheRepository() throws Exception {
    Process git = new ProcessBuilder("git", "ls-files", "--", "keys", "state").redirectErrorStream(true).start();
    String tracked = new String(git.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(git.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
    org.junit.jupiter.api.Assertions.assertEquals(0, git.exitValue(), tracked);
    org.junit.jupiter.api.Assertions.assertEquals("", tracked, "tracked under keys/ or state/");
  }
}
