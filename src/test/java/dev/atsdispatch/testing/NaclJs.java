package dev.atsdispatch.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Runs src/test/node/nacl-interop.js: the real tweetnacl and tweetnacl-util from npm (installed by
 * the build's {@code npm ci}), used as the JavaScript ats-dispatch and encrypt-task.js use them.
 */
public final class NaclJs {
  private static final ObjectMapper M = new ObjectMapper();
  static final Path DIR = Path.of("src/test/node");

  private NaclJs() {}

  /** Runs one mode with {@code input} (a JSON object) on stdin and returns the JSON answer. */
  public static JsonNode run(String mode, JsonNode input) {
    if (!Files.isDirectory(DIR.resolve("node_modules/tweetnacl"))) {
      throw new IllegalStateException("tweetnacl is not installed in " + DIR
          + ": run `mvn process-test-resources` (npm ci) first");
    }
    try {
      Process p = new ProcessBuilder("node", DIR.resolve("nacl-interop.js").toString(), mode)
          .redirectError(ProcessBuilder.Redirect.PIPE).start();
      try (OutputStream in = p.getOutputStream()) {
        in.write(M.writeValueAsBytes(input));
      }
      byte[] out = p.getInputStream().readAllBytes();
      byte[] err = p.getErrorStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("nacl-interop.js " + mode + " failed: "
            + new String(err, StandardCharsets.UTF_8));
      }
      return M.readTree(out);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run node: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public static JsonNode run(String mode) {
    return run(mode, M.createObjectNode());
  }
}
