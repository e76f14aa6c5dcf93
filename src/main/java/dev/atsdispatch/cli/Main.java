package dev.atsdispatch.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code ats-dispatch}: the Picocli root command and its subcommands. */
@Command(name = "ats-dispatch", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Runs an Agent Task Service channel's tasks through an agent command.",
    subcommands = {RunCommand.class, DevServerCommand.class, ConfigCommand.class, CreateCommand.class,
        DepsCommand.class, StatusCommand.class, LogsCommand.class,
        KeyCommands.Keygen.class, KeyCommands.AddKey.class, KeyCommands.RemoveKey.class,
        KeyCommands.ListKeys.class, KeyCommands.Pending.class, KeyCommands.Approve.class,
        KeyCommands.Reject.class, AgentbusCommands.class, BackendsCommand.class,
        QuestionCommands.List_.class, QuestionCommands.Answer.class,
        picocli.AutoComplete.GenerateCompletion.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
  }

  /** The command line with no admin notices (tests); {@link #main} sends them to Telegram. */
  public static CommandLine commandLine() {
    return commandLine(RegistrationNotices.Factory.NONE);
  }

  /** The command line; {@code approve} and {@code reject} tell the admin through {@code notices}. */
  public static CommandLine commandLine(RegistrationNotices.Factory notices) {
    CommandLine.IFactory fallback = CommandLine.defaultFactory();
    CommandLine.IFactory factory = new CommandLine.IFactory() {
      @Override
      public <K> K create(Class<K> cls) throws Exception {
        if (cls == KeyCommands.Approve.class) return cls.cast(new KeyCommands.Approve(notices));
        if (cls == KeyCommands.Reject.class) return cls.cast(new KeyCommands.Reject(notices));
        return fallback.create(cls);
      }
    };
    return new CommandLine(new Main(), factory).setCaseInsensitiveEnumValuesAllowed(true);
  }

  public static void main(String[] args) {
    System.exit(commandLine(RegistrationNotices.Factory.TELEGRAM).execute(args));
  }
}
