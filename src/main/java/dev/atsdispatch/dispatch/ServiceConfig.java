package dev.atsdispatch.dispatch;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The service's own settings, built once at start-up and never changed (config file, environment
 * and flags are merged by the CLI before this is made). Defaults are the documented ones.
 */
public record ServiceConfig(
    String channel,
    Duration lease,
    int concurrency,
    Map<String, Integer> slots,
    List<String> agentCommand,
    Duration agentTimeout,
    Duration noOutputTimeout,
    Duration grace,
    int responseCapBytes,
    int stderrTailBytes,
    int maxAttempts,
    int retries,
    Duration retryBackoff,
    Duration drain,
    Duration reconcileEvery,
    Duration dependencyRecheck,
    Duration dependencyTimeout,
    int dependencyMax,
    Duration stateRetention,
    boolean progressMessages,
    List<String> envAllowlist,
    Map<String, String> extraEnv,
    Path stateDir,
    Path keysDir,
    String promptIntro,
    EncryptedLogs encryptedLogs,
    boolean agentApi,
    String preset,
    String agentMode,
    String promptTemplate,
    Duration limitBackoff,
    Duration answerTimeout,
    Budget budget,
    Duration questionRecheck,
    Duration progressEvery) {

  /** What is kept of an encrypted task's attempt logs (its agent's output is plaintext). */
  public enum EncryptedLogs {
    /** Kept, each chunk sealed to the dispatcher's own key; {@code ats-dispatch logs} opens them. */
    SEALED,
    /** Not kept: the output lives in memory until it is reported. */
    NONE;

    public static EncryptedLogs parse(String v) {
      return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
        case "sealed" -> SEALED;
        case "none" -> NONE;
        default -> throw new IllegalArgumentException("encrypted_logs must be sealed or none, got \"" + v + "\"");
      };
    }

    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public static final List<String> DEFAULT_ENV_ALLOWLIST = List.of("PATH", "HOME", "LANG", "LC_ALL",
      "LC_CTYPE", "TZ", "USER", "LOGNAME", "SHELL", "TERM", "TMPDIR");

  public static final String DEFAULT_PROMPT_INTRO =
      "You are Ada, processing a task from the ada-dispatch channel. Execute the task described below.";

  public ServiceConfig {
    slots = Map.copyOf(slots);
    agentCommand = List.copyOf(agentCommand);
    envAllowlist = List.copyOf(envAllowlist);
    extraEnv = Map.copyOf(extraEnv);
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.channel = channel;
    b.lease = lease;
    b.concurrency = concurrency;
    b.slots = slots;
    b.agentCommand = agentCommand;
    b.agentTimeout = agentTimeout;
    b.noOutputTimeout = noOutputTimeout;
    b.grace = grace;
    b.responseCapBytes = responseCapBytes;
    b.stderrTailBytes = stderrTailBytes;
    b.maxAttempts = maxAttempts;
    b.retries = retries;
    b.retryBackoff = retryBackoff;
    b.drain = drain;
    b.reconcileEvery = reconcileEvery;
    b.dependencyRecheck = dependencyRecheck;
    b.dependencyTimeout = dependencyTimeout;
    b.dependencyMax = dependencyMax;
    b.stateRetention = stateRetention;
    b.progressMessages = progressMessages;
    b.envAllowlist = envAllowlist;
    b.extraEnv = extraEnv;
    b.stateDir = stateDir;
    b.keysDir = keysDir;
    b.promptIntro = promptIntro;
    b.encryptedLogs = encryptedLogs;
    b.agentApi = agentApi;
    b.preset = preset;
    b.agentMode = agentMode;
    b.promptTemplate = promptTemplate;
    b.limitBackoff = limitBackoff;
    b.answerTimeout = answerTimeout;
    b.questionRecheck = questionRecheck;
    b.progressEvery = progressEvery;
    b.maxTurns = budget.maxTurns();
    b.maxCostUsd = budget.maxCostUsd();
    b.dailyCostUsd = budget.dailyCostUsd();
    return b;
  }

  /** Mutable companion for building a config; {@link #build()} checks the values. */
  public static final class Builder {
    public String channel = "ada-dispatch";
    public Duration lease = Duration.ofMinutes(30);
    public int concurrency = 4;
    public Map<String, Integer> slots = Map.of("gpu", 1);
    public List<String> agentCommand = List.of("claude", "-p");
    public Duration agentTimeout = Duration.ofMinutes(60);
    public Duration noOutputTimeout = null;
    public Duration grace = Duration.ofSeconds(10);
    public int responseCapBytes = 64 * 1024;
    public int stderrTailBytes = 2048;
    public int maxAttempts = 3;
    public int retries = 0;
    public Duration retryBackoff = Duration.ofSeconds(30);
    public Duration drain = Duration.ofSeconds(30);
    public Duration reconcileEvery = Duration.ofSeconds(60);
    public Duration dependencyRecheck = Duration.ofSeconds(5);
    public Duration dependencyTimeout = null;
    public int dependencyMax = 100;
    public Duration stateRetention = Duration.ofDays(7);
    public boolean progressMessages = true;
    /** The agent API on a Unix socket under the state directory (agent.api; its auto is decided by the settings). */
    public boolean agentApi = false;
    /** How the agent's CLI is driven: command (an opaque program) or a backend preset (agent.preset). */
    public String preset = "command";
    /** The preset's execution mode: standard, auto or danger (agent.mode). */
    public String agentMode = "standard";
    /** A route's prompt template ({@link Prompts#render}); null: the source's prompt or the service's layout. */
    public String promptTemplate;
    /** How long claiming pauses after a usage limit that said no reset time (agent.limit_backoff). */
    public Duration limitBackoff = Duration.ofMinutes(5);
    /** How long a question to people may wait for its answer before the task fails (questions.answer_timeout). */
    public Duration answerTimeout = Duration.ofHours(24);
    /**
     * How long a source that redelivers (NATS) holds a task that waits for an answer back before
     * offering it again (then it is parked again, or runs if answered): the longest an answer waits
     * to be taken up there. Not a setting; tests make it short.
     */
    public Duration questionRecheck = Duration.ofMinutes(1);
    /** How often a preset agent's own latest words go to the thread (agent.progress_every); null: never. */
    public Duration progressEvery = Duration.ofMinutes(5);
    /** A task's turns, across its attempts (agent.max_turns); null: no limit. */
    public Integer maxTurns;
    /** A task's cost in dollars, across its attempts (agent.max_cost_usd); null: no limit. */
    public Double maxCostUsd;
    /** The backend's spend per UTC day, past which claiming pauses (agent.daily_cost_usd); null: no cap. */
    public Double dailyCostUsd;
    public List<String> envAllowlist = DEFAULT_ENV_ALLOWLIST;
    public Map<String, String> extraEnv = Map.of();
    public Path stateDir = Path.of("state");
    public Path keysDir = Path.of("keys");
    public String promptIntro = DEFAULT_PROMPT_INTRO;
    public EncryptedLogs encryptedLogs = EncryptedLogs.SEALED;

    /** Checks every value; the message names the offending key. */
    public ServiceConfig build() {
      require(channel != null && !channel.isBlank(), "channel", "must not be empty");
      require(lease.compareTo(Duration.ofSeconds(3)) >= 0 && lease.compareTo(Duration.ofHours(24)) <= 0,
          "lease", "must be from 3s to 24h");
      require(concurrency >= 1 && concurrency <= 1024, "concurrency", "must be from 1 to 1024");
      slots.forEach((k, v) -> require(v != null && v >= 1, "slots." + k, "must be at least 1"));
      require(!agentCommand.isEmpty() && !agentCommand.get(0).isBlank(), "agent.command", "must not be empty");
      require(!agentTimeout.isNegative() && !agentTimeout.isZero(), "agent.timeout", "must be positive");
      require(noOutputTimeout == null || !(noOutputTimeout.isNegative() || noOutputTimeout.isZero()),
          "agent.no_output_timeout", "must be positive (or unset)");
      require(!grace.isNegative(), "agent.grace", "must not be negative");
      require(responseCapBytes >= 1024, "agent.response_cap_bytes", "must be at least 1024");
      require(stderrTailBytes >= 0 && stderrTailBytes <= 1 << 20, "agent.stderr_tail_bytes", "must be from 0 to 1048576");
      require(maxAttempts >= 1, "max_attempts", "must be at least 1");
      require(retries >= 0 && retries < maxAttempts, "retries", "must be from 0 to max_attempts - 1");
      require(!retryBackoff.isNegative(), "retry_backoff", "must not be negative");
      require(!drain.isNegative(), "drain", "must not be negative");
      require(reconcileEvery.compareTo(Duration.ofSeconds(1)) >= 0, "reconcile_every", "must be at least 1s");
      require(dependencyRecheck.compareTo(Duration.ofMillis(100)) >= 0, "dependency_recheck",
          "must be at least 100ms");
      require(dependencyTimeout == null || !(dependencyTimeout.isNegative() || dependencyTimeout.isZero()),
          "dependency_timeout", "must be positive (or unset)");
      require(dependencyMax >= 1 && dependencyMax <= 10_000, "dependency_max", "must be from 1 to 10000");
      require(stateRetention.compareTo(Duration.ofHours(1)) >= 0, "state_retention", "must be at least 1h");
      require(progressEvery == null || progressEvery.compareTo(Duration.ofMillis(100)) >= 0, "agent.progress_every",
          "must be at least 100ms (or off)");
      require(answerTimeout.compareTo(Duration.ofSeconds(1)) >= 0, "questions.answer_timeout", "must be at least 1s");
      require(java.util.List.of("command", "claude", "codex", "pi", "cursor-agent").contains(preset), "agent.preset",
          "must be command, claude, codex, pi or cursor-agent");
      require(java.util.List.of("standard", "auto", "danger").contains(agentMode), "agent.mode",
          "must be standard, auto or danger");
      Budget budget = new Budget(maxTurns, maxCostUsd, dailyCostUsd); // its errors name their keys
      budgetCounted("agent.max_turns", maxTurns != null, "turns");
      budgetCounted("agent.max_cost_usd", maxCostUsd != null, "cost");
      budgetCounted("agent.daily_cost_usd", dailyCostUsd != null, "cost");
      return new ServiceConfig(channel, lease, concurrency, slots, agentCommand, agentTimeout,
          noOutputTimeout, grace, responseCapBytes, stderrTailBytes, maxAttempts, retries,
          retryBackoff, drain, reconcileEvery, dependencyRecheck, dependencyTimeout, dependencyMax,
          stateRetention, progressMessages, envAllowlist, extraEnv, stateDir, keysDir, promptIntro,
          java.util.Objects.requireNonNull(encryptedLogs, "encrypted_logs"), agentApi, preset, agentMode, promptTemplate, limitBackoff,
          answerTimeout, budget, questionRecheck, progressEvery);
    }

    /** A budget needs a preset whose output reports what it counts. */
    private void budgetCounted(String key, boolean set, String what) {
      if (!set) return;
      dev.atsdispatch.exec.Preset p = dev.atsdispatch.exec.Preset.named(preset);
      if (p == null) throw new IllegalArgumentException(key + " needs agent.preset claude or pi (a command's output is not read)");
      if (!p.budgets().contains(what)) {
        throw new IllegalArgumentException(key + " cannot be kept with agent.preset " + preset + ": it reports no "
            + (what.equals("cost") ? "cost" : "turns of its own") + " (claude and pi do)");
      }
    }

    private static void require(boolean ok, String key, String what) {
      if (!ok) throw new IllegalArgumentException(key + " " + what);
    }
  }
}
