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

  @Option(names = "--transport", paramLabel = "cli|http",
      description = "how ATS is called: cli (the ats program) or http (its REST API, faster) (default: cli; "
          + "env ATS_DISPATCH_TRANSPORT)") String transport;
  @Option(names = "--channel", paramLabel = "NAME",
      description = "the ATS channel whose tasks are taken (default: ada-dispatch; env ATS_DISPATCH_CHANNEL)") String channel;
  @Option(names = "--agent", paramLabel = "CMD",
      description = "agent command: a JSON array or space-separated words, no shell (default: claude -p; "
          + "env ATS_DISPATCH_AGENT_COMMAND)") String agent;
  @Option(names = "--concurrency", paramLabel = "N",
      description = "agents running at once (default: 4; env ATS_DISPATCH_CONCURRENCY)") String concurrency;
  @Option(names = "--lease", paramLabel = "DURATION",
      description = "the lease taken on a claim, renewed every third of it while the agent runs (default: 30m; "
          + "env ATS_DISPATCH_LEASE)") String lease;
  @Option(names = "--state-dir", paramLabel = "DIR",
      description = "ledgers, attempt logs, work directories, the outbox (default: state; env ATS_DISPATCH_STATE_DIR)")
  String stateDir;
  @Option(names = "--keys-dir", paramLabel = "DIR",
      description = "the key files, outside the state directory (default: keys; env ATS_DISPATCH_KEYS_DIR)") String keysDir;
  @Option(names = "--state-retention", paramLabel = "DURATION",
      description = "how long a finished task's state is kept (default: 7d; env ATS_DISPATCH_STATE_RETENTION)")
  String stateRetention;
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
      description = "who the service claims as: its actor type (default: env ATS_ACTOR_TYPE, then the ats config, then agent)")
  String actorType;
  @Option(names = "--actor-id", paramLabel = "ID",
      description = "its actor id; an instance id is added so that two services never take one task "
          + "(default: env ATS_ACTOR_ID, then the ats config, then ada-dispatch)") String actorId;
  @Option(names = "--actor-name", paramLabel = "NAME",
      description = "its display name (default: env ATS_ACTOR_NAME, then the ats config, then Ada)") String actorName;

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
