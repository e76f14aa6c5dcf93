package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.testing.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ats-dispatch backends}: finds the real claude, codex and pi CLIs on PATH with their
 * versions and what each preset does (cursor-agent is not installed here); without any, says so and
 * exits 1.
 */
@Timeout(60)
final class BackendsCommandTest {
  static final Path AGENTS = Path.of("src/test/agents/node_modules/.bin").toAbsolutePath();
  @TempDir Path dir;

  JsonNode backend(JsonNode doc, String name) {
    for (JsonNode b : doc.path("backends")) if (b.path("name").asText().equals(name)) return b;
    throw new AssertionError("no " + name + " in " + doc);
  }

  @Test
  void listsTheInstalledClisWithTheirVersionsAndWhatTheirPresetsDo() throws Exception {
    try (ChildJvm j = ChildJvm.start(dir, "with", Map.of("PATH", AGENTS + ":/usr/bin:/bin"), List.of("backends", "--json"))) {
      assertEquals(0, j.waitFor(Duration.ofSeconds(40)), j.stderr());
      JsonNode doc = new ObjectMapper().readTree(j.stdout());
      assertEquals(List.of(), HelpTextTest.undocumented(doc, "backends"));
      JsonNode claude = backend(doc, "claude");
      assertTrue(claude.path("installed").asBoolean(), claude.toString());
      assertTrue(claude.path("version").asText().contains("Claude Code"), claude.toString());
      assertTrue(claude.path("preset").asBoolean());
      assertTrue(claude.path("supports").toString().contains("session resume"), claude.toString());
      JsonNode codex = backend(doc, "codex");
      assertTrue(codex.path("installed").asBoolean(), codex.toString());
      assertEquals("codex-cli 0.171.0", codex.path("version").asText(), codex.toString());
      assertTrue(codex.path("supports").toString().contains("exec resume"), codex.toString());
      JsonNode pi = backend(doc, "pi");
      assertTrue(pi.path("installed").asBoolean(), pi.toString());
      assertEquals("0.73.1", pi.path("version").asText(), pi.toString());
      assertTrue(pi.path("supports").toString().contains("--session <file>"), pi.toString());
      JsonNode cursor = backend(doc, "cursor-agent");
      assertFalse(cursor.path("installed").asBoolean(), "not on npm, not installed here: " + cursor);
      assertTrue(cursor.path("preset").asBoolean(), cursor.toString());
    }
    try (ChildJvm j = ChildJvm.start(dir, "without", Map.of("PATH", "/usr/bin:/bin"), List.of("backends"))) {
      assertEquals(1, j.waitFor(Duration.ofSeconds(40)), j.stderr());
      assertTrue(j.stdout().contains("claude        not installed"), j.stdout());
      assertFalse(j.stdout().contains("Claude Code"), j.stdout());
    }
  }
}
