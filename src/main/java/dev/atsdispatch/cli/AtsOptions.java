package dev.atsdispatch.cli;

import dev.atsdispatch.ats.AtsSettings;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The flags of the settings that reach ATS (the settings file, the transport, the channel, the
 * server and the actor): every command that calls ATS takes them. The service's own settings
 * are {@link ServiceOptions}; from the file and the environment all settings load either way.
 */
public final class AtsOptions {
  @Option(names = "--config", paramLabel = "FILE",
      description = "TOML settings file (default: ./ats-dispatch.toml if present)")
  Path config;

  @Option(names = "--transport", paramLabel = "cli|http",
      description = "how ATS is called: cli (the ats program) or http (its REST API, faster) (default: cli; "
          + "env ATS_DISPATCH_TRANSPORT)") String transport;
  @Option(names = "--channel", paramLabel = "NAME",
      description = "the ATS channel: run takes its tasks, create adds to it, deps shows it (default: ada-dispatch; "
          + "env ATS_DISPATCH_CHANNEL)") String channel;
  @Option(names = "--ats-bin", paramLabel = "PATH",
      description = "the ats program of the cli transport (default: ats; env ATS_DISPATCH_ATS_BIN)") String atsBin;

  @Option(names = {"--url", "-u"}, paramLabel = "URL",
      description = "the ATS server (default: env ATS_URL, then .ats/config, then ~/.ats/config)") String url;
  @Option(names = "--org", paramLabel = "ORG",
      description = "the ATS organization of scoped routes (default: env ATS_ORG, then the ats config; else unscoped)")
  String org;
  @Option(names = "--project", paramLabel = "PROJECT",
      description = "the ATS project of scoped routes (default: env ATS_PROJECT, then the ats config; else unscoped)")
  String project;
  @Option(names = "--actor-type", paramLabel = "TYPE",
      description = "the actor ATS sees claiming and creating tasks: its type (default: env ATS_ACTOR_TYPE, "
          + "then the ats config, then agent)")
  String actorType;
  @Option(names = "--actor-id", paramLabel = "ID",
      description = "the actor's id; run adds an instance id so that two services never take one task "
          + "(default: env ATS_ACTOR_ID, then the ats config, then ada-dispatch)") String actorId;
  @Option(names = "--actor-name", paramLabel = "NAME",
      description = "the actor's display name (default: env ATS_ACTOR_NAME, then the ats config, "
          + "then Ada Dispatch)") String actorName;

  /** The settings, or null after printing the one line that names the bad key. */
  Settings loadOrExplain() {
    return loadOrExplain(Map.of());
  }

  /** As {@link #loadOrExplain()}, with more settings given as flags (by key). */
  Settings loadOrExplain(Map<String, String> more) {
    try {
      return load(more);
    } catch (Settings.InvalidSetting e) {
      System.err.println("ats-dispatch: invalid setting " + e.getMessage());
      return null;
    }
  }

  /** Every setting (flag > env > file > default); {@code more} are further flags by key. Throws InvalidSetting. */
  Settings load(Map<String, String> more) {
    Map<String, String> flags = new LinkedHashMap<>();
    put(flags, "transport", transport);
    put(flags, "channel", channel);
    put(flags, "ats_bin", atsBin);
    flags.putAll(more);
    String home = System.getProperty("user.home");
    return Settings.load(config, flags, System.getenv(),
        new AtsSettings.Flags(url, org, project, actorType, actorId, actorName),
        Path.of("").toAbsolutePath(), home == null ? null : Path.of(home));
  }

  static void put(Map<String, String> m, String k, String v) {
    if (v != null) m.put(k, v);
  }
}
