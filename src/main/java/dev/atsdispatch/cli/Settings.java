package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.atsdispatch.exec.Sandbox;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.dispatch.ServiceConfig;
import dev.atsdispatch.notify.AddressPolicy;
import dev.atsdispatch.notify.NotifyConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The service's effective settings: every documented key, resolved as flag &gt; environment
 * ({@code ATS_DISPATCH_<KEY>}) &gt; TOML file &gt; default, plus the ATS connection resolved the way
 * the {@code ats} CLI resolves it. Built once at start-up; an invalid value throws
 * {@link InvalidSetting} naming the key. A secret key may instead come from a file or a systemd
 * credential ({@link SecretFiles}). The key table is also what {@code config show} and the README
 * document.
 */
public final class Settings {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One documented key. */
  public record Key(String name, String defaultValue, String description, boolean secret,
      BiConsumer<Settings, String> apply) {
    public String env() {
      return "ATS_DISPATCH_" + name.toUpperCase(Locale.ROOT).replace('.', '_');
    }
  }

  /** A bad value, with the key it belongs to. */
  public static final class InvalidSetting extends RuntimeException {
    public InvalidSetting(String key, String message) {
      super(key + ": " + message);
    }
  }

  public static final List<Key> KEYS = List.of(
      key("channel", "ada-dispatch", "ATS channel to watch and take tasks from",
          (s, v) -> s.b.channel = v),
      key("transport", "cli", "how to call ATS: cli (the ats binary) or http (REST, faster)",
          (s, v) -> s.transport = oneOf(v, "cli", "http")),
      key("ats_bin", "ats", "the ats CLI binary (cli transport)", (s, v) -> s.atsBin = v),
      key("ats_timeout", "30s", "timeout of one ATS call", (s, v) -> s.atsTimeout = duration(v)),
      key("lease", "30m", "lease taken on claim; renewed every lease/3 while the agent runs",
          (s, v) -> s.b.lease = duration(v)),
      key("concurrency", "4", "agents running at once", (s, v) -> s.b.concurrency = integer(v)),
      key("max_attempts", "3", "poison guard: attempts (strikes) before a task is failed for good",
          (s, v) -> s.b.maxAttempts = integer(v)),
      key("retries", "0", "retries of a failed attempt inside the same claim (each a strike)",
          (s, v) -> s.b.retries = integer(v)),
      key("retry_backoff", "30s", "wait before such a retry", (s, v) -> s.b.retryBackoff = duration(v)),
      key("drain", "30s", "on SIGTERM, how long running agents may finish before they are stopped",
          (s, v) -> s.b.drain = duration(v)),
      key("reconcile_every", "60s", "how often pending tasks are listed as a safety net for lost events",
          (s, v) -> s.b.reconcileEvery = duration(v)),
      key("dependency_recheck", "5s", "how often dependencies of waiting tasks are re-read as a safety net "
          + "for lost events and dependencies in other channels", (s, v) -> s.b.dependencyRecheck = duration(v)),
      key("dependency_timeout", "", "fail a task still waiting for dependencies this long after this service "
          + "deferred it (empty: wait forever)",
          (s, v) -> s.b.dependencyTimeout = v.isBlank() ? null : duration(v)),
      key("dependency_max", "100", "most ids a task may depend on; a task with more is failed as blocked",
          (s, v) -> s.b.dependencyMax = integer(v)),
      key("progress_messages", "true", "post progress messages to the task thread",
          (s, v) -> s.b.progressMessages = bool(v)),
      key("state_dir", "state", "state directory: ledgers, attempt logs, work dirs, outbox",
          (s, v) -> s.b.stateDir = Path.of(v)),
      key("state_retention", "7d", "how long the state of a finished task (ledger, attempt logs, work dir) is kept "
          + "after its last ledger entry (at least 1h)", (s, v) -> s.b.stateRetention = duration(v)),
      key("encrypted_logs", "sealed", "an encrypted task's attempt logs: sealed (kept, sealed to the dispatcher's own key; "
          + "read them with ats-dispatch logs) or none (not kept)", (s, v) -> s.b.encryptedLogs = ServiceConfig.EncryptedLogs.parse(v)),
      key("keys_dir", "keys", "key files (hidden from agents in the sandbox; keep outside state_dir)", (s, v) -> s.b.keysDir = Path.of(v)),
      key("agent.command", "[\"claude\", \"-p\"]",
          "agent argv (no shell); an argument containing {input} gets the prompt, else the prompt goes to stdin; "
              + "a relative program path (./agent.sh) is taken from the directory the service starts in",
          (s, v) -> s.b.agentCommand = list(v)),
      key("agent.timeout", "60m", "wall-clock limit of one attempt", (s, v) -> s.b.agentTimeout = duration(v)),
      key("agent.no_output_timeout", "", "stop an agent silent this long (empty: off)",
          (s, v) -> s.b.noOutputTimeout = v.isBlank() ? null : duration(v)),
      key("agent.grace", "10s", "after TERM, how long before KILL", (s, v) -> s.b.grace = duration(v)),
      key("agent.response_cap_bytes", "65536", "largest response put in ATS outputs (the log keeps all)",
          (s, v) -> s.b.responseCapBytes = integer(v)),
      key("agent.stderr_tail_bytes", "2048", "stderr tail kept for outputs and fail reasons",
          (s, v) -> s.b.stderrTailBytes = integer(v)),
      key("agent.env_allowlist", String.join(",", ServiceConfig.DEFAULT_ENV_ALLOWLIST),
          "service environment variables passed to agents (all others are scrubbed)",
          (s, v) -> s.b.envAllowlist = list(v)),
      key("agent.sandbox", "auto", "where agents run: bwrap (a bubblewrap sandbox, or refuse to start), none, or auto "
          + "(bwrap when it is installed and works, else none with a warning)",
          (s, v) -> s.sandboxMode = Sandbox.Mode.parse(v)),
      key("agent.preset", "command", "how the agent CLI is driven: command (any program: the prompt on stdin, stdout "
          + "the response), or a backend preset: claude, codex, pi or cursor-agent (its structured output read back, "
          + "the final result as the response, a session per task that a retry resumes, cost and tokens in the "
          + "outputs; agent.command defaults to the CLI's name)", (s, v) -> s.b.preset = v.strip()),
      key("agent.progress_every", "5m", "with a preset and progress_messages: how often the agent's own latest "
          + "words (its last assistant text, when it changed) go to the task's thread while it runs; off: never",
          (s, v) -> s.b.progressEvery = v.isBlank() || v.strip().equals("off") ? null : duration(v)),
      key("agent.limit_backoff", "5m", "how long claiming pauses after the agent's backend reports a usage or rate "
          + "limit without saying when it resets (the task is given back, with no strike)",
          (s, v) -> s.b.limitBackoff = duration(v)),
      key("agent.max_turns", "", "a task's turns, over all its attempts (claude: --max-turns with what is left; pi: "
          + "its output watched and the run stopped); past it the task fails, not retried (empty: no limit)",
          (s, v) -> s.b.maxTurns = v.isBlank() ? null : integer(v)),
      key("agent.max_cost_usd", "", "a task's cost in dollars, over all its attempts (claude: --max-budget-usd with "
          + "what is left; pi: its output watched and the run stopped); past it the task fails, not retried (empty: "
          + "no limit)", (s, v) -> s.b.maxCostUsd = v.isBlank() ? null : dollars(v)),
      key("agent.daily_cost_usd", "", "the backend's spend per UTC day in dollars (kept in the state directory); "
          + "once reached, claiming pauses until the next UTC midnight while running tasks finish (empty: no cap)",
          (s, v) -> s.b.dailyCostUsd = v.isBlank() ? null : dollars(v)),
      key("questions.answer_timeout", "24h", "how long a question an agent asked people may wait for its answer; "
          + "then the task fails with \"No answer to question N within …\"", (s, v) -> s.b.answerTimeout = duration(v)),
      key("agent.mode", "standard", "the preset's execution mode: standard (the CLI's own rules), auto (claude "
          + "--permission-mode acceptEdits, codex's workspace-write sandbox, cursor-agent --force) or danger (claude "
          + "--dangerously-skip-permissions, codex --dangerously-bypass-approvals-and-sandbox, cursor-agent --force); "
          + "pi has no such flags", (s, v) -> s.b.agentMode = v.strip()),
      key("agent.api", "auto", "the agent API: each attempt gets ATS_DISPATCH_API (a Unix socket, reachable in the "
          + "sandbox) and ATS_DISPATCH_TOKEN, good for its own task and attempt only; auto: on where a board is a source "
          + "(its agents move their cards through it), else off (it costs about 5 MB)",
          (s, v) -> s.agentApi = v.strip().equals("auto") ? null : bool(v)),
      key("agent.network", "true", "in the sandbox: whether agents reach the network (false: a loopback of their own only)",
          (s, v) -> s.agentNetwork = bool(v)),
      key("agent.home", "", "the agents' HOME (empty: the service's); in the sandbox it is bound writable, so a CLI "
          + "can keep its login there", (s, v) -> s.agentHome = v.isBlank() ? null : paths(v).get(0)),
      key("agent.ro_binds", "", "in the sandbox: more paths agents may read (they see a read-only root anyway, minus "
          + "/tmp and the hidden paths)", (s, v) -> s.roBinds = paths(v)),
      key("agent.rw_binds", "", "in the sandbox: paths agents may write besides their work directory (a repository, "
          + "a CLI's credential directory)", (s, v) -> s.rwBinds = paths(v)),
      new Key("agent.env", "{}", "extra variables set for agents (TOML table); values are masked by config show",
          true, (s, v) -> s.b.extraEnv = stringMap(v)),
      key("slots", "{gpu = 1}", "named resource slots; a task whose payload has <name> = true takes one",
          (s, v) -> s.b.slots = intMap(v)),
      // ---- where tasks come from: an ATS channel, or NATS JetStream on agentbus's wire (dev.atsdispatch.source) ----
      key("source", "ats", "where tasks come from: ats (the ATS channel above), nats (a NATS JetStream durable "
          + "consumer on agentbus 0.1.0's wire; the nats.* keys) or board (a local board file in artificer's format; "
          + "the board.* keys)", (s, v) -> s.source = oneOf(v, "ats", "nats", "board")),
      key("board.file", "", "the board file (artificer-dispatcher's JSON: {\"queues\": {\"Todo\": [cards], ...}})",
          (s, v) -> s.boardFile = v.isBlank() ? null : Path.of(v)),
      key("board.queue", "Todo", "the queue cards are taken from", (s, v) -> s.boardQueue = v),
      key("board.in_progress_queue", "In Progress", "where a card is while its agent runs (the claim moves it there, "
          + "with a lease on the card)", (s, v) -> s.boardInProgress = v),
      key("board.done_queue", "Done", "where a card goes when its agent succeeded without moving it (the response "
          + "as a comment)", (s, v) -> s.boardDone = v),
      key("board.dead_letter_queue", "", "where a card goes when its retries are used up (empty: it stays where it "
          + "is, as artificer leaves it)", (s, v) -> s.boardDeadLetter = v),
      key("board.max_retries", "0", "times a failed card goes back to its queue (artificer's max_retries)",
          (s, v) -> s.boardRetries = integer(v)),
      key("board.poll_interval", "30s", "how often the board is read besides when it changes (it is watched)",
          (s, v) -> s.boardPoll = duration(v)),
      key("agentbus_config", "", "an agentbus worker file (agentbus.toml): when set, source is nats and its [agent], "
          + "[worker] and [nats] sections give the agent command, its timeout and the NATS keys (an agent command or timeout "
          + "given as a flag still wins; nats.creds and nats.ca_file add to it)",
          (s, v) -> s.agentbusConfig = v.isBlank() ? null : Path.of(v)),
      new Key("nats.url", "", "NATS server URL(s), comma-separated (user:password@ or token@ in it if the server wants "
          + "them; tls:// for TLS)", true, (s, v) -> s.natsUrl = v.strip()),
      key("nats.agent_id", "", "the worker identity: tasks come from agent.<id>.tasks (an agent- prefix is dropped)",
          (s, v) -> s.natsAgent = v.strip()),
      key("nats.stream", "AGENT_TASKS", "the stream that keeps the task subject", (s, v) -> s.natsStream = v.strip()),
      key("nats.durable", "", "the durable pull consumer this worker shares with others of its identity (empty: the agent id)",
          (s, v) -> s.natsDurable = v.strip()),
      key("nats.task_subject", "", "the subject tasks are read from (empty: agent.<agent id>.tasks)",
          (s, v) -> s.natsSubject = v.strip()),
      key("nats.default_result_subject", "agent.main.results", "where the failed result of a message that names no "
          + "usable reply address goes", (s, v) -> s.natsDefaultResults = v.strip()),
      key("nats.creds", "", "a .creds file (JWT and NKey seed) to connect with", (s, v) -> s.natsCreds = v.isBlank() ? null : Path.of(v)),
      key("nats.ca_file", "", "a PEM file of the CA certificates the server's TLS certificate is checked against",
          (s, v) -> s.natsCa = v.isBlank() ? null : Path.of(v)),
      key("nats.extra_instruction", "", "text added to the end of agentbus's prompt (its [agent] extra_instruction)",
          (s, v) -> s.natsExtra = v),
      key("nats.max_task_bytes", "1048576", "largest task message taken; a larger one is failed with a result that says so",
          (s, v) -> s.natsMaxBytes = integer(v)),
      key("nats.ack_wait", "30s", "AckWait of a consumer this worker creates because it is missing (an existing one "
          + "keeps its own); the consumer's AckWait is the lease, kept alive every third of it",
          (s, v) -> s.natsAckWait = duration(v)),
      key("embedded.port", "7878", "port of the dev server started by run --embedded (0: any)",
          (s, v) -> s.embeddedPort = integer(v)),
      // status port: /healthz, /readyz, /metrics (dev.atsdispatch.status)
      key("status.port", "7879", "status port serving /healthz, /readyz and /metrics (off or empty: none; 0: any)",
          (s, v) -> s.statusPort = port(v)),
      key("status.host", "127.0.0.1", "address the status port binds (loopback unless you mean otherwise)",
          (s, v) -> s.statusHost = nonBlank(v)),
      new Key("status.token", "", "bearer token the operator API (/status, /agents) asks for when the status port is "
          + "bound beyond loopback (without one it is not served there); best from a file: status.token_file",
          true, (s, v) -> s.statusToken = v.strip()),
      // ---- notifications: Telegram and callback webhooks (dev.atsdispatch.notify) ----
      new Key("telegram.token", "", "Telegram bot token (empty: Telegram off); best a credential or telegram.token_file",
          true, (s, v) -> s.nb.telegramToken = v),
      new Key("telegram.chat_id", "", "Telegram chat that gets the notifications", true,
          (s, v) -> s.nb.telegramChatId = v),
      key("telegram.base_url", "https://api.telegram.org", "Telegram Bot API base URL",
          (s, v) -> s.nb.telegramBaseUrl = v.trim()),
      key("telegram.max_tries", "5", "tries of one Telegram message (network error, 5xx, 429) before it is dropped",
          (s, v) -> s.nb.telegramMaxTries = integer(v)),
      key("telegram.backoff", "1s", "wait before the second try of a Telegram message, doubling per try (a 429 waits its retry_after)",
          (s, v) -> s.nb.telegramBackoff = duration(v)),
      new Key("callback.secret", "", "HMAC-SHA256 key that signs callbacks (X-ATS-Dispatch-Signature; empty: unsigned)",
          true, (s, v) -> s.nb.callbackSecret = v),
      key("callback.allow", "", "internal hosts, addresses and CIDR ranges callbacks may reach (default: public addresses only)",
          (s, v) -> {
            List<String> allow = list(v);
            AddressPolicy.allowing(allow);
            s.nb.callbackAllow = allow;
          }),
      key("callback.max_tries", "5", "tries of one callback (network error, 5xx, 429) before it is given up",
          (s, v) -> s.nb.callbackMaxTries = integer(v)),
      key("callback.backoff", "40s", "wait before the second try of a callback, doubling per try (5 tries span 10 minutes)",
          (s, v) -> s.nb.callbackBackoff = duration(v)),
      key("notify.connect_timeout", "5s", "connect timeout of a Telegram or callback request",
          (s, v) -> s.nb.connectTimeout = duration(v)),
      key("notify.read_timeout", "10s", "read timeout of a Telegram or callback request",
          (s, v) -> s.nb.readTimeout = duration(v)),
      key("notify.call_timeout", "30s", "limit of one whole Telegram or callback request",
          (s, v) -> s.nb.callTimeout = duration(v)));

  /** Secrets of the notify block: refused from a config file that group or others can read. */
  private static final List<String> FILE_SECRETS = List.of("telegram.token", "telegram.chat_id", "callback.secret",
      "status.token");

  private static Key key(String name, String def, String description, BiConsumer<Settings, String> apply) {
    return new Key(name, def, description, false, apply);
  }

  final ServiceConfig.Builder b = ServiceConfig.builder();
  String source;
  Path agentbusConfig;
  Path boardFile;
  String boardQueue;
  String boardInProgress;
  String boardDone;
  String boardDeadLetter;
  int boardRetries;
  Duration boardPoll;
  private dev.atsdispatch.source.board.BoardSettings board;
  private List<RouteSettings> routes = List.of();
  String natsUrl;
  String natsAgent;
  String natsStream;
  String natsDurable;
  String natsSubject;
  String natsDefaultResults;
  Path natsCreds;
  Path natsCa;
  String natsExtra;
  int natsMaxBytes;
  Duration natsAckWait;
  private dev.atsdispatch.source.nats.NatsSettings nats;
  final NotifyConfig.Builder nb = NotifyConfig.builder();
  private NotifyConfig notify;
  String transport;
  String atsBin;
  Duration atsTimeout;
  int embeddedPort;
  Integer statusPort;
  String statusHost;
  Boolean agentApi; // null: auto
  String statusToken = "";
  Sandbox.Mode sandboxMode;
  boolean agentNetwork;
  List<Path> roBinds;
  Path agentHome;
  List<Path> rwBinds;
  private Path configFile;
  private Path startDir;
  private String agentGiven;
  private final List<Path> secretFiles = new ArrayList<>();
  private ServiceConfig service;
  private AtsSettings ats;
  private final Map<String, String> values = new LinkedHashMap<>();
  private final Map<String, String> sources = new LinkedHashMap<>();

  public ServiceConfig service() {
    return service;
  }

  public AtsSettings ats() {
    return ats;
  }

  /** Telegram and callback settings (not {@code notify()}: that is Object's). */
  public NotifyConfig notifyConfig() {
    return notify;
  }

  public String transport() {
    return transport;
  }

  public String atsBin() {
    return atsBin;
  }

  public Duration atsTimeout() {
    return atsTimeout;
  }

  public int embeddedPort() {
    return embeddedPort;
  }

  /** The status port, or empty when {@code status.port} is off. */
  public OptionalInt statusPort() {
    return statusPort == null ? OptionalInt.empty() : OptionalInt.of(statusPort);
  }

  /** The operator API's bearer token for a status port bound beyond loopback; empty: none. */
  public String statusToken() {
    return statusToken;
  }

  public String statusHost() {
    return statusHost;
  }

  public Sandbox.Mode sandboxMode() {
    return sandboxMode;
  }

  public boolean agentNetwork() {
    return agentNetwork;
  }

  /** The agents' HOME, or null for the service's. */
  public Path agentHome() {
    return agentHome;
  }

  public List<Path> roBinds() {
    return roBinds;
  }

  public List<Path> rwBinds() {
    return rwBinds;
  }

  /** The files secrets were read from (hidden from agents in the sandbox). */
  public List<Path> secretFiles() {
    return List.copyOf(secretFiles);
  }

  /** The directory the service was started in: where a relative agent program is taken from. */
  public Path startDir() {
    return startDir;
  }

  /** The settings file read, or null. */
  public Path configFile() {
    return configFile;
  }

  /**
   * The status port's URL as a client on this machine reaches it (a wildcard bind address is
   * reached through loopback), or null when the status port is off.
   */
  public String statusUrl() {
    if (statusPort == null) return null;
    String h = statusHost;
    if (h.equals("0.0.0.0")) h = "127.0.0.1";
    if (h.equals("::") || h.equals("[::]")) h = "::1";
    if (h.contains(":") && !h.startsWith("[")) h = "[" + h + "]";
    return "http://" + h + ":" + statusPort;
  }

  /** The effective raw value of every key, and where it came from. */
  public Map<String, String> values() {
    return values;
  }

  public Map<String, String> sources() {
    return sources;
  }

  /**
   * Resolves everything. {@code file} may be null (then {@code ./ats-dispatch.toml} is read if it
   * exists); {@code flags} maps key names to flag values.
   */
  public static Settings load(Path file, Map<String, String> flags, Map<String, String> env,
      AtsSettings.Flags atsFlags, Path cwd, Path home) {
    Settings s = new Settings();
    Map<String, String> fromFile = new LinkedHashMap<>();
    Path f = file;
    if (f == null && cwd != null && Files.isRegularFile(cwd.resolve("ats-dispatch.toml"))) {
      f = cwd.resolve("ats-dispatch.toml");
    }
    if (f != null) fromFile = readToml(f);
    s.configFile = f;
    for (Key k : KEYS) {
      String v = k.defaultValue();
      String src = "default";
      if (fromFile.containsKey(k.name())) {
        v = fromFile.get(k.name());
        src = f.toString();
      }
      if (env.containsKey(k.env())) {
        v = env.get(k.env());
        src = "env " + k.env();
      }
      if (flags.containsKey(k.name())) {
        v = flags.get(k.name());
        src = "flag";
      }
      if (k.secret()) {
        SecretFiles.Found found = SecretFiles.find(k, v, src, fromFile, f, env, flags, cwd, TABLE_KEYS.contains(k.name()));
        if (found != null) {
          v = found.value();
          src = found.source();
          s.secretFiles.add(found.path());
        }
      }
      try {
        k.apply().accept(s, v);
      } catch (InvalidSetting e) {
        throw e;
      } catch (RuntimeException e) {
        // a parser's message quotes the value: never one of a secret
        throw new InvalidSetting(k.name(), (k.secret() ? "not a valid value" : e.getMessage()) + " (from " + src + ")");
      }
      s.values.put(k.name(), v);
      s.sources.put(k.name(), src);
    }
    if ("default".equals(s.sources.get("agent.command"))) { // a preset runs its own CLI unless agent.command says otherwise
      dev.atsdispatch.exec.Preset preset;
      try {
        preset = dev.atsdispatch.exec.Preset.named(s.b.preset);
      } catch (IllegalArgumentException e) {
        throw new InvalidSetting("agent.preset", e.getMessage() + " (from " + s.sources.get("agent.preset") + ")");
      }
      if (preset != null) s.b.agentCommand = List.of(preset.program());
    }
    s.fromAgentbus(flags, cwd, home);
    // the agent runs in its work directory: a relative program is made absolute here, once
    s.startDir = (cwd != null ? cwd : Path.of("")).toAbsolutePath().normalize();
    s.agentGiven = s.b.agentCommand.isEmpty() ? "" : s.b.agentCommand.get(0);
    s.b.agentCommand = absoluteProgram(s.b.agentCommand, s.startDir);
    dev.atsdispatch.source.board.BoardSettings boardDefaults = s.board;
    if (boardDefaults == null && s.boardFile != null) {
      try {
        boardDefaults = new dev.atsdispatch.source.board.BoardSettings(s.startDir.resolve(s.boardFile).normalize(),
            s.boardQueue, s.boardInProgress, s.boardDone, s.boardDeadLetter, s.boardRetries, s.boardPoll);
      } catch (IllegalArgumentException e) {
        boardDefaults = null; // each route then names its own file
      }
    }
    s.routes = RouteSettings.parse(fromFile, s.startDir, boardDefaults);
    boolean boards = s.board != null || s.routes.stream().anyMatch(r -> r.board() != null);
    s.b.agentApi = s.agentApi != null ? s.agentApi : boards;
    if (s.agentHome != null) { // HOME of the agents, over the allowlisted one and agent.env's
      Map<String, String> extra = new LinkedHashMap<>(s.b.extraEnv);
      extra.put("HOME", s.agentHome.toString());
      s.b.extraEnv = extra;
    }
    try {
      s.service = s.b.build();
    } catch (IllegalArgumentException e) {
      String msg = e.getMessage();
      int sp = msg.indexOf(' ');
      throw new InvalidSetting(msg.substring(0, sp), msg.substring(sp + 1));
    }
    try {
      s.notify = s.nb.build();
    } catch (IllegalArgumentException e) {
      String msg = e.getMessage();
      int sp = msg.indexOf(' ');
      throw new InvalidSetting(msg.substring(0, sp), msg.substring(sp + 1));
    }
    for (String k : FILE_SECRETS) {
      if (f != null && fromFile.containsKey(k) && s.sources.get(k).equals(f.toString())
          && !s.values.get(k).isEmpty()) {
        checkPrivate(f, k);
      }
    }
    Path state = s.service.stateDir().toAbsolutePath().normalize();
    Path keys = s.service.keysDir().toAbsolutePath().normalize();
    if (state.startsWith(keys) || keys.startsWith(state)) {
      throw new InvalidSetting("state_dir", "must not contain or be inside keys_dir (" + keys
          + "): agents work under the state directory and must never see the keys");
    }
    s.ats = AtsSettings.resolve(atsFlags, env, cwd, home);
    return s;
  }

  /**
   * With {@code agentbus_config}: the agentbus worker file decides the source (nats), the agent
   * command, its timeout, and the nats keys, except where a flag says otherwise.
   */
  private void fromAgentbus(Map<String, String> flags, Path cwd, Path home) {
    if (agentbusConfig != null) {
      dev.atsdispatch.source.nats.AgentbusConfig c;
      try {
        c = dev.atsdispatch.source.nats.AgentbusConfig.load(agentbusConfig, cwd == null ? Path.of("") : cwd,
            home == null ? Path.of("") : home);
      } catch (IOException | IllegalArgumentException e) {
        throw new InvalidSetting("agentbus_config", e.getMessage());
      }
      source = "nats";
      sources.put("source", "agentbus_config");
      if (!flags.containsKey("agent.command")) b.agentCommand = c.chatCmd();
      if (!flags.containsKey("agent.timeout")) b.agentTimeout = Duration.ofSeconds(Math.max(1, c.taskTimeoutSeconds()));
      try {
        nats = dev.atsdispatch.source.nats.NatsSettings.of(c).withAccess(natsCreds, natsCa)
            .withConsumerDefaults(natsAckWait, b.maxAttempts + 1);
      } catch (IllegalArgumentException e) {
        throw new InvalidSetting("agentbus_config", e.getMessage());
      }
    } else if ("nats".equals(source)) {
      if (natsUrl.isEmpty()) throw new InvalidSetting("nats.url", "is required with source = nats");
      if (natsAgent.isEmpty()) throw new InvalidSetting("nats.agent_id", "is required with source = nats");
      try {
        nats = new dev.atsdispatch.source.nats.NatsSettings(natsUrl, natsCreds, natsCa, natsAgent, natsStream,
            natsDurable, natsSubject, natsDefaultResults, natsExtra, natsMaxBytes, null, -1, natsAckWait, b.maxAttempts + 1);
      } catch (IllegalArgumentException e) {
        throw new InvalidSetting("nats", e.getMessage());
      }
    }
    if (nats != null) b.channel = nats.taskSubject(); // what logs and ATS_CHANNEL name
    if ("board".equals(source) && agentbusConfig == null) {
      try {
        Path f = boardFile == null ? null : (cwd == null ? boardFile : cwd.resolve(boardFile)).toAbsolutePath().normalize();
        board = new dev.atsdispatch.source.board.BoardSettings(f, boardQueue, boardInProgress, boardDone,
            boardDeadLetter, boardRetries, boardPoll);
      } catch (IllegalArgumentException e) {
        String msg = e.getMessage();
        int sp = msg.indexOf(' ');
        throw new InvalidSetting(msg.substring(0, sp), msg.substring(sp + 1));
      }
      b.channel = board.queue(); // what logs and ATS_CHANNEL name
    }
  }

  /**
   * A NATS route's worker identity on the server of the {@code nats.*} keys (its URL, creds, CA,
   * stream and limits): {@code agentId}'s subject and durable unless the route names others.
   */
  public dev.atsdispatch.source.nats.NatsSettings natsRoute(String agentId, String durable, String subject, int maxAttempts) {
    if (natsUrl == null || natsUrl.isEmpty()) throw new IllegalArgumentException("nats.url is required for a nats route");
    return new dev.atsdispatch.source.nats.NatsSettings(natsUrl, natsCreds, natsCa, agentId, natsStream, durable, subject,
        natsDefaultResults, natsExtra, natsMaxBytes, null, -1, natsAckWait, maxAttempts + 1);
  }

  /** The nats.creds file, when set (hidden from agents whatever the source). */
  public Path natsCredsFile() {
    return natsCreds;
  }

  /** The routes of the settings file ({@code [routes.<name>]}), in order; empty: the one route of the settings above. */
  public List<RouteSettings> routes() {
    return routes;
  }

  /** The board route, when source = board. */
  public dev.atsdispatch.source.board.BoardSettings board() {
    return board;
  }

  /** The agentbus worker file in use, if any. */
  public Path agentbusConfig() {
    return agentbusConfig;
  }

  /** The NATS source's settings with {@code source = nats}; null for an ATS channel. */
  public dev.atsdispatch.source.nats.NatsSettings nats() {
    return nats;
  }

  /**
   * {@code argv} with a relative program path (a first word holding '/' that is not absolute, as
   * {@code ./agent.sh} or {@code bin/agent}) made absolute against {@code base} and normalized; a
   * bare name ({@code claude}) stays a PATH lookup, an absolute path stays as it is.
   */
  public static List<String> absoluteProgram(List<String> argv, Path base) {
    if (argv == null || argv.isEmpty() || argv.get(0).isBlank()) return argv;
    String program = argv.get(0);
    if (!program.contains("/") || Path.of(program).isAbsolute()) return argv;
    List<String> out = new ArrayList<>(argv);
    out.set(0, base.toAbsolutePath().resolve(program).normalize().toString());
    return out;
  }

  /** What the agent program resolves to, for {@code config show}: the file (null if none) and how it was found. */
  public record AgentProgram(Path path, String how) {}

  /**
   * Resolves the agent program as preflight does, with {@code env}'s PATH: the given relative path
   * (resolved against the start directory), an absolute path, or a bare name found on PATH.
   */
  public AgentProgram agentProgram(Map<String, String> env) {
    String program = service.agentCommand().get(0);
    boolean relative = agentGiven.contains("/") && !Path.of(agentGiven).isAbsolute();
    String how = relative ? agentGiven + " resolved against " + startDir
        : agentGiven.contains("/") ? "as given" : "found on PATH";
    try {
      return new AgentProgram(dev.atsdispatch.exec.ProcessAgentRunner.resolve(program, env), how);
    } catch (IOException e) {
      return new AgentProgram(null, e.getMessage() + (relative ? " (" + how + ")" : ""));
    }
  }

  private static void checkPrivate(Path f, String key) {
    Set<PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(f);
    } catch (UnsupportedOperationException | IOException e) {
      return; // not a POSIX file system: nothing to check
    }
    if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
      throw new InvalidSetting(key, f + " holds a secret but group or others can read it (mode "
          + PosixFilePermissions.toString(perms) + "): run chmod 600 " + f
          + ", or set it in the environment (" + KEYS.stream().filter(k -> k.name().equals(key))
              .findFirst().map(Key::env).orElse(key) + ")");
    }
  }

  private static Map<String, String> readToml(Path f) {
    JsonNode root;
    try {
      root = new TomlMapper().readTree(Files.readAllBytes(f));
    } catch (IOException e) {
      throw new InvalidSetting("config", "cannot read " + f + ": " + e.getMessage());
    }
    Map<String, String> out = new LinkedHashMap<>();
    flatten("", root, out);
    for (String k : out.keySet()) {
      if (KEYS.stream().noneMatch(key -> key.name().equals(k)) && !SecretFiles.isFileKey(k) && !k.startsWith("routes.")) {
        throw new InvalidSetting(k, "unknown key in " + f + " (see ats-dispatch config show)");
      }
    }
    return out;
  }

  private static final List<String> TABLE_KEYS = List.of("agent.env", "slots");

  private static void flatten(String prefix, JsonNode n, Map<String, String> out) {
    for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
      var e = it.next();
      String name = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      JsonNode v = e.getValue();
      if (v.isObject() && !TABLE_KEYS.contains(name)) {
        flatten(name, v, out);
      } else if (v.isContainerNode()) {
        out.put(name, v.toString());
      } else {
        out.put(name, v.asText());
      }
    }
  }

  // ---- value parsers ------------------------------------------------------------------------

  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  /** "500ms", "10s", "30m", "4h", "1d", combinations like "1h30m", or ISO-8601 ("PT30M"). */
  public static Duration duration(String v) {
    String t = v.trim().toLowerCase(Locale.ROOT);
    if (t.startsWith("p")) {
      try {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("not a duration: " + v);
      }
    }
    Matcher m = DURATION.matcher(t);
    Duration d = Duration.ZERO;
    int at = 0;
    while (m.find() && m.start() == at) {
      long n = Long.parseLong(m.group(1));
      d = d.plus(switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      });
      at = m.end();
    }
    if (at == 0 || at != t.length()) {
      throw new IllegalArgumentException("not a duration (use e.g. 500ms, 10s, 30m, 4h): " + v);
    }
    return d;
  }

  static double dollars(String v) {
    try {
      double d = Double.parseDouble(v.trim().startsWith("$") ? v.trim().substring(1) : v.trim());
      if (Double.isNaN(d) || Double.isInfinite(d)) throw new NumberFormatException();
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not an amount in dollars: " + v);
    }
  }

  static int integer(String v) {
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not an integer: " + v);
    }
  }

  /** A TCP port (0: any free one), or null for "off" or empty. */
  static Integer port(String v) {
    String t = v.trim().toLowerCase(Locale.ROOT);
    if (t.isEmpty() || t.equals("off")) return null;
    int p = integer(t);
    if (p < 0 || p > 65535) throw new IllegalArgumentException("not a port (0-65535, or off): " + v);
    return p;
  }

  static String nonBlank(String v) {
    if (v.isBlank()) throw new IllegalArgumentException("must not be empty");
    return v.trim();
  }

  /** A list of absolute paths (as {@link #list}); a relative one is an error. */
  static List<Path> paths(String v) {
    List<Path> out = new ArrayList<>();
    for (String p : list(v)) {
      Path path = Path.of(p);
      if (!path.isAbsolute()) throw new IllegalArgumentException("not an absolute path: " + p);
      out.add(path.normalize());
    }
    return List.copyOf(out);
  }

  static boolean bool(String v) {
    return switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "1", "on" -> true;
      case "false", "no", "0", "off" -> false;
      default -> throw new IllegalArgumentException("not a boolean (true/false): " + v);
    };
  }

  static String oneOf(String v, String... allowed) {
    for (String a : allowed) if (a.equals(v.trim())) return a;
    throw new IllegalArgumentException("must be one of " + String.join(", ", allowed) + "; got: " + v);
  }

  /** A JSON/TOML array, or a comma- or space-separated list. */
  static List<String> list(String v) {
    String t = v.trim();
    if (t.startsWith("[")) {
      try {
        List<String> out = new ArrayList<>();
        for (JsonNode n : JSON.readTree(t)) {
          if (!n.isTextual()) throw new IllegalArgumentException("list items must be strings: " + v);
          out.add(n.asText());
        }
        return out;
      } catch (IOException e) {
        throw new IllegalArgumentException("not a JSON array: " + v);
      }
    }
    List<String> out = new ArrayList<>();
    for (String p : t.split(t.contains(",") ? "\\s*,\\s*" : "\\s+")) if (!p.isEmpty()) out.add(p);
    return out;
  }

  /** A table: TOML/JSON object text, or "a=1,b=2". */
  static Map<String, String> stringMap(String v) {
    Map<String, String> out = new LinkedHashMap<>();
    String t = v.trim();
    if (t.isEmpty()) return out;
    if (t.startsWith("{")) {
      try {
        JSON.readTree(t).fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
      } catch (IOException e) {
        // not JSON: the TOML inline-table form below
        t = t.substring(1, t.length() - 1);
      }
    }
    for (String p : t.split(",")) {
      if (p.isBlank()) continue;
      int eq = p.indexOf('=');
      if (eq < 1) throw new IllegalArgumentException("expected name=value pairs: " + v);
      out.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim().replaceAll("^\"|\"$", ""));
    }
    return out;
  }

  /**
   * A value as config show prints a secret: tables keep their names, every value is masked; any
   * other value (a token, which may well contain '=') is masked whole.
   */
  public static String mask(String v) {
    if (v == null || v.isEmpty()) return v;
    if (!v.trim().startsWith("{")) return "****";
    Map<String, String> m;
    try {
      m = stringMap(v);
    } catch (RuntimeException e) {
      return "****";
    }
    if (m.isEmpty()) return v.trim().startsWith("{") ? "{}" : "****";
    StringBuilder b = new StringBuilder("{");
    m.keySet().forEach(k -> b.append(b.length() > 1 ? ", " : "").append(k).append(" = \"****\""));
    return b.append('}').toString();
  }

  static Map<String, Integer> intMap(String v) {
    Map<String, Integer> out = new LinkedHashMap<>();
    stringMap(v).forEach((k, x) -> out.put(k, integer(x)));
    return out;
  }
}
