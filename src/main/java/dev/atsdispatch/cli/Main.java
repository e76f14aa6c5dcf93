package dev.atsdispatch.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code ats-dispatch}: the Picocli root command and its subcommands. */
@Command(name = "ats-dispatch", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Runs an Agent Task Service channel's tasks through an agent command.",
    subcommands = {RunCommand.class, DevServerCommand.class, ConfigCommand.class, CreateCommand.class,
        DepsCommand.class, StatusCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
  }

  public static CommandLine commandLine() {
    return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }
}
