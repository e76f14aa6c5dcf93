package dev.atsdispatch.log;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/**
 * {@code %msg} for plain-text logs with control characters escaped ({@code \n}, {@code \r},
 * {@code \t}, {@code \0}, else {@code \}{@code uXXXX}), so text from a task can never start a log
 * line of its own or hide in one. JSON logs need none of this: the encoder escapes them.
 */
public final class EscapedMessageConverter extends ClassicConverter {
  @Override
  public String convert(ILoggingEvent event) {
    return escape(event.getFormattedMessage());
  }

  public static String escape(String s) {
    if (s == null) return "";
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean control = c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029';
      if (!control) {
        if (b != null) b.append(c);
        continue;
      }
      if (b == null) b = new StringBuilder(s.length() + 16).append(s, 0, i);
      switch (c) {
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case 0 -> b.append("\\0");
        default -> b.append(String.format("\\u%04x", (int) c));
      }
    }
    return b == null ? s : b.toString();
  }
}
