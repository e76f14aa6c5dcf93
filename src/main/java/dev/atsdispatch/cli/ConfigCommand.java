package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.crypto.JsJson;
import dev.atsdispatch.crypto.Keyring;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code ats-dispatch config}: the policy in {@code keys_dir/config.json} (the JavaScript
 * version's {@code config [key [value]]}, documented keys only), and {@code config show}: the
 * effective service settings, where each came from, secrets masked.
 */
@Command(name = "config", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Show or change the policy in keys_dir/config.json:",
        "  config              print it, merged over the defaults, as JSON",
        "  config KEY          print one value",
        "  config KEY VALUE    set it (true/false for switches)",
        "  config --unset KEY  remove it (its default applies again)",
        "Keys: require_encryption (default false), max_pending_registrations (default 100),",
        "  max_registrations_per_hour (default 10).",
        "'config show' prints the service settings instead."},
    subcommands = ConfigCommand.Show.class)
public final class ConfigCommand extends KeyCommands.Base {
  @Parameters(arity = "0..2", paramLabel = "KEY [VALUE]") List<String> args;

  @Option(names = "--unset", paramLabel = "KEY", description = "remove KEY from config.json") String unset;

  @Override
  int run(Settings s, Keyring keyring) {
    List<String> a = args == null ? List.of() : args;
    try {
      if (unset != null) {
        if (!a.isEmpty()) throw new ParameterException(spec.commandLine(), "--unset takes no other arguments");
        boolean was = keyring.unsetConfig(unset);
        out().println((was ? "Unset " : "Not set: ") + unset + " (default: "
            + JsJson.inline(Keyring.configKey(unset).defaultValue()) + ")");
        return 0;
      }
      if (a.isEmpty()) {
        out().print(JsJson.file(keyring.config()));
        out().flush();
        return 0;
      }
      if (a.size() == 1) {
        out().println(JsJson.inline(keyring.configValue(a.get(0))));
        return 0;
      }
      JsonNode v = keyring.setConfig(a.get(0), a.get(1));
      out().println("Set " + a.get(0) + " = " + JsJson.inline(v));
      return 0;
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  /** Prints every key with its effective value and source. */
  @Command(name = "show", mixinStandardHelpOptions = true,
      description = "Print the effective configuration (flags > env > file > defaults), secrets masked.")
  public static final class Show implements Callable<Integer> {
    @Mixin GlobalOptions global;
    @Mixin SettingsOptions options;

    @Option(names = "--json", description = "print one JSON object: settings {KEY: {value, source, env}}, "
        + "agent {program, found}, ats {url, tasks_path, actor_type, actor_id, actor_name}") boolean json;

    @Override
    public Integer call() throws Exception {
      global.apply(LogSetup.Format.PLAIN);
      Settings s = options.loadOrExplain();
      if (s == null) return 2;
      AtsSettings a = s.ats();
      if (json) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ObjectNode keys = root.putObject("settings");
        for (Settings.Key k : Settings.KEYS) {
          ObjectNode n = keys.putObject(k.name());
          n.put("value", k.secret() ? mask(s.values().get(k.name())) : s.values().get(k.name()));
          n.put("source", s.sources().get(k.name()));
          n.put("env", k.env());
        }
        Settings.AgentProgram prog = s.agentProgram(System.getenv());
        ObjectNode agent = root.putObject("agent");
        if (prog.path() == null) agent.putNull("program"); else agent.put("program", prog.path().toString());
        agent.put("found", prog.how());
        ObjectNode atsNode = root.putObject("ats");
        atsNode.put("url", a.url());
        atsNode.put("tasks_path", a.tasksPath());
        atsNode.put("actor_type", a.actorType());
        atsNode.put("actor_id", a.actorId());
        atsNode.put("actor_name", a.actorName());
        System.out.println(m.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        return 0;
      }
      for (Settings.Key k : Settings.KEYS) {
        String v = s.values().get(k.name());
        System.out.printf("%-26s = %-32s # %s%n", k.name(), k.secret() ? mask(v) : v,
            s.sources().get(k.name()));
      }
      Settings.AgentProgram prog = s.agentProgram(System.getenv());
      System.out.printf("%-26s = %-32s # %s%n", "agent.program",
          prog.path() == null ? "not found" : prog.path(), prog.how());
      System.out.printf("%-26s = %s%n", "ats.url", a.url());
      System.out.printf("%-26s = %s%n", "ats.tasks_path", a.tasksPath());
      System.out.printf("%-26s = %s / %s / %s%n", "ats.actor", a.actorType(), a.actorId(), a.actorName());
      return 0;
    }
  }

  static String mask(String v) {
    return Settings.mask(v);
  }
}
