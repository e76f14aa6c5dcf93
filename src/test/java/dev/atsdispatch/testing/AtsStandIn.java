package dev.atsdispatch.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/** Installs the stand-in {@code ats} executable (src/test/resources/ats-standin/ats.js). */
public final class AtsStandIn {
  private AtsStandIn() {}

  /** Writes {@code dir/ats} (executable, runs on the machine's node) and returns its path. */
  public static Path install(Path dir) {
    try (InputStream in = AtsStandIn.class.getResourceAsStream("/ats-standin/ats.js")) {
      if (in == null) throw new IllegalStateException("ats-standin/ats.js is not on the test classpath");
      Path ats = dir.resolve("ats");
      Files.createDirectories(dir);
      Files.write(ats, in.readAllBytes());
      Files.setPosixFilePermissions(ats, PosixFilePermissions.fromString("rwx------"));
      return ats;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An environment for the stand-in: PATH (for node) and a HOME without an .ats/config. */
  public static Map<String, String> env(Path home) {
    return Map.of("PATH", System.getenv("PATH"), "HOME", home.toString());
  }
}
