package dev.atsdispatch.cli;

import java.util.Locale;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Logging options every command takes; {@link #apply} configures logging for that command. */
public final class GlobalOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

  @Option(names = "--log-level", paramLabel = "LEVEL",
      description = "trace, debug, info, warn or error (default: info; env ATS_DISPATCH_LOG_LEVEL)")
  String logLevel;

  @Option(names = "--log-format", paramLabel = "FORMAT",
      description = "json or plain (default: plain when standard error is a terminal; json when it goes to journald or a pipe, "
          + "for long-running commands; env ATS_DISPATCH_LOG_FORMAT)")
  String logFormat;

  /**
   * Whether standard error (where the logs go) is a terminal: on Linux what {@code /proc/self/fd/2}
   * points at (a pty or a tty); elsewhere whether the JVM has a console.
   */
  static boolean stderrIsTerminal() {
    try {
      String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
    } catch (java.io.IOException | UnsupportedOperationException | SecurityException e) {
      return System.console() != null;
    }
  }

  /** Configures logging; a bad value is a usage error naming the option. */
  public void apply(LogSetup.Format defaultFormat) {
    String level = logLevel != null ? logLevel : System.getenv("ATS_DISPATCH_LOG_LEVEL");
    String format = logFormat != null ? logFormat : System.getenv("ATS_DISPATCH_LOG_FORMAT");
    LogSetup.Format f = defaultFormat;
    // a person at a terminal reads plain lines; journald and pipes get JSON
    if (f == LogSetup.Format.JSON && stderrIsTerminal()) f = LogSetup.Format.PLAIN;
    if (format != null && !format.isBlank()) {
      switch (format.trim().toLowerCase(Locale.ROOT)) {
        case "json" -> f = LogSetup.Format.JSON;
        case "plain" -> f = LogSetup.Format.PLAIN;
        default -> throw new ParameterException(spec.commandLine(),
            "--log-format must be json or plain; got: " + format);
      }
    }
    try {
      LogSetup.configure(f, LogSetup.level(level == null || level.isBlank() ? "info" : level));
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--log-level: " + e.getMessage());
    }
  }
}
