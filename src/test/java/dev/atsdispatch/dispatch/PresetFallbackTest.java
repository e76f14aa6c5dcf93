package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.testing.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A retry with no session to resume (the failed run never reported one) starts a fresh session,
 * told what the previous attempt said last; the session the retry reports is then kept. The agent
 * is a script that speaks cursor-agent's stream-json and records its argv and prompt per attempt.
 */
@Timeout(60)
final class PresetFallbackTest {
  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;

  @BeforeEach
  void start() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
  }

  @AfterEach
  void stop() {
    if (service != null) service.close();
    if (server != null) server.close();
  }

  @Test
  void aRetryWithNoSessionToResumeStartsAfreshWithThePreviousAttemptsWords() throws Exception {
    Path seen = Files.createDirectories(dir.resolve("seen"));
    Path agent = DispatchFixture.agent(dir, "cursor-agent", """
        cat > "$SEEN/prompt-$ATS_ATTEMPT.txt"
        echo "$@" > "$SEEN/argv-$ATS_ATTEMPT.txt"
        if [ "$ATS_ATTEMPT" = 1 ]; then
          echo '{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Halfway: 2 of 4 okapis counted"}]}}'
          exit 3
        fi
        echo '{"type":"system","subtype":"init","session_id":"chat-2"}'
        echo '{"type":"result","subtype":"success","is_error":false,"result":"4 okapis","session_id":"chat-2"}'
        """);
    ServiceConfig.Builder b = DispatchFixture.config(agent, dir.resolve("state"), dir.resolve("keys"));
    b.preset = "cursor-agent";
    b.retries = 1;
    b.retryBackoff = Duration.ZERO;
    b.extraEnv = Map.of("SEEN", seen.toString());
    service = DispatchFixture.start(server.url(), b.build(), "ada-fallback", dir);
    long id = DispatchFixture.create(http, "Count the okapis", 5, null);
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));

    JsonNode out = DispatchFixture.task(http, id).path("outputs").get(0);
    assertEquals("4 okapis", out.path("response").asText(), out.toString());
    assertEquals("chat-2", out.path("session_id").asText(), out.toString());
    String second = Files.readString(seen.resolve("prompt-2.txt"));
    assertTrue(second.contains("Count the okapis"), "the fresh session lost the task: " + second);
    assertTrue(second.contains("Halfway: 2 of 4 okapis counted"), "not told what attempt 1 said: " + second);
    assertFalse(second.contains(Preset.CONTINUE), second);
    assertFalse(Files.readString(seen.resolve("argv-2.txt")).contains("--resume"));
    JsonNode kept = Http.JSON.readTree(dir.resolve("state/tasks/ats/" + id + "/cursor-agent-session.json").toFile());
    assertEquals("chat-2", kept.path("id").asText(), kept.toString());
    assertTrue(kept.path("begun").asBoolean(), kept.toString());
  }
}
