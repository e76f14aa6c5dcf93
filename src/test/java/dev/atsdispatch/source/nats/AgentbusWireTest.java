package dev.atsdispatch.source.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The agentbus 0.1.0 wire as its Python worker makes it: JSON text checked byte for byte against
 * the real {@code python3} json module, task messages read as its worker reads them, the result
 * message and the prompt.
 */
final class AgentbusWireTest {
  static final ObjectMapper M = new ObjectMapper();

  static final List<String> VALUES = List.of(
      "{\"id\":\"task-1\",\"from\":\"agent-main\",\"payload\":{\"fmt\":\"text\",\"content\":\"hi\"}}",
      "{\"s\":\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f bell \\u0007 esc \\u001b del \\u007f\"}",
      "{\"u\":\"ünïcödé ✓ 漢字 \\u2028 \\u2029 \\ud83d\\ude00 nbsp \\u00a0\"}",
      "{\"empty\":{},\"list\":[],\"nested\":{\"a\":[1,[2,[]],{\"b\":{}}]},\"null\":null,\"t\":true,\"f\":false}",
      "[0,-1,12345678901234567890123,0.1,1.0,-0.0,1e16,1.5e-5,0.0001,123456.789,1e22,2.5e-300,9007199254740993.0,100.0]",
      "\"just a string\"",
      "[]",
      "{}");

  /** What Python's json module writes for each value: compact, then indent=2. */
  static List<String[]> python(List<String> values) throws Exception {
    String script = "import json,sys\n"
        + "for line in sys.stdin.read().split('\\0'):\n"
        + "    v = json.loads(line)\n"
        + "    sys.stdout.write(json.dumps(v, ensure_ascii=False, separators=(',', ':')) + '\\0')\n"
        + "    sys.stdout.write(json.dumps(v, ensure_ascii=False, indent=2) + '\\0')\n";
    Process p = new ProcessBuilder("python3", "-c", script).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    p.getOutputStream().write(String.join("\0", values).getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue());
    String[] parts = out.split("\0", -1);
    List<String[]> r = new ArrayList<>();
    for (int i = 0; i + 1 < parts.length; i += 2) r.add(new String[] {parts[i], parts[i + 1]});
    return r;
  }

  @Test
  void jsonTextIsWhatPythonWritesByteForByte() throws Exception {
    List<String[]> expected = python(VALUES);
    assertEquals(VALUES.size(), expected.size());
    for (int i = 0; i < VALUES.size(); i++) {
      JsonNode v = M.readTree(VALUES.get(i));
      assertEquals(expected.get(i)[0], PyJson.compact(v), "compact: " + VALUES.get(i));
      assertEquals(expected.get(i)[1], PyJson.indented(v), "indent=2: " + VALUES.get(i));
    }
  }

  static AgentbusTask.Parsed parse(String json) {
    return AgentbusTask.parse(json.getBytes(StandardCharsets.UTF_8), AgentbusTask.DEFAULT_MAX_TASK_BYTES);
  }

  static String reason(String json) {
    return assertInstanceOf(AgentbusTask.Invalid.class, parse(json)).reason();
  }

  @Test
  void aTaskIsReadAsAgentbusReadsIt() {
    AgentbusTask t = assertInstanceOf(AgentbusTask.Ok.class, parse("{\"id\":5,\"from\":\"agent-main\",\"to\":\"agent-code\","
        + "\"type\":\"task.request\",\"task_type\":\"review\",\"payload\":null,\"extra\":\"dropped\","
        + "\"reply_to\":\"agent-lead\"}")).task();
    assertEquals("5", t.id());
    assertEquals("{}", t.payload().toString(), "a falsy payload is {}");
    assertEquals("{\"id\":\"5\",\"from\":\"agent-main\",\"to\":\"agent-code\",\"reply_to\":\"agent-lead\","
        + "\"type\":\"task.request\",\"task_type\":\"review\",\"payload\":{},\"created_at\":null}", PyJson.compact(t.asDict()));
    assertEquals("agent.lead.results", t.resultSubject());
    AgentbusTask noReply = assertInstanceOf(AgentbusTask.Ok.class, parse("{\"id\":\"x\",\"from\":\" agent-main \","
        + "\"to\":\"b\",\"type\":\"t\",\"task_type\":true,\"payload\":{\"fmt\":\"json\",\"content\":[1]}}")).task();
    assertEquals("True", noReply.taskType(), "str(True)");
    assertEquals("agent.main.results", noReply.resultSubject());
  }

  @Test
  void aBadMessageIsNamedAsAgentbusNamesIt() {
    assertEquals("missing required fields: from, type", reason("{\"id\":\"1\",\"from\":\"\",\"to\":\"b\",\"type\":0,\"task_type\":\"x\"}"));
    assertEquals("missing required fields: id, from, to, type, task_type", reason("{\"id\":[],\"from\":{},\"to\":null,\"type\":false}"));
    assertEquals("task message must be a JSON object", reason("[1,2]"));
    assertEquals("task message is not valid JSON", reason("{\"id\":"));
    assertEquals("payload must be an object", reason("{\"id\":\"1\",\"from\":\"a\",\"to\":\"b\",\"type\":\"t\",\"task_type\":\"x\",\"payload\":\"text\"}"));
    byte[] bad = {'{', '"', (byte) 0xff, '"', '}'};
    assertEquals("task message is not valid UTF-8",
        assertInstanceOf(AgentbusTask.Invalid.class, AgentbusTask.parse(bad, 100)).reason());
    byte[] big = ("{\"id\":\"1\",\"from\":\"a\",\"to\":\"b\",\"type\":\"t\",\"task_type\":\"" + "x".repeat(100) + "\"}")
        .getBytes(StandardCharsets.UTF_8);
    assertEquals("message exceeds max task bytes: " + big.length,
        assertInstanceOf(AgentbusTask.Invalid.class, AgentbusTask.parse(big, big.length - 1)).reason());
    assertInstanceOf(AgentbusTask.Ok.class, AgentbusTask.parse(big, big.length), "exactly the limit is allowed");
  }

  @Test
  void aResultSubjectNeedsAnIdThatIsAString() {
    AgentbusTask t = ((AgentbusTask.Ok) parse("{\"id\":\"1\",\"from\":\"a\",\"to\":\"b\",\"type\":\"t\",\"task_type\":\"x\","
        + "\"reply_to\":7}")).task();
    assertEquals("reply_to must be a string", assertThrows(IllegalArgumentException.class, t::resultSubject).getMessage());
    AgentbusTask blank = ((AgentbusTask.Ok) parse("{\"id\":\"1\",\"from\":\"  \",\"to\":\"b\",\"type\":\"t\",\"task_type\":\"x\"}")).task();
    assertEquals("agent id is required", assertThrows(IllegalArgumentException.class, blank::resultSubject).getMessage());
  }

  @Test
  void theResultMessageIsAgentbussOwn() {
    AgentbusTask t = ((AgentbusTask.Ok) parse("{\"id\":\"task-1\",\"from\":\"agent-main\",\"to\":\"agent-code\","
        + "\"type\":\"task.request\",\"task_type\":\"ask\",\"payload\":{\"fmt\":\"text\",\"content\":\"é\"}}")).task();
    UUID id = UUID.fromString("123e4567-e89b-42d3-a456-426614174000");
    assertEquals("{\"id\":\"123e4567-e89b-42d3-a456-426614174000\",\"type\":\"task.result\",\"status\":\"completed\","
        + "\"task\":{\"id\":\"task-1\",\"from\":\"agent-main\",\"to\":\"agent-code\",\"reply_to\":null,\"type\":\"task.request\","
        + "\"task_type\":\"ask\",\"payload\":{\"fmt\":\"text\",\"content\":\"é\"},\"created_at\":null},"
        + "\"completed_at\":\"2026-05-18T03:04:05.123456+00:00\",\"result\":\"done\"}",
        new String(AgentbusWire.result(t, AgentbusWire.COMPLETED, "done", null,
            Instant.parse("2026-05-18T03:04:05.123456789Z"), id), StandardCharsets.UTF_8));
    String failed = new String(AgentbusWire.result(t, AgentbusWire.FAILED, null, "Agent command exited with 3",
        Instant.parse("2026-05-18T03:04:05Z"), id), StandardCharsets.UTF_8);
    assertTrue(failed.endsWith(",\"completed_at\":\"2026-05-18T03:04:05+00:00\",\"error\":\"Agent command exited with 3\"}"),
        failed);
  }

  @Test
  void thePromptIsAgentbussLayout() {
    AgentbusTask t = ((AgentbusTask.Ok) parse("{\"id\":\"task-1\",\"from\":\"agent-main\",\"to\":\"agent-code\","
        + "\"type\":\"task.request\",\"task_type\":\"ask\",\"payload\":{\"fmt\":\"text\",\"content\":\"Hi\"}}")).task();
    String expected = String.join("\n",
        "You are code. You received an asynchronous AgentBus task from agent-main.",
        "",
        "Task type: ask",
        "Message ID: task-1",
        "",
        "Full task JSON:",
        "{",
        "  \"id\": \"task-1\",",
        "  \"from\": \"agent-main\",",
        "  \"to\": \"agent-code\",",
        "  \"reply_to\": null,",
        "  \"type\": \"task.request\",",
        "  \"task_type\": \"ask\",",
        "  \"payload\": {",
        "    \"fmt\": \"text\",",
        "    \"content\": \"Hi\"",
        "  },",
        "  \"created_at\": null",
        "}",
        "",
        "Handle the task and return a clear result.",
        "If the task involves irreversible side effects, deleting or overwriting files, commits/merges, external "
            + "messages, production changes, money, or unclear credentials/permissions, do not execute it directly; "
            + "return status=needs_approval and explain the exact operation needing user confirmation.",
        "Do not include secrets, tokens, cookies, or Authorization headers in the result.");
    assertEquals(expected, AgentbusWire.prompt("code", t, ""));
    assertEquals(expected + "\n\nExtra instruction:\n  Be brief.  ", AgentbusWire.prompt("code", t, "  Be brief.  "));
  }
}
