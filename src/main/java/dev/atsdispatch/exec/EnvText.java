package dev.atsdispatch.exec;

/**
 * Makes untrusted text fit for an environment variable: the OS cannot carry a NUL there (Java
 * refuses the whole process with an IllegalArgumentException), and one variable of more than
 * about 128 KiB makes {@code execve} fail with E2BIG. Control characters other than tab become
 * U+FFFD, unpaired surrogates too (they would reach the agent as '?'), and the text is cut at a
 * code point boundary with a trailing "…" past {@code maxChars}. (C1 controls and the Unicode line
 * and paragraph separators count as control characters.) The prompt keeps the whole text.
 */
public final class EnvText {
  /** How much of a task's title goes into {@code ATS_TASK_TITLE}. */
  public static final int TITLE_MAX = 4096;

  private EnvText() {}

  public static String clean(String s, int maxChars) {
    if (s == null) return "";
    int end = s.length();
    boolean cut = false;
    if (end > maxChars) {
      end = maxChars;
      if (Character.isHighSurrogate(s.charAt(end - 1))) end--;
      cut = true;
    }
    StringBuilder b = new StringBuilder(end + 1);
    for (int i = 0; i < end; i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(s.charAt(i + 1))) {
        b.append(c).append(s.charAt(++i));
      } else if (Character.isSurrogate(c) || (c < 0x20 && c != '\t') || (c >= 0x7f && c < 0xa0)
          || c == '\u2028' || c == '\u2029') {
        b.append('\uFFFD');
      } else {
        b.append(c);
      }
    }
    if (cut) b.append('\u2026');
    return b.toString();
  }
}
