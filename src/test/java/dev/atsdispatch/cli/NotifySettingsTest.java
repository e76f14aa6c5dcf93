package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.notify.NotifyConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The telegram.*, callback.* and notify.* settings: sources, validation, secrets. */
final class NotifySettingsTest {
  @TempDir Path dir;

  Settings load(Path file, Map<String, String> env) {
    return Settings.load(file, Map.of(), env, AtsSettings.Flags.NONE, dir, dir);
  }

  Path toml(String text, String mode) throws Exception {
    Path f = dir.resolve("ats-dispatch.toml");
    Files.writeString(f, text);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    return f;
  }

  @Test
  void defaultsAreTheBuildersAndTelegramIsOff() {
    NotifyConfig c = load(null, Map.of()).notifyConfig();
    assertEquals(NotifyConfig.builder().build(), c);
    assertFalse(c.telegramEnabled());
    assertEquals("https://api.telegram.org", c.telegramBaseUrl());
    assertEquals(Duration.ofSeconds(40), c.callbackBackoff());
    assertEquals(5, c.callbackMaxTries());
    assertEquals(List.of(), c.callbackAllow());
  }

  @Test
  void secretsComeFromTheEnvironment() {
    NotifyConfig c = load(null, Map.of("ATS_DISPATCH_TELEGRAM_TOKEN", "123:AbC=x",
        "ATS_DISPATCH_TELEGRAM_CHAT_ID", "-1001", "ATS_DISPATCH_CALLBACK_SECRET", "whsec",
        "ATS_DISPATCH_CALLBACK_ALLOW", "10.0.0.0/8 hooks.internal",
        "ATS_DISPATCH_NOTIFY_READ_TIMEOUT", "3s")).notifyConfig();
    assertTrue(c.telegramEnabled());
    assertEquals("123:AbC=x", c.telegramToken());
    assertEquals("-1001", c.telegramChatId());
    assertEquals("whsec", c.callbackSecret());
    assertEquals(List.of("10.0.0.0/8", "hooks.internal"), c.callbackAllow());
    assertEquals(Duration.ofSeconds(3), c.readTimeout());
    assertFalse(c.toString().contains("AbC") || c.toString().contains("-1001") || c.toString().contains("whsec"),
        c.toString());
  }

  @Test
  void secretsFromAPrivateFileAreRead() throws Exception {
    Path f = toml("[telegram]\ntoken = \"9:tok\"\nchat_id = \"5\"\n[callback]\nsecret = \"s\"\n"
        + "allow = [\"127.0.0.1/32\", \"fd00::/8\"]\nmax_tries = 3\n", "rw-------");
    Settings s = load(f, Map.of());
    NotifyConfig c = s.notifyConfig();
    assertEquals("9:tok", c.telegramToken());
    assertEquals(List.of("127.0.0.1/32", "fd00::/8"), c.callbackAllow());
    assertEquals(3, c.callbackMaxTries());
    assertEquals(f.toString(), s.sources().get("telegram.token"));
  }

  @Test
  void aSecretInAFileOthersCanReadStopsStartUpWithTheFix() throws Exception {
    Path f = toml("[telegram]\ntoken = \"9:tok\"\nchat_id = \"5\"\n", "rw-r--r--");
    Settings.InvalidSetting e = assertThrows(Settings.InvalidSetting.class, () -> load(f, Map.of()));
    assertTrue(e.getMessage().startsWith("telegram.token: "), e.getMessage());
    assertTrue(e.getMessage().contains("chmod 600 " + f), e.getMessage());
    assertTrue(e.getMessage().contains("ATS_DISPATCH_TELEGRAM_TOKEN"), e.getMessage());
    assertFalse(e.getMessage().contains("9:tok"), e.getMessage());
    // the same file without secrets is fine, and so is a secret from the environment beside it
    Path plain = toml("[telegram]\nbase_url = \"http://127.0.0.1:9\"\n", "rw-r--r--");
    assertEquals("http://127.0.0.1:9", load(plain, Map.of("ATS_DISPATCH_TELEGRAM_TOKEN", "t")).notifyConfig()
        .telegramBaseUrl());
  }

  @Test
  void badValuesNameTheirKey() {
    for (var c : List.of(
        List.of("ATS_DISPATCH_CALLBACK_ALLOW", "10.0.0.0/40", "callback.allow: "),
        List.of("ATS_DISPATCH_TELEGRAM_BASE_URL", "ftp://x", "telegram.base_url: "),
        List.of("ATS_DISPATCH_CALLBACK_MAX_TRIES", "0", "callback.max_tries: "),
        List.of("ATS_DISPATCH_NOTIFY_CALL_TIMEOUT", "0s", "notify.call_timeout: "))) {
      Settings.InvalidSetting e = assertThrows(Settings.InvalidSetting.class, () -> load(null, Map.of(c.get(0), c.get(1))));
      assertTrue(e.getMessage().startsWith(c.get(2)), e.getMessage());
    }
  }

  @Test
  void configShowMasksTheNotificationSecrets() {
    Settings s = load(null, Map.of("ATS_DISPATCH_TELEGRAM_TOKEN", "123:AbC=x", "ATS_DISPATCH_TELEGRAM_CHAT_ID", "-1001",
        "ATS_DISPATCH_CALLBACK_SECRET", "key=value,more"));
    for (String k : List.of("telegram.token", "telegram.chat_id", "callback.secret")) {
      Settings.Key key = Settings.KEYS.stream().filter(x -> x.name().equals(k)).findFirst().orElseThrow();
      assertTrue(key.secret(), k + " must be a secret key");
      assertEquals("****", ConfigCommand.mask(s.values().get(k)), k);
    }
  }
}
