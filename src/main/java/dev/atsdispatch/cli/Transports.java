package dev.atsdispatch.cli;

import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.CliAtsClient;
import dev.atsdispatch.ats.HttpAtsClient;
import java.time.Duration;
import java.util.Map;

/** Opens the configured {@link AtsClient} transport. */
final class Transports {
  private Transports() {}

  /** The transport the settings name, with their ATS connection, for admin commands. */
  static AtsClient open(Settings s) {
    return open(s.transport(), s.ats(), s.atsBin(), s.atsTimeout(), System.getenv());
  }

  /** A task as admin commands print it with {@code --json}. */
  static com.fasterxml.jackson.databind.node.ObjectNode json(dev.atsdispatch.ats.Task t) {
    var n = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    n.put("id", t.id());
    n.put("title", t.title());
    n.put("description", t.description());
    n.put("status", t.status().wire());
    n.put("priority", t.priority());
    n.put("type", t.type());
    n.put("channel", t.channel());
    n.set("payload", t.payload());
    n.put("created_at", t.createdAt() == null ? null : t.createdAt().toString());
    return n;
  }

  static AtsClient open(String transport, AtsSettings ats, String atsBin, Duration timeout,
      Map<String, String> env) {
    return switch (transport) {
      case "http" -> new HttpAtsClient(ats, timeout);
      case "cli" -> new CliAtsClient(ats, atsBin, timeout, env);
      default -> throw new IllegalArgumentException("unknown transport: " + transport);
    };
  }
}
