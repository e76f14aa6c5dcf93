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

  static AtsClient open(String transport, AtsSettings ats, String atsBin, Duration timeout,
      Map<String, String> env) {
    return switch (transport) {
      case "http" -> new HttpAtsClient(ats, timeout);
      case "cli" -> new CliAtsClient(ats, atsBin, timeout, env);
      default -> throw new IllegalArgumentException("unknown transport: " + transport);
    };
  }
}
