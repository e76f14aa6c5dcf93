package dev.atsdispatch.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The flags of the settings only the service reads (the agent, its pace, its directories):
 * {@code run} and {@code config show} take them, admin commands do not.
 */
public final class ServiceOptions {
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

  /** The settings given, by key. */
  Map<String, String> flags() {
    Map<String, String> m = new LinkedHashMap<>();
    AtsOptions.put(m, "agent.command", agent);
    AtsOptions.put(m, "concurrency", concurrency);
    AtsOptions.put(m, "lease", lease);
    AtsOptions.put(m, "state_dir", stateDir);
    AtsOptions.put(m, "keys_dir", keysDir);
    AtsOptions.put(m, "state_retention", stateRetention);
    return m;
  }
}
