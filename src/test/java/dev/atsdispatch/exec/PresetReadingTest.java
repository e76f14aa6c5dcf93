package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each preset's argv for every mode, new and resumed, and its reading of recorded output
 * (src/test/resources/presets: codex's and pi's recorded from the real CLIs, cursor-agent's written
 * in its documented format, as its CLI cannot run here): the response, session, error, usage
 * limit, cost, tokens and turns, and facts that are there while the output is still coming.
 */
final class PresetReadingTest {
  static final Path RECORDED = Path.of("src/test/resources/presets");

  static PresetReader read(Preset p, String file) throws IOException {
    PresetReader r = p.reader();
    for (String line : Files.readAllLines(RECORDED.resolve(file))) r.accept("stdout", line);
    return r;
  }

  @Test
  void claudeArgv() {
    Preset p = ClaudePreset.INSTANCE;
    assertEquals(List.of("claude", "--model", "sonnet", "-p", "--output-format", "stream-json", "--verbose",
        "--session-id", "u1"), p.argv(List.of("claude", "--model", "sonnet"), "standard", "u1", false));
    assertEquals(List.of("claude", "-p", "--output-format", "stream-json", "--verbose", "--resume", "u1",
        "--permission-mode", "acceptEdits"), p.argv(List.of("claude", "-p"), "auto", "u1", true));
    assertEquals("--dangerously-skip-permissions", last(p.argv(List.of("claude"), "danger", "u1", true)));
  }

  @Test
  void codexArgv() {
    Preset p = CodexPreset.INSTANCE;
    assertEquals(List.of("codex", "exec", "-m", "o3", "--json", "--skip-git-repo-check", "-"),
        p.argv(List.of("codex", "-m", "o3"), "standard", null, false));
    assertEquals(List.of("/opt/codex", "exec", "resume", "--json", "--skip-git-repo-check", "-c",
        "sandbox_mode=\"workspace-write\"", "t-1", "-"), p.argv(List.of("/opt/codex", "exec"), "auto", "t-1", true));
    assertEquals(List.of("codex", "exec", "--json", "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox", "-"), p.argv(List.of("codex"), "danger", null, false));
  }

  @Test
  void piArgv() {
    Preset p = PiPreset.INSTANCE;
    List<String> fresh = p.argv(List.of("pi", "--provider", "anthropic"), "danger", "/s/pi-session.jsonl", false);
    assertEquals(List.of("pi", "--provider", "anthropic", "-p", "--mode", "json", "--session", "/s/pi-session.jsonl"),
        fresh);
    assertEquals(fresh, p.argv(List.of("pi", "--provider", "anthropic"), "standard", "/s/pi-session.jsonl", true),
        "pi resumes with the same command and file, and has no mode flags");
    assertEquals(Path.of("/t/work/.ats-dispatch/pi-session.jsonl").toString(),
        p.newSession(Path.of("/t/work/.ats-dispatch")));
  }

  @Test
  void cursorArgv() {
    Preset p = CursorPreset.INSTANCE;
    assertEquals(List.of("cursor-agent", "-p", "--output-format", "stream-json"),
        p.argv(List.of("cursor-agent"), "standard", null, false));
    assertEquals(List.of("cursor-agent", "-p", "--output-format", "stream-json", "--resume", "c-1", "--force"),
        p.argv(List.of("cursor-agent", "-p"), "auto", "c-1", true));
    assertEquals("--force", last(p.argv(List.of("cursor-agent"), "danger", null, false)));
    assertNull(p.newSession(Path.of("/t")), "Cursor names the chat itself");
  }

  @Test
  void anUnknownModeIsRefusedByEveryPreset() {
    for (Preset p : Preset.all()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> p.argv(List.of(p.program()), "yolo", "s", false), p.name());
      assertTrue(e.getMessage().contains("agent.mode"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> Preset.named("gemini"));
    assertNull(Preset.named("command"));
  }

  @Test
  void codexCompleted() throws IOException {
    PresetReader r = read(CodexPreset.INSTANCE, "codex-completed.jsonl");
    PresetReader.Facts f = r.facts();
    assertEquals("Hello from codex fake", r.response());
    assertEquals("01a252a3-dc86-7b61-ac12-f904826d36cd", r.sessionId());
    assertTrue(f.finished());
    assertFalse(r.isError(), "the model-metadata notice is an item, not the run's failure");
    assertEquals(12, f.inputTokens());
    assertEquals(7, f.outputTokens());
    assertEquals(3, f.cacheReadTokens());
    assertEquals(0, f.cacheWriteTokens());
    assertEquals(1, f.numTurns());
    assertNull(f.costUsd());
    assertNull(r.limit());
  }

  @Test
  void codexFailedAndItsUsageLimit() throws IOException {
    PresetReader failed = read(CodexPreset.INSTANCE, "codex-failed.jsonl");
    assertTrue(failed.isError());
    assertNull(failed.response());
    assertTrue(failed.facts().error().contains("scripted failure"), failed.facts().error());
    assertNull(failed.limit());
    PresetReader limited = read(CodexPreset.INSTANCE, "codex-usage-limit.jsonl");
    assertNotNull(limited.limit(), limited.facts().toString());
    assertNull(limited.limit().reset(), "codex gave no reset time: the service's back-off applies");
  }

  @Test
  void piCompleted() throws IOException {
    PresetReader r = read(PiPreset.INSTANCE, "pi-completed.jsonl");
    PresetReader.Facts f = r.facts();
    assertEquals("Hello from fake", r.response());
    assertEquals("01a252a2-381c-77ee-98c4-95b14c5a5f84", r.sessionId());
    assertFalse(r.isError());
    assertEquals(12, f.inputTokens());
    assertEquals(7, f.outputTokens(), "each assistant message counted once, at its end");
    assertEquals(0.000235, f.costUsd(), 1e-9);
    assertEquals(1, f.numTurns());
  }

  @Test
  void piApiError() throws IOException {
    PresetReader r = read(PiPreset.INSTANCE, "pi-api-error.jsonl");
    assertTrue(r.facts().finished());
    assertTrue(r.isError(), "pi exits 0 on it: the stop reason says it failed");
    assertNull(r.response());
    assertTrue(r.facts().error().startsWith("400 "), r.facts().error());
    assertNull(r.limit());
  }

  @Test
  void cursorCompleted() throws IOException {
    PresetReader r = read(CursorPreset.INSTANCE, "cursor-completed.jsonl");
    PresetReader.Facts f = r.facts();
    assertEquals("I'll read notes.txt first.There are 3 zebras in notes.txt.", r.response());
    assertEquals("There are 3 zebras in notes.txt.", f.lastText());
    assertEquals("4b1e0c7a-93d2-4f5e-8a61-0c2d9e7f3a15", r.sessionId());
    assertFalse(r.isError());
    assertEquals(1520, f.inputTokens());
    assertEquals(64, f.outputTokens());
    assertEquals(1024, f.cacheReadTokens());
    assertNull(f.costUsd());
  }

  @Test
  void cursorErrorResultAndARunThatEndedEarly() throws IOException {
    PresetReader error = read(CursorPreset.INSTANCE, "cursor-error-result.jsonl");
    assertTrue(error.isError());
    assertNotNull(error.limit(), "a usage-limit message is a limit");
    PresetReader early = read(CursorPreset.INSTANCE, "cursor-ended-early.jsonl");
    assertFalse(early.facts().finished());
    assertNull(early.response(), "no final result: stdout is not the response either");
    assertEquals("Looking for the feeding schedule.", early.facts().lastText());
    assertEquals("4b1e0c7a-93d2-4f5e-8a61-0c2d9e7f3a15", early.sessionId(), "known for the resume all the same");
  }

  @Test
  void theFactsAreThereWhileTheOutputIsStillComing() throws IOException {
    PresetReader r = PiPreset.INSTANCE.reader();
    List<String> lines = Files.readAllLines(RECORDED.resolve("pi-completed.jsonl"));
    r.accept("stdout", lines.get(0));
    assertEquals("01a252a2-381c-77ee-98c4-95b14c5a5f84", r.sessionId());
    assertFalse(r.facts().finished());
    for (String l : lines.subList(1, lines.size() - 1)) r.accept("stdout", l); // all but agent_end
    assertEquals(0.000235, r.facts().costUsd(), 1e-9, "cost known before the run ends");
    assertNull(r.response(), "the response waits for the end");
    r.accept("stderr", lines.get(lines.size() - 1));
    assertNull(r.response(), "stderr is not the stream");
    r.accept("stdout", "not json at all");
    r.accept("stdout", lines.get(lines.size() - 1));
    assertEquals("Hello from fake", r.response());
  }

  @Test
  void theOutputsFieldsAreTheSameForEveryPreset() throws IOException {
    ObjectNode o = read(PiPreset.INSTANCE, "pi-completed.jsonl").facts().outputs();
    assertEquals(List.of("session_id", "cost_usd", "input_tokens", "output_tokens", "cache_creation_input_tokens",
        "cache_read_input_tokens", "num_turns", "is_error"), names(o));
    ObjectNode c = read(CodexPreset.INSTANCE, "codex-completed.jsonl").facts().outputs();
    assertEquals(List.of("session_id", "input_tokens", "output_tokens", "cache_creation_input_tokens",
        "cache_read_input_tokens", "num_turns", "is_error"), names(c));
  }

  static List<String> names(ObjectNode o) {
    List<String> n = new java.util.ArrayList<>();
    o.fieldNames().forEachRemaining(n::add);
    return n;
  }

  static String last(List<String> l) {
    return l.get(l.size() - 1);
  }
}
