package dev.atsdispatch.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Mixin;

/** Every settings flag, for {@code run} and {@code config show}: what reaches ATS and what only the service reads. */
public final class SettingsOptions {
  @Mixin AtsOptions ats = new AtsOptions();
  @Mixin ServiceOptions service = new ServiceOptions();

  /** Settings a command sets for its user (by key), as flags: after the options above. */
  final Map<String, String> more = new LinkedHashMap<>();

  /** The settings, or null after printing the one line that names the bad key. */
  Settings loadOrExplain() {
    return ats.loadOrExplain(flags());
  }

  Settings load() {
    return ats.load(flags());
  }

  private Map<String, String> flags() {
    Map<String, String> m = service.flags();
    m.putAll(more);
    return m;
  }
}
