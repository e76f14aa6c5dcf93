package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where pickup time goes, from the service's own timings: each latency task's
 * {@code agent_started} ledger record carries {@code timings_us} (offer received, claimed,
 * attempt recorded durably, agent spawned), which with the bench's create time and the agent's
 * first line gives five stages: created → offered (ATS and the WebSocket event), offered →
 * claimed (admission, scheduling, the claim round trip), claimed → recorded (the durable ledger
 * record), recorded → spawned (spec, fork and exec, the running marker), spawned → first line
 * (the agent's own start). Medians and p99 in ms.
 */
final class PickupBreakdown {
  private static final ObjectMapper M = new ObjectMapper();
  static final List<String> STAGES = List.of("created_to_offered", "offered_to_claimed", "claimed_to_recorded",
      "recorded_to_spawned", "spawned_to_first_line");

  private PickupBreakdown() {}

  /** The breakdown, or null when no ledger had the timings (another executor, an older service). */
  static ObjectNode of(Path stateDir, RecordingAgent agent, Map<String, Long> createdNs) {
    List<List<Long>> stages = new ArrayList<>();
    for (int i = 0; i < STAGES.size(); i++) stages.add(new ArrayList<>());
    for (Map.Entry<String, Long> e : createdNs.entrySet()) {
      String id = agent.taskId(e.getKey());
      Long first = agent.start(e.getKey());
      if (id == null || first == null) continue;
      JsonNode t = timings(stateDir.resolve("tasks/ats/" + id + "/events.jsonl"));
      if (t == null || !t.has("offered") || !t.has("claimed")) continue;
      long[] at = {e.getValue(), t.get("offered").asLong() * 1000, t.get("claimed").asLong() * 1000,
          t.get("recorded").asLong() * 1000, t.get("spawned").asLong() * 1000, first};
      for (int s = 0; s < STAGES.size(); s++) stages.get(s).add(at[s + 1] - at[s]);
    }
    if (stages.get(0).isEmpty()) return null;
    ObjectNode out = M.createObjectNode();
    out.put("n", stages.get(0).size());
    for (int s = 0; s < STAGES.size(); s++) {
      long[] v = stages.get(s).stream().mapToLong(Long::longValue).toArray();
      out.set(STAGES.get(s), Stats.of(v).json());
    }
    return out;
  }

  /** The timings of the first agent_started record in a ledger, or null. */
  private static JsonNode timings(Path ledger) {
    try {
      for (String line : Files.readAllLines(ledger)) {
        JsonNode e = M.readTree(line);
        if (e.path("event").asText().equals("agent_started") && e.has("timings_us")) return e.get("timings_us");
      }
    } catch (IOException | RuntimeException e) {
      return null;
    }
    return null;
  }

  /** One line for the table: "p50 a / b / c / d / e ms". */
  static String line(JsonNode b) {
    StringBuilder s = new StringBuilder("p50 ");
    for (int i = 0; i < STAGES.size(); i++) {
      if (i > 0) s.append(" + ");
      s.append(String.format(java.util.Locale.ROOT, "%.1f", b.path(STAGES.get(i)).path("p50_ms").asDouble()));
    }
    return s.append(" ms (created→offered→claimed→recorded→spawned→first line)").toString();
  }
}
