package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.UUID;

/**
 * What goes on the agentbus 0.1.0 wire from a worker: the agent's prompt and the result message,
 * byte for byte as agentbus's worker makes them (its {@code build_agent_prompt} and
 * {@code build_result_message}), so its readers and agents see no difference. Stateless.
 */
final class AgentbusWire {
  private AgentbusWire() {}

  static final String COMPLETED = "completed";
  static final String FAILED = "failed";
  static final String NEEDS_APPROVAL = "needs_approval";
  /** Not a final result: the agent asked a question ({@code result}) and the task waits for its answer. */
  static final String NEEDS_INPUT = "needs_input";

  /** The prompt: who the agent is, the task, agentbus's standing instructions, then {@code extra}. */
  static String prompt(String agentId, AgentbusTask t, String extraInstruction) {
    StringBuilder b = new StringBuilder();
    b.append("You are ").append(agentId).append(". You received an asynchronous AgentBus task from ")
        .append(t.from()).append(".\n\n");
    b.append("Task type: ").append(t.taskType()).append('\n');
    b.append("Message ID: ").append(t.id()).append("\n\n");
    b.append("Full task JSON:\n").append(PyJson.indented(t.asDict())).append("\n\n");
    b.append("Handle the task and return a clear result.\n");
    b.append("If the task involves irreversible side effects, deleting or overwriting files, commits/merges, "
        + "external messages, production changes, money, or unclear credentials/permissions, do not execute it "
        + "directly; return status=needs_approval and explain the exact operation needing user confirmation.\n");
    b.append("Do not include secrets, tokens, cookies, or Authorization headers in the result.");
    if (extraInstruction != null && !extraInstruction.isEmpty()) {
      b.append("\n\nExtra instruction:\n").append(extraInstruction);
    }
    return b.toString();
  }

  /**
   * A result message: {@code status} with {@code result} (completed, needs_approval) or
   * {@code error} (failed); {@code id} a random UUID, {@code completed_at} as Python's
   * {@code datetime.now(timezone.utc).isoformat()} writes it. Compact UTF-8 JSON.
   */
  static byte[] result(AgentbusTask t, String status, String result, String error, Instant now, UUID id) {
    return result(t.asDict(), status, result, error, now, id);
  }

  /** As above with the task as it is to be echoed ({@code as_dict}, or what could be read of a bad message). */
  static byte[] result(com.fasterxml.jackson.databind.JsonNode task, String status, String result, String error,
      Instant now, UUID id) {
    return PyJson.compact(message(task, status, result, error, now, id)).getBytes(StandardCharsets.UTF_8);
  }

  /** The {@code result} text of an encrypted task's completed result: the answer itself is sealed. */
  static final String SEALED_RESULT = "(encrypted: open encrypted_response with your key)";

  /**
   * The completed result of an encrypted task: {@code result} is the fixed {@link #SEALED_RESULT},
   * and {@code encrypted_response} ({@code {"nonce", "ciphertext"}}, sealed to the sender) with
   * {@code response_encrypted: true} carry the answer, as in an ATS task's outputs.
   */
  static byte[] sealedResult(com.fasterxml.jackson.databind.JsonNode task, com.fasterxml.jackson.databind.JsonNode sealed,
      Instant now, UUID id) {
    ObjectNode o = message(task, COMPLETED, SEALED_RESULT, null, now, id);
    o.set("encrypted_response", sealed);
    o.put("response_encrypted", true);
    return PyJson.compact(o).getBytes(StandardCharsets.UTF_8);
  }

  private static ObjectNode message(com.fasterxml.jackson.databind.JsonNode task, String status, String result,
      String error, Instant now, UUID id) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("id", id.toString());
    o.put("type", "task.result");
    o.put("status", status);
    o.set("task", task);
    o.put("completed_at", isoformat(now));
    if (result != null) o.put("result", result);
    if (error != null) o.put("error", error);
    return o;
  }

  private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss");

  /** Python's {@code isoformat()} of an aware UTC datetime: microseconds unless zero, then {@code +00:00}. */
  static String isoformat(Instant now) {
    Instant t = now.truncatedTo(ChronoUnit.MICROS);
    String s = SECONDS.format(t.atOffset(ZoneOffset.UTC));
    int micros = t.getNano() / 1000;
    if (micros != 0) s += String.format(".%06d", micros);
    return s + "+00:00";
  }
}
