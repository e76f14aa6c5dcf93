package dev.atsdispatch.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.CoreConstants;
import dev.atsdispatch.log.EscapedMessageConverter;
import ch.qos.logback.core.encoder.Encoder;
import java.util.Locale;
import net.logstash.logback.encoder.LogstashEncoder;
import org.slf4j.LoggerFactory;

/**
 * Configures Logback once per process, before a command does its work: JSON lines (logstash
 * encoder) for long-running commands, plain text for admin commands, always on stderr so stdout
 * stays free for command output.
 */
public final class LogSetup {
  public enum Format { JSON, PLAIN }

  private LogSetup() {}

  /** Parses a level name; throws IllegalArgumentException naming the accepted values. */
  public static Level level(String name) {
    String n = name.trim().toUpperCase(Locale.ROOT);
    return switch (n) {
      case "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF" -> Level.toLevel(n);
      default -> throw new IllegalArgumentException(
          "log level must be one of trace, debug, info, warn, error, off; got: " + name);
    };
  }

  public static void configure(Format format, Level level) {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    Encoder<ILoggingEvent> encoder;
    if (format == Format.JSON) {
      LogstashEncoder e = new LogstashEncoder();
      e.setContext(ctx);
      e.setIncludeContext(false);
      e.start();
      encoder = e;
    } else {
      @SuppressWarnings("unchecked")
      java.util.Map<String, String> rules = (java.util.Map<String, String>) ctx.getObject(CoreConstants.PATTERN_RULE_REGISTRY);
      if (rules == null) {
        rules = new java.util.HashMap<>();
        ctx.putObject(CoreConstants.PATTERN_RULE_REGISTRY, rules);
      }
      rules.put("escapedMsg", EscapedMessageConverter.class.getName());
      PatternLayoutEncoder e = new PatternLayoutEncoder();
      e.setContext(ctx);
      // control characters in a message (task text, say) are escaped: one event, one line
      e.setPattern("%d{HH:mm:ss.SSS} %-5level %logger{0}: %escapedMsg%n");
      e.start();
      encoder = e;
    }
    ConsoleAppender<ILoggingEvent> out = new ConsoleAppender<>();
    out.setContext(ctx);
    out.setName("stderr");
    out.setTarget("System.err");
    out.setEncoder(encoder);
    out.start();
    Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(level);
    root.addAppender(out);
    // Third-party libraries speak only when something is wrong unless debugging.
    Level libs = level.isGreaterOrEqual(Level.INFO) ? Level.WARN : level;
    ctx.getLogger("org.eclipse.jetty").setLevel(libs);
    ctx.getLogger("okhttp3").setLevel(libs);
    ctx.getLogger("org.java_websocket").setLevel(libs);
  }
}
