package dev.atsdispatch.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** Before a command configures logging, warnings and errors go to stderr as plain, escaped lines. */
final class BootstrapConfiguratorTest {
  @Test
  void logbackFindsItThroughTheServiceFile() {
    assertTrue(ServiceLoader.load(ch.qos.logback.classic.spi.Configurator.class).stream()
        .anyMatch(p -> p.type() == BootstrapConfigurator.class));
  }

  @Test
  void warningsAreOneEscapedLineOnStderrAndInfoIsQuiet() {
    PrintStream err = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    LoggerContext ctx = new LoggerContext();
    ctx.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
    try {
      System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
      BootstrapConfigurator c = new BootstrapConfigurator();
      c.setContext(ctx);
      c.configure(ctx);
      org.slf4j.Logger log = ctx.getLogger("dev.atsdispatch.x.Thing");
      log.info("not shown");
      log.warn("two\nlines");
      log.error("failed", new IllegalStateException("boom"));
    } finally {
      System.setErr(err);
      ctx.stop();
    }
    String out = buf.toString(StandardCharsets.UTF_8);
    String[] lines = out.split("\n");
    assertEquals("WARN Thing: two\\nlines", lines[0]);
    assertEquals("ERROR Thing: failed", lines[1]);
    assertTrue(lines[2].startsWith("java.lang.IllegalStateException: boom"), out);
    assertTrue(!out.contains("not shown"), out);
  }
}
