package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The dashboard's views that need no engine: cycles in the waiting graph, attempts from a ledger, bad actions. */
final class OperationsTest {
  static final ObjectMapper M = new ObjectMapper();

  @Test
  void cycleMembersAreTheNodesOnACycleOnly() {
    Map<String, List<String>> out = new HashMap<>();
    out.put("a", List.of("b"));
    out.put("b", List.of("c"));
    out.put("c", List.of("a", "d")); // a -> b -> c -> a, and c waits on d too
    out.put("e", List.of("e")); // waits on itself
    out.put("f", List.of("a")); // waits on the cycle, is not on it
    assertEquals(Set.of("a", "b", "c", "e"), Operations.cycleMembers(List.of("a", "b", "c", "d", "e", "f"), out));
    assertEquals(Set.of(), Operations.cycleMembers(List.of("x", "y"), Map.of("x", List.of("y"))));
  }

  @Test
  void aLongChainNeedsNoDeepStack() {
    Map<String, List<String>> out = new HashMap<>();
    List<String> all = new ArrayList<>();
    for (int i = 0; i < 200_000; i++) {
      all.add("t" + i);
      if (i > 0) out.put("t" + i, List.of("t" + (i - 1)));
    }
    assertEquals(Set.of(), Operations.cycleMembers(all, out));
    out.put("t0", List.of("t199999"));
    assertEquals(200_000, Operations.cycleMembers(all, out).size());
  }

  @Test
  void attemptsAreReadFromTheLedger() throws Exception {
    List<JsonNode> events = new ArrayList<>();
    for (String l : List.of(
        "{\"ts\":\"t1\",\"event\":\"attempt_started\",\"attempt\":1}",
        "{\"ts\":\"t2\",\"event\":\"attempt_finished\",\"attempt\":1,\"outcome\":\"exited\",\"strike\":true,\"exit_code\":3}",
        "{\"ts\":\"t3\",\"event\":\"attempt_started\",\"attempt\":2}",
        "{\"ts\":\"t4\",\"event\":\"attempt_finished\",\"attempt\":2,\"outcome\":\"completed\",\"strike\":false,\"cost_usd\":0.25,\"input_tokens\":10,\"output_tokens\":5,\"num_turns\":2}",
        "{\"ts\":\"t5\",\"event\":\"result_queued\",\"attempt\":2,\"action\":\"complete\"}",
        "{\"ts\":\"t6\",\"event\":\"attempt_started\",\"attempt\":3}",
        "{\"ts\":\"t7\",\"event\":\"released\",\"why\":\"operator\"}")) {
      events.add(M.readTree(l));
    }
    JsonNode a = Operations.attempts(events);
    assertEquals(3, a.size());
    assertEquals("exited", a.get(0).path("outcome").asText());
    assertEquals(3, a.get(0).path("exit_code").asInt());
    assertEquals(0.25, a.get(1).path("cost_usd").asDouble());
    assertEquals(2, a.get(1).path("num_turns").asInt());
    assertEquals("complete", a.get(1).path("result").asText());
    assertEquals("operator", a.get(2).path("released").asText());
    assertEquals(false, a.get(2).has("outcome"), "the third is still running");
  }

  @Test
  void anUnknownActionIsRefusedByName() {
    Operations ops = new Operations(List.of(), null);
    var e = assertThrows(Operations.Refused.class, () -> ops.act(dev.atsdispatch.source.TaskKey.of("ats", 1), "delete"));
    assertEquals(400, e.status());
    assertEquals("unknown action delete (cancel, give-back or reopen)", e.getMessage());
    assertEquals(409, assertThrows(Operations.Refused.class,
        () -> ops.act(dev.atsdispatch.source.TaskKey.of("ats", 1), "cancel")).status());
  }
}
