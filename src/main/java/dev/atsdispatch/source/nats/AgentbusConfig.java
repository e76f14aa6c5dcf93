package dev.atsdispatch.source.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * agentbus 0.1.0's worker config file, read as its worker reads it, so a user's
 * {@code agentbus.toml} works unchanged: found at {@code --config}, else the first of
 * {@code ./agentbus.toml}, {@code ~/.agentbus/config.toml}, {@code /etc/agentbus/agentbus.toml};
 * sections {@code [agent] [worker] [nats] [log]} with agentbus's defaults; unknown keys and
 * sections refused, and every error in agentbus's words. No environment variable changes it (as in
 * agentbus). A value.
 */
public record AgentbusConfig(Path file, String agentId, List<String> chatCmd, String extraInstruction,
    int taskTimeoutSeconds, int maxTaskBytes, int reconnectTimeWaitSeconds, int maxReconnectAttempts,
    String natsUrl, String stream, String durable, String taskSubject, String defaultResultSubject,
    String logDir, long logMaxBytes, int logBackupCount) {
  private static final Map<String, Set<String>> KEYS = Map.of(
      "agent", Set.of("id", "chat_cmd", "extra_instruction"),
      "worker", Set.of("task_timeout_seconds", "max_task_bytes", "reconnect_time_wait_seconds", "max_reconnect_attempts"),
      "nats", Set.of("url", "stream", "durable", "task_subject", "default_result_subject"),
      "log", Set.of("dir", "max_bytes", "backup_count"));

  /** Where agentbus looks, in order, when no file is named. */
  public static List<Path> searchPath(Path cwd, Path home) {
    return List.of(cwd.resolve("agentbus.toml"), home.resolve(".agentbus/config.toml"), Path.of("/etc/agentbus/agentbus.toml"));
  }

  /** The named file, or the first that exists on {@link #searchPath}; IllegalArgumentException says what is wrong. */
  public static AgentbusConfig load(Path given, Path cwd, Path home) throws IOException {
    Path file = given;
    if (file == null) {
      for (Path p : searchPath(cwd, home)) {
        if (Files.isRegularFile(p)) {
          file = p;
          break;
        }
      }
      if (file == null) throw new IllegalArgumentException("config file is required; pass --config or create ~/.agentbus/config.toml");
    } else if (!Files.isRegularFile(file)) {
      throw new java.io.FileNotFoundException("config file not found: " + file);
    }
    JsonNode root;
    try {
      root = new TomlMapper().readTree(file.toFile());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("config file " + file + " is not valid TOML: " + e.getOriginalMessage());
    }
    return parse(file, root, home);
  }

  static AgentbusConfig parse(Path file, JsonNode root, Path home) {
    Set<String> unknown = new TreeSet<>();
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String section = it.next();
      if (!KEYS.containsKey(section)) {
        unknown.add(section);
        continue;
      }
      JsonNode t = root.get(section);
      if (!t.isObject()) throw new IllegalArgumentException("config section [" + section + "] must be a table");
      for (Iterator<String> k = t.fieldNames(); k.hasNext(); ) {
        String key = k.next();
        if (!KEYS.get(section).contains(key)) unknown.add(key);
      }
    }
    if (!unknown.isEmpty()) throw new IllegalArgumentException("unknown config fields: " + String.join(", ", unknown));
    JsonNode agent = root.path("agent");
    JsonNode worker = root.path("worker");
    JsonNode nats = root.path("nats");
    JsonNode log = root.path("log");
    String agentId = text(agent, "id", null);
    String url = text(nats, "url", null);
    List<String> chat = chatCmd(agent.get("chat_cmd"));
    List<String> missing = new ArrayList<>();
    if (agentId == null || agentId.isEmpty()) missing.add("agent_id");
    if (url == null || url.isEmpty()) missing.add("nats_url");
    if (chat.isEmpty()) missing.add("agent_chat_cmd");
    if (!missing.isEmpty()) throw new IllegalArgumentException("missing required config fields: " + String.join(", ", missing));
    if (chat.stream().noneMatch(a -> a.contains("{input}"))) {
      throw new IllegalArgumentException("agent_chat_cmd must include the literal {input} placeholder");
    }
    String id = AgentbusTask.normalizeAgentId(agentId);
    String logDir = text(log, "dir", "~/.agentbus/logs");
    if (logDir.startsWith("~/")) logDir = home.resolve(logDir.substring(2)).toString();
    return new AgentbusConfig(file, agentId, chat, text(agent, "extra_instruction", ""),
        integer(worker, "task_timeout_seconds", 1800), integer(worker, "max_task_bytes", 1_048_576),
        integer(worker, "reconnect_time_wait_seconds", 2), integer(worker, "max_reconnect_attempts", -1),
        url, text(nats, "stream", "AGENT_TASKS"), text(nats, "durable", id), text(nats, "task_subject", "agent." + id + ".tasks"),
        text(nats, "default_result_subject", "agent.main.results"), logDir,
        integer(log, "max_bytes", 104_857_600), integer(log, "backup_count", 5));
  }

  private static List<String> chatCmd(JsonNode n) {
    if (n == null || n.isNull()) return List.of();
    if (n.isTextual()) return Shlex.split(n.asText());
    if (n.isArray()) {
      List<String> out = new ArrayList<>();
      for (JsonNode a : n) {
        if (!a.isTextual()) throw new IllegalArgumentException("agent_chat_cmd must be a string or list of strings");
        out.add(a.asText());
      }
      return out;
    }
    throw new IllegalArgumentException("agent_chat_cmd must be a string or list of strings");
  }

  private static String text(JsonNode section, String key, String dflt) {
    JsonNode v = section.get(key);
    if (v == null || v.isNull()) return dflt;
    if (!v.isValueNode()) throw new IllegalArgumentException(key + " must be a string");
    return v.asText();
  }

  /** Python's {@code int()} of the value: an integer, or a string of one. */
  private static int integer(JsonNode section, String key, int dflt) {
    JsonNode v = section.get(key);
    if (v == null || v.isNull()) return dflt;
    if (v.isIntegralNumber() && v.canConvertToInt()) return v.intValue();
    if (v.isTextual()) {
      try {
        return Integer.parseInt(v.asText().strip());
      } catch (NumberFormatException e) {
        // said below
      }
    }
    throw new IllegalArgumentException(key + " must be an integer; got: " + v);
  }
}
