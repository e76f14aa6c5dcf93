package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** agent.api = auto: on where a board is a source (its agents move cards through it), off elsewhere; explicit values win. */
final class AgentApiSettingTest {
  @TempDir Path dir;

  Settings load(Map<String, String> env) {
    return Settings.load(null, Map.of("state_dir", dir.resolve("state").toString(), "keys_dir", dir.resolve("keys").toString()),
        env, AtsSettings.Flags.NONE, dir, dir);
  }

  @Test
  void autoIsOnForABoardAndOffForAnAtsChannelUnlessSaidOtherwise() throws Exception {
    Files.writeString(dir.resolve("board.json"), "{\"queues\": {\"Todo\": []}}");
    assertFalse(load(Map.of()).service().agentApi(), "an ATS channel");
    assertTrue(load(Map.of("ATS_DISPATCH_AGENT_API", "true")).service().agentApi());
    assertTrue(load(Map.of("ATS_DISPATCH_SOURCE", "board", "ATS_DISPATCH_BOARD_FILE", "board.json")).service().agentApi());
    assertFalse(load(Map.of("ATS_DISPATCH_SOURCE", "board", "ATS_DISPATCH_BOARD_FILE", "board.json",
        "ATS_DISPATCH_AGENT_API", "false")).service().agentApi());
  }
}
