package dev.atsdispatch.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.LayoutBase;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * Logback's configuration until a command sets its own ({@code cli.LogSetup}): warnings and
 * errors as plain lines on stderr. Found through {@code META-INF/services} before Logback looks
 * for a {@code logback.xml}, so Joran and the JDK's XML parser are never loaded, nor (a layout of
 * its own) the pattern parser: about 400 classes the service never needed. Runs once, on whichever thread logs first.
 */
public final class BootstrapConfigurator extends ContextAwareBase implements Configurator {
  @Override
  public ExecutionStatus configure(LoggerContext ctx) {
    Plain layout = new Plain();
    layout.setContext(ctx);
    layout.start();
    LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
    encoder.setContext(ctx);
    encoder.setLayout(layout);
    encoder.start();
    ConsoleAppender<ILoggingEvent> out = new ConsoleAppender<>();
    out.setContext(ctx);
    out.setName("STDERR");
    out.setTarget("System.err");
    out.setEncoder(encoder);
    out.start();
    Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.WARN);
    root.addAppender(out);
    ctx.getLogger("org.eclipse.jetty").setLevel(Level.WARN);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /** {@code LEVEL Logger: message} (the logger's simple name, the message escaped), then any stack trace. */
  static final class Plain extends LayoutBase<ILoggingEvent> {
    @Override
    public String doLayout(ILoggingEvent e) {
      String name = e.getLoggerName();
      String msg = EscapedMessageConverter.escape(e.getFormattedMessage());
      String line = e.getLevel() + " " + name.substring(name.lastIndexOf('.') + 1) + ": " + msg + "\n";
      return e.getThrowableProxy() == null ? line
          : line + ch.qos.logback.classic.spi.ThrowableProxyUtil.asString(e.getThrowableProxy()) + "\n";
    }
  }
}
