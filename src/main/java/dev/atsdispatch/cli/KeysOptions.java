package dev.atsdispatch.cli;

import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.crypto.Keyring;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/** Where the key commands find the key directory: {@code --keys-dir}, else the {@code keys_dir} setting. */
public final class KeysOptions {
  @Option(names = "--config", paramLabel = "FILE",
      description = "TOML settings file (default: ./ats-dispatch.toml if present)")
  Path config;

  @Option(names = "--keys-dir", paramLabel = "DIR",
      description = "key directory (default: the keys_dir setting, env ATS_DISPATCH_KEYS_DIR, else ./keys)")
  String keysDir;

  /** The settings (resolved as for run: flag > env > file > default); throws InvalidSetting. */
  Settings settings() {
    String home = System.getProperty("user.home");
    return Settings.load(config, keysDir == null ? Map.of() : Map.of("keys_dir", keysDir), System.getenv(),
        AtsSettings.Flags.NONE, Path.of("").toAbsolutePath(), home == null ? null : Path.of(home));
  }

  static Keyring keyring(Settings s) {
    return new Keyring(s.service().keysDir());
  }
}
