package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.ats.AtsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Secrets given as {@code <key>_file} or as a systemd credential, and each way that is refused. */
final class SecretFilesTest {
  static final String TOKEN = "123456:AAsecret-token";

  @TempDir Path dir;

  Settings load(Path toml, Map<String, String> env) {
    return Settings.load(toml, Map.of(), env, AtsSettings.Flags.NONE, dir, dir);
  }

  Path secret(String name, String content) throws Exception {
    Path f = dir.resolve(name);
    Files.createDirectories(f.getParent());
    Files.writeString(f, content);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    return f;
  }

  String refused(Path toml, Map<String, String> env) {
    String m = assertThrows(Settings.InvalidSetting.class, () -> load(toml, env)).getMessage();
    assertFalse(m.contains("AAsecret"), "the message shows the secret: " + m);
    return m;
  }

  @Test
  void aFileFromTheEnvironmentIsReadWithItsTrailingNewlineCut() throws Exception {
    Path f = secret("tg", TOKEN + "\r\n\n");
    Settings s = load(null, Map.of("ATS_DISPATCH_TELEGRAM_TOKEN_FILE", f.toString(), "ATS_DISPATCH_TELEGRAM_CHAT_ID", "5"));
    assertEquals(TOKEN, s.notifyConfig().telegramToken());
    assertTrue(s.notifyConfig().telegramEnabled());
    assertEquals("file " + f, s.sources().get("telegram.token"));
    assertEquals("****", ConfigCommand.mask(s.values().get("telegram.token")));
  }

  @Test
  void aFileNamedInAReadableTomlFileIsRead() throws Exception {
    Path f = secret("secrets/callback", "whsec-1\n");
    Path toml = dir.resolve("ats-dispatch.toml");
    // the path is no secret: a TOML file others can read may name it
    Files.writeString(toml, "[callback]\nsecret_file = \"secrets/callback\"\n");
    Files.setPosixFilePermissions(toml, PosixFilePermissions.fromString("rw-r--r--"));
    Settings s = load(toml, Map.of());
    assertEquals("whsec-1", s.notifyConfig().callbackSecret());
    assertEquals("file " + f, s.sources().get("callback.secret"));
  }

  @Test
  void systemdCredentialsNamedAfterTheKeyAreUsed() throws Exception {
    Path creds = dir.resolve("credentials");
    secret("credentials/telegram.token", TOKEN + "\n");
    secret("credentials/telegram.chat_id", "-1001\n");
    secret("credentials/callback.secret", "whsec-2");
    Files.setPosixFilePermissions(creds.resolve("callback.secret"), PosixFilePermissions.fromString("r--r-----"));
    Settings s = load(null, Map.of("CREDENTIALS_DIRECTORY", creds.toString()));
    assertEquals(TOKEN, s.notifyConfig().telegramToken());
    assertEquals("-1001", s.notifyConfig().telegramChatId());
    assertEquals("whsec-2", s.notifyConfig().callbackSecret(), "systemd owns the credential's mode");
    assertEquals("credential " + creds.resolve("telegram.token"), s.sources().get("telegram.token"));
    // a credential directory without the file leaves the key alone
    assertEquals("default", s.sources().get("agent.env"));
    // _file naming the credential itself (Environment=..._FILE=%d/telegram.token) is the same secret once
    Settings same = load(null, Map.of("CREDENTIALS_DIRECTORY", creds.toString(),
        "ATS_DISPATCH_TELEGRAM_TOKEN_FILE", creds.resolve("telegram.token").toString()));
    assertEquals(TOKEN, same.notifyConfig().telegramToken());
  }

  @Test
  void aValueAndAFileTogetherAreRefusedNamingBoth() throws Exception {
    Path f = secret("tg", TOKEN);
    String m = refused(null, Map.of("ATS_DISPATCH_TELEGRAM_TOKEN", "other-" + TOKEN,
        "ATS_DISPATCH_TELEGRAM_TOKEN_FILE", f.toString()));
    assertEquals("telegram.token: given both as a value (env ATS_DISPATCH_TELEGRAM_TOKEN) and as "
        + "telegram.token_file (env ATS_DISPATCH_TELEGRAM_TOKEN_FILE); set only one", m);

    Path toml = dir.resolve("a.toml");
    Files.writeString(toml, "[callback]\nsecret = \"AAsecret-in-toml\"\n");
    Files.setPosixFilePermissions(toml, PosixFilePermissions.fromString("rw-------"));
    m = refused(toml, Map.of("ATS_DISPATCH_CALLBACK_SECRET_FILE", f.toString()));
    assertTrue(m.startsWith("callback.secret: given both as a value (" + toml + ") and as callback.secret_file"), m);

    Path creds = dir.resolve("creds");
    secret("creds/telegram.token", TOKEN);
    m = refused(null, Map.of("CREDENTIALS_DIRECTORY", creds.toString(), "ATS_DISPATCH_TELEGRAM_TOKEN", "x" + TOKEN));
    assertTrue(m.contains("a value (env ATS_DISPATCH_TELEGRAM_TOKEN)") && m.contains("the systemd credential "
        + creds.resolve("telegram.token")), m);
    m = refused(null, Map.of("CREDENTIALS_DIRECTORY", creds.toString(), "ATS_DISPATCH_TELEGRAM_TOKEN_FILE", f.toString()));
    assertTrue(m.contains("telegram.token_file (env ATS_DISPATCH_TELEGRAM_TOKEN_FILE)") && m.contains("systemd credential"), m);

    // an empty value is no value (the old env example had ATS_DISPATCH_TELEGRAM_TOKEN=)
    assertEquals(TOKEN, load(null, Map.of("ATS_DISPATCH_TELEGRAM_TOKEN", "", "ATS_DISPATCH_TELEGRAM_TOKEN_FILE",
        f.toString())).notifyConfig().telegramToken());
  }

  @Test
  void aMissingEmptyUnreadableOrOpenFileIsRefused() throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("ATS_DISPATCH_TELEGRAM_TOKEN_FILE", dir.resolve("nope").toString());
    assertEquals("telegram.token: cannot read telegram.token_file (env ATS_DISPATCH_TELEGRAM_TOKEN_FILE): "
        + dir.resolve("nope") + ": no such file", refused(null, env));

    Path empty = secret("empty", "\n");
    env.put("ATS_DISPATCH_TELEGRAM_TOKEN_FILE", empty.toString());
    assertEquals("telegram.token: telegram.token_file (env ATS_DISPATCH_TELEGRAM_TOKEN_FILE): " + empty + " is empty",
        refused(null, env));

    Path aDir = Files.createDirectories(dir.resolve("a-dir"));
    Files.setPosixFilePermissions(aDir, PosixFilePermissions.fromString("rwx------"));
    env.put("ATS_DISPATCH_TELEGRAM_TOKEN_FILE", aDir.toString());
    assertTrue(refused(null, env).startsWith("telegram.token: cannot read telegram.token_file (env "
        + "ATS_DISPATCH_TELEGRAM_TOKEN_FILE): " + aDir + ": "), refused(null, env));

    Path open = secret("open", TOKEN);
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
    env.put("ATS_DISPATCH_TELEGRAM_TOKEN_FILE", open.toString());
    String m = refused(null, env);
    assertTrue(m.contains("group or others can read it (mode rw-r--r--)") && m.endsWith("chmod 600 " + open), m);

    Path creds = Files.createDirectories(dir.resolve("creds"));
    secret("creds/callback.secret", "\r\n");
    assertTrue(refused(null, Map.of("CREDENTIALS_DIRECTORY", creds.toString()))
        .endsWith(creds.resolve("callback.secret") + " is empty"));
  }

  @Test
  void theAgentEnvironmentTableComesFromAFileOfTomlLines() throws Exception {
    Path f = secret("agent.env", "ANTHROPIC_API_KEY = \"sk-AAsecret\"\nOTHER = \"x=y\"\n");
    Settings s = load(null, Map.of("ATS_DISPATCH_AGENT_ENV_FILE", f.toString()));
    assertEquals(Map.of("ANTHROPIC_API_KEY", "sk-AAsecret", "OTHER", "x=y"), s.service().extraEnv());
    assertFalse(Settings.mask(s.values().get("agent.env")).contains("AAsecret"));
    Files.writeString(f, "{\"A\": \"1\"}\n");
    assertEquals(Map.of("A", "1"), load(null, Map.of("ATS_DISPATCH_AGENT_ENV_FILE", f.toString())).service().extraEnv());
    Files.writeString(f, "AAsecret garbage [\n");
    assertTrue(refused(null, Map.of("ATS_DISPATCH_AGENT_ENV_FILE", f.toString()))
        .contains("is neither a JSON object nor TOML NAME = \"value\" lines"));
  }

  @Test
  void onlySecretKeysHaveAFileForm() throws Exception {
    Path toml = dir.resolve("b.toml");
    Files.writeString(toml, "channel_file = \"x\"\n");
    assertTrue(refused(toml, Map.of()).startsWith("channel_file: unknown key"));
  }
}
