package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsSettings;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ats-dispatch config show}: the effective settings, where each came from, secrets masked. */
@Command(name = "config", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Show the service's configuration.", subcommands = ConfigCommand.Show.class)
public final class ConfigCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (show)");
  }

  /** Prints every key with its effective value and source. */
  @Command(name = "show", mixinStandardHelpOptions = true,
      description = "Print the effective configuration (flags > env > file > defaults), secrets masked.")
  public static final class Show implements Callable<Integer> {
    @Mixin GlobalOptions global;
    @Mixin SettingsOptions options;

    @Option(names = "--json", description = "one JSON document") boolean json;

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
