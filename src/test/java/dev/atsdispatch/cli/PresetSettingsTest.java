package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * agent.preset in the settings: a preset's CLI is the default agent.command, an unknown preset is
 * refused by name, and run's preflight asks the chosen CLI for its version (the real codex answers;
 * a program that fails {@code --version} stops the start).
 */
final class PresetSettingsTest {
  static final Path CODEX = Path.of("src/test/agents/node_modules/.bin/codex").toAbsolutePath();
  @TempDir Path dir;

  Settings load(Map<String, String> flags) {
    return Settings.load(null, flags, Map.of(), AtsSettings.Flags.NONE, dir, dir);
  }

  @Test
  void aPresetsCliIsTheDefaultCommandAndAnUnknownPresetIsRefused() {
    assertEquals(List.of("codex"), load(Map.of("agent.preset", "codex")).service().agentCommand());
    assertEquals(List.of("cursor-agent"), load(Map.of("agent.preset", "cursor-agent")).service().agentCommand());
    assertEquals(List.of("/opt/pi/bin/pi", "--provider", "anthropic"),
        load(Map.of("agent.preset", "pi", "agent.command", "/opt/pi/bin/pi --provider anthropic")).service().agentCommand());
    assertEquals(List.of("claude", "-p"), load(Map.of()).service().agentCommand(), "command keeps today's default");
    Settings.InvalidSetting e = assertThrows(Settings.InvalidSetting.class, () -> load(Map.of("agent.preset", "gemini")));
    assertTrue(e.getMessage().contains("agent.preset") && e.getMessage().contains("cursor-agent"), e.getMessage());
  }

  @Test
  void budgetsAreReadAndABudgetThePresetCannotCountIsRefusedByName() {
    var b = load(Map.of("agent.preset", "claude", "agent.max_turns", "12", "agent.max_cost_usd", "$2.00",
        "agent.daily_cost_usd", "20")).service().budget();
    assertEquals(new dev.atsdispatch.dispatch.Budget(12, 2.0, 20.0), b);
    assertEquals(dev.atsdispatch.dispatch.Budget.NONE, load(Map.of("agent.preset", "pi")).service().budget());
    Settings.InvalidSetting e = assertThrows(Settings.InvalidSetting.class,
        () -> load(Map.of("agent.preset", "codex", "agent.daily_cost_usd", "5")));
    assertTrue(e.getMessage().contains("agent.daily_cost_usd") && e.getMessage().contains("codex"), e.getMessage());
    e = assertThrows(Settings.InvalidSetting.class, () -> load(Map.of("agent.preset", "pi", "agent.max_cost_usd", "lots")));
    assertTrue(e.getMessage().contains("agent.max_cost_usd") && e.getMessage().contains("not an amount"), e.getMessage());
  }

  @Test
  void preflightAsksThePresetsCliForItsVersion() throws Exception {
    assertTrue(Files.isExecutable(CODEX), CODEX + " is missing: the build installs it (mvn process-test-resources)");
    RunCommand.localPreflight(load(Map.of("agent.preset", "codex", "agent.command", CODEX.toString())));

    Path broken = dir.resolve("codex");
    Files.writeString(broken, "#!/bin/sh\necho 'codex: missing optional dependency' >&2\nexit 1\n");
    Files.setPosixFilePermissions(broken, PosixFilePermissions.fromString("rwx------"));
    RunCommand.PreflightException e = assertThrows(RunCommand.PreflightException.class,
        () -> RunCommand.localPreflight(load(Map.of("agent.preset", "codex", "agent.command", broken.toString()))));
    assertTrue(e.getMessage().contains("agent.preset = codex") && e.getMessage().contains(broken.toString()),
        e.getMessage());
    RunCommand.localPreflight(load(Map.of("agent.command", broken.toString()))); // command: any program, unasked
  }
}
