package dev.atsdispatch.cli;

import dev.atsdispatch.source.board.BoardSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One route of several ({@code [routes.<name>]} in the settings file): where its tasks come from
 * (an ATS {@code channel}, or a board {@code queue}), and how they run: its own agent command,
 * prompt template, timeout, {@code max_attempts} and {@code retries}, and its {@code priority}
 * (lower first when the shared cap is reached; ties by order in the file). What a route leaves out
 * comes from the service's own settings. A value; {@link #parse} names any bad field.
 */
public record RouteSettings(String name, int order, String source, String channel, BoardSettings board,
    List<String> agent, String prompt, Duration timeout, int priority, Integer maxAttempts, Integer retries,
    String natsAgent, String natsDurable, String natsSubject) {

  static final Set<String> FIELDS = Set.of("source", "channel", "queue", "file", "in_progress_queue", "done_queue",
      "dead_letter_queue", "max_retries", "poll_interval", "agent", "prompt", "timeout", "priority", "max_attempts",
      "retries", "agent_id", "durable", "subject");

  /** The routes of the flattened settings ({@code routes.<name>.<field>}), in file order. */
  static List<RouteSettings> parse(Map<String, String> flat, Path base, BoardSettings boardDefaults) {
    Map<String, Map<String, String>> byName = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : flat.entrySet()) {
      if (!e.getKey().startsWith("routes.")) continue;
      String rest = e.getKey().substring("routes.".length());
      int dot = rest.lastIndexOf('.');
      if (dot <= 0) throw new Settings.InvalidSetting(e.getKey(), "a route is a table: [routes.<name>] with its fields");
      String name = rest.substring(0, dot);
      String field = rest.substring(dot + 1);
      if (!FIELDS.contains(field)) {
        throw new Settings.InvalidSetting(e.getKey(), "unknown route field (one of " + new java.util.TreeSet<>(FIELDS) + ")");
      }
      byName.computeIfAbsent(name, k -> new LinkedHashMap<>()).put(field, e.getValue());
    }
    List<RouteSettings> out = new ArrayList<>();
    int order = 0;
    for (Map.Entry<String, Map<String, String>> r : byName.entrySet()) out.add(one(r.getKey(), order++, r.getValue(), base, boardDefaults));
    return out;
  }

  private static RouteSettings one(String name, int order, Map<String, String> f, Path base, BoardSettings defaults) {
    String key = "routes." + name;
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9_-]{0,63}")) {
      throw new Settings.InvalidSetting(key, "a route name is letters, digits, - and _ (it names a directory)");
    }
    String source = f.getOrDefault("source", f.containsKey("queue") ? "board" : f.containsKey("agent_id") ? "nats" : "ats");
    try {
      String channel = null;
      BoardSettings board = null;
      switch (source) {
        case "ats" -> {
          channel = f.get("channel");
          if (channel == null || channel.isBlank()) throw new IllegalArgumentException("channel is required with source = ats");
        }
        case "board" -> {
          String file = f.get("file");
          Path p = file != null ? base.resolve(file).toAbsolutePath().normalize() : defaults == null ? null : defaults.file();
          if (p == null) throw new IllegalArgumentException("file is required (or board.file) with source = board");
          BoardSettings d = defaults != null ? defaults : BoardSettings.of(p);
          board = new BoardSettings(p, f.getOrDefault("queue", d.queue()), f.getOrDefault("in_progress_queue", d.inProgressQueue()),
              f.getOrDefault("done_queue", d.doneQueue()), f.getOrDefault("dead_letter_queue", d.deadLetterQueue()),
              f.containsKey("max_retries") ? Integer.parseInt(f.get("max_retries").strip()) : d.maxRetries(),
              f.containsKey("poll_interval") ? Settings.duration(f.get("poll_interval")) : d.pollInterval());
          channel = board.queue();
        }
        case "nats" -> {
          String id = f.get("agent_id");
          if (id == null || id.isBlank()) throw new IllegalArgumentException("agent_id is required with source = nats");
          channel = f.getOrDefault("subject", "agent." + id.strip() + ".tasks");
        }
        default -> throw new IllegalArgumentException("source must be ats, board or nats");
      }
      List<String> agent = f.containsKey("agent") ? Settings.absoluteProgram(Settings.list(f.get("agent")), base) : null;
      Duration timeout = f.containsKey("timeout") ? Settings.duration(f.get("timeout")) : null;
      int priority = f.containsKey("priority") ? Integer.parseInt(f.get("priority").strip()) : 0;
      Integer maxAttempts = f.containsKey("max_attempts") ? Integer.valueOf(f.get("max_attempts").strip()) : null;
      Integer retries = f.containsKey("retries") ? Integer.valueOf(f.get("retries").strip()) : null;
      return new RouteSettings(name, order, source, channel, board, agent, f.get("prompt"), timeout, priority, maxAttempts,
          retries, f.get("agent_id"), f.get("durable"), f.get("subject"));
    } catch (IllegalArgumentException e) {
      throw new Settings.InvalidSetting(key, e.getMessage());
    }
  }

}
