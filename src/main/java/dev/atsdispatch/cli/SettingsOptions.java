package dev.atsdispatch.cli;

import dev.atsdispatch.ats.AtsSettings;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** The settings flags shared by {@code run} and {@code config show}. */
public final class SettingsOptions {
  @Option(names = "--config", paramLabel = "FILE",
      description = "TOML settings file (default: ./ats-dispatch.toml if present)")
  Path config;

  @Option(names = "--transport", description = "cli or http") String transport;
  @Option(names = "--channel", description = "ATS channel") String channel;
  @Option(names = "--agent", paramLabel = "CMD",
      description = "agent command: a JSON array or space-separated words (no shell)") String agent;
  @Option(names = "--concurrency") String concurrency;
  @Option(names = "--lease", paramLabel = "DURATION") String lease;
  @Option(names = "--state-dir", paramLabel = "DIR") String stateDir;
  @Option(names = "--keys-dir", paramLabel = "DIR") String keysDir;
  @Option(names = "--state-retention", paramLabel = "DURATION") String stateRetention;
  @Option(names = "--ats-bin", paramLabel = "PATH") String atsBin;

  @Option(names = {"--url", "-u"}, description = "ATS URL (else ATS_URL, .ats/config, ~/.ats/config)") String url;
  @Option(names = "--org") String org;
  @Option(names = "--project") String project;
  @Option(names = "--actor-type") String actorType;
  @Option(names = "--actor-id") String actorId;
  @Option(names = "--actor-name") String actorName;

  /** Settings a command sets for its user (by key), as flags: after the options above. */
  final Map<String, String> more = new LinkedHashMap<>();

  /** The settings, or null after printing the one line that names the bad key. */
  Settings loadOrExplain() {
    try {
      return load();
    } catch (Settings.InvalidSetting e) {
      System.err.println("ats-dispatch: invalid setting " + e.getMessage());
      return null;
    }
  }

  Settings load() {
    Map<String, String> flags = new LinkedHashMap<>();
    put(flags, "transport", transport);
    put(flags, "channel", channel);
    put(flags, "agent.command", agent);
    put(flags, "concurrency", concurrency);
    put(flags, "lease", lease);
    put(flags, "state_dir", stateDir);
    put(flags, "keys_dir", keysDir);
    put(flags, "state_retention", stateRetention);
    put(flags, "ats_bin", atsBin);
    flags.putAll(more);
    String home = System.getProperty("user.home");
    return Settings.load(config, flags, System.getenv(),
        new AtsSettings.Flags(url, org, project, actorType, actorId, actorName),
        Path.of("").toAbsolutePath(), home == null ? null : Path.of(home));
  }

  private static void put(Map<String, String> m, String k, String v) {
    if (v != null) m.put(k, v);
  }
}
