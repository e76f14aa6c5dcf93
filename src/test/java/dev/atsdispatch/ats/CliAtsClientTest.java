package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.AtsStandIn;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@link AtsClientContract} over the cli transport, through the stand-in {@code ats}. */
final class CliAtsClientTest extends AtsClientContract {
  @TempDir Path dir;

  @Override
  AtsClient newClient(AtsSettings settings) {
    return new CliAtsClient(settings, AtsStandIn.install(dir.resolve("bin")).toString(),
        Duration.ofSeconds(30), AtsStandIn.env(dir));
  }

  @Override
  boolean fullLargeResponses() {
    return false;
  }

  @Test
  void noArgumentIsLargerThanTheLimit() throws Exception {
    JsonNode big = M.readTree("{\"response\":" + M.writeValueAsString("\"é\n".repeat(60_000)) + ",\"exit_code\":0}");
    String fitted = CliAtsClient.fitted(big);
    assertTrue(fitted.getBytes(StandardCharsets.UTF_8).length <= CliAtsClient.MAX_ARG_BYTES);
    JsonNode back = M.readTree(fitted);
    assertTrue(back.path("response_truncated").asBoolean());
    assertTrue(big.path("response").asText().startsWith(back.path("response").asText()));
    AtsException e = assertThrows(AtsException.class,
        () -> CliAtsClient.flag("description", "y".repeat(CliAtsClient.MAX_ARG_BYTES + 1)));
    assertEquals(AtsException.Kind.BAD_REQUEST, e.kind());
  }

  @Test
  void valuesStartingWithADashUseTheEqualsForm() {
    assertEquals(List.of("--reason=-1 exit"), CliAtsClient.flag("reason", "-1 exit"));
    assertEquals(List.of("--reason", "a=b"), CliAtsClient.flag("reason", "a=b"));
    assertThrows(AtsException.class, () -> CliAtsClient.flag("reason", "-a=b"));
    long id = client.create(new NewTask("dash", "-starts with a dash", null, 5, "ch", null)).id();
    assertEquals("-starts with a dash", client.get(id).description());
  }

  /** No process argument can carry a NUL: that request can never be sent, so it is refused, not retried. */
  @Test
  void anArgumentWithANulIsRefusedForGood() {
    long id = client.create(new NewTask("nul", null, null, 5, "ch", null)).id();
    client.claim(id, Duration.ofMinutes(5));
    AtsException e = assertThrows(AtsException.class, () -> client.fail(id, "Agent exited with code 3: bad\0byte"));
    assertEquals(AtsException.Kind.BAD_REQUEST, e.kind(), e.getMessage());
    assertTrue(e.getMessage().contains("NUL"), e.getMessage());
    assertEquals(TaskStatus.IN_PROGRESS, client.get(id).status(), "nothing was sent");
  }

  @Test
  void missingBinaryIsUnavailable() {
    CliAtsClient c = new CliAtsClient(settings(server.url()), dir.resolve("nope/ats").toString(),
        Duration.ofSeconds(5), AtsStandIn.env(dir));
    assertEquals(AtsException.Kind.UNAVAILABLE, assertThrows(AtsException.class, c::health).kind());
  }
}
