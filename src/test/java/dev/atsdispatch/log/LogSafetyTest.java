package dev.atsdispatch.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class LogSafetyTest {
  @Test
  void controlCharactersAreEscapedSoAMessageIsOneLine() {
    assertEquals("x\\0\\n12:00:00.000 INFO  Engine: forged\\r\\t\\u001b[31m\\u0085",
        EscapedMessageConverter.escape("x\u0000\n12:00:00.000 INFO  Engine: forged\r\t\u001b[31m\u0085"));
    assertEquals("plain text, unicode \u00e9\u4e2d", EscapedMessageConverter.escape("plain text, unicode \u00e9\u4e2d"));
  }

  @Test
  void thePlainPatternWritesAForgedLineAsPartOfItsOwn() {
    LoggerContext ctx = new LoggerContext();
    ctx.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
    ctx.start();
    Map<String, String> rules = new HashMap<>();
    rules.put("escapedMsg", EscapedMessageConverter.class.getName());
    ctx.putObject(CoreConstants.PATTERN_RULE_REGISTRY, rules);
    PatternLayoutEncoder e = new PatternLayoutEncoder();
    e.setContext(ctx);
    e.setPattern("%level: %escapedMsg%n");
    e.start();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    OutputStreamAppender<ILoggingEvent> a = new OutputStreamAppender<>();
    a.setContext(ctx);
    a.setEncoder(e);
    a.setOutputStream(bytes);
    a.start();
    ctx.getLogger("t").addAppender(a);
    ctx.getLogger("t").info("task title: {}", "x\u0000\nERROR: forged");
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals("INFO: task title: x\\0\\nERROR: forged" + System.lineSeparator(), out);
  }

  @Test
  void aScrubbedExceptionKeepsClassesAndFramesButNoMessage() {
    Exception x = new IllegalStateException("outer SECRET", new IllegalArgumentException("Invalid value: \"SECRET\""));
    Throwable s = Scrubbed.of(x);
    StringWriter w = new StringWriter();
    s.printStackTrace(new PrintWriter(w));
    String text = w.toString();
    assertFalse(text.contains("SECRET"), text);
    assertTrue(text.contains("java.lang.IllegalStateException"), text);
    assertTrue(text.contains("java.lang.IllegalArgumentException"), text);
    assertTrue(text.contains("LogSafetyTest.aScrubbedExceptionKeepsClassesAndFramesButNoMessage"), text);
    assertEquals("IllegalStateException", Scrubbed.name(x));
  }
}
