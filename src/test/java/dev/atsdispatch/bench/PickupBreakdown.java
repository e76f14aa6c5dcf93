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
 * (the agent's own start). Offered → claimed is split again by {@code admitted} and
 * {@code claim_sent}: admission (the intake thread and back to the loop), the wait for a runner
 * thread, the claim round trip. Medians and p99 in ms.
 */
final class PickupBreakdown {
  private static final ObjectMapper M = new ObjectMapper();
  static final List<String> STAGES = List.of("created_to_offered", "offered_to_claimed", "claimed_to_recorded",
      "recorded_to_spawned", "spawned_to_first_line");

  /** offered → claimed in three: admission (the intake thread and back), the wait for a runner, the claim. */
  static final List<String> CLAIM_STAGES = List.of("offered_to_admitted", "admitted_to_claim_sent",
      "claim_sent_to_claimed");

  private PickupBreakdown() {}

  /** The breakdown, or null when no ledger had the timings (another executor, an older service). */
  static ObjectNode of(Path stateDir, String source, RecordingAgent agent, Map<String, Long> createdNs) {
    List<List<Long>> stages = new ArrayList<>();
    for (int i = 0; i < STAGES.size(); i++) stages.add(new ArrayList<>());
    List<List<Long>> claim = new ArrayList<>();
    for (int i = 0; i < CLAIM_STAGES.size(); i++) claim.add(new ArrayList<>());
    for (Map.Entry<String, Long> e : createdNs.entrySet()) {
      String id = agent.taskId(e.getKey());
      Long first = agent.start(e.getKey());
      if (id == null || first == null) continue;
      JsonNode t = timings(stateDir.resolve("tasks").resolve(source)
          .resolve(new dev.atsdispatch.source.TaskKey(source, id).fileName()).resolve("events.jsonl"));
      if (t == null || !t.has("offered") || !t.has("claimed")) continue;
      long[] at = {e.getValue(), t.get("offered").asLong() * 1000, t.get("claimed").asLong() * 1000,
          t.get("recorded").asLong() * 1000, t.get("spawned").asLong() * 1000, first};
      for (int s = 0; s < STAGES.size(); s++) stages.get(s).add(at[s + 1] - at[s]);
      if (t.has("admitted") && t.has("claim_sent")) {
        long[] c = {at[1], t.get("admitted").asLong() * 1000, t.get("claim_sent").asLong() * 1000, at[2]};
        for (int s = 0; s < CLAIM_STAGES.size(); s++) claim.get(s).add(c[s + 1] - c[s]);
      }
    }
    if (stages.get(0).isEmpty()) return null;
    ObjectNode out = M.createObjectNode();
    out.put("n", stages.get(0).size());
    for (int s = 0; s < STAGES.size(); s++) {
      long[] v = stages.get(s).stream().mapToLong(Long::longValue).toArray();
      out.set(STAGES.get(s), Stats.of(v).json());
    }
    if (!claim.get(0).isEmpty()) {
      for (int s = 0; s < CLAIM_STAGES.size(); s++) {
        out.set(CLAIM_STAGES.get(s), Stats.of(claim.get(s).stream().mapToLong(Long::longValue).toArray()).json());
      }
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
    s.append(" ms (created→offered→claimed→recorded→spawned→first line)");
    if (b.has(CLAIM_STAGES.get(0))) {
      s.append(String.format(java.util.Locale.ROOT, "; offered→claimed: %.1f admission + %.1f to a runner + %.1f claim",
          b.path(CLAIM_STAGES.get(0)).path("p50_ms").asDouble(), b.path(CLAIM_STAGES.get(1)).path("p50_ms").asDouble(),
          b.path(CLAIM_STAGES.get(2)).path("p50_ms").asDouble()));
    }
    return s.toString();
  }
}
