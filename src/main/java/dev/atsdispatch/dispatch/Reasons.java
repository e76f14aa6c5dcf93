package dev.atsdispatch.dispatch;

import java.time.Duration;

/** Texts for failure reasons: cleaned of characters no receiver takes, capped, durations for people. */
final class Reasons {
  private Reasons() {}

  /** The text with NUL and other control characters (but newline and tab) replaced by U+FFFD. */
  static String clean(String s) {
    if (s == null) return "";
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean bad = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f;
      if (bad && b == null) b = new StringBuilder(s.length()).append(s, 0, i);
      if (b != null) b.append(bad ? '\uFFFD' : c);
    }
    return b == null ? s : b.toString();
  }

  /** At most {@code max} characters: the end is kept, the start marked cut. */
  static String tail(String s, int max) {
    return s.length() <= max ? s : "..." + s.substring(s.length() - max);
  }

  static String cap(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max) + "...";
  }

  static String human(Duration d) {
    if (d == null) return "?";
    long s = d.toSeconds();
    if (s % 3600 == 0 && s > 0) return s / 3600 + "h";
    if (s % 60 == 0 && s > 0) return s / 60 + "m";
    return d.toMillis() % 1000 == 0 ? s + "s" : d.toMillis() + "ms";
  }
}
