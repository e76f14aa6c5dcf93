package dev.atsdispatch.source.nats;

import java.util.ArrayList;
import java.util.List;

/**
 * Python's {@code shlex.split(s)} (POSIX mode, no comments), for agentbus's string-form
 * {@code chat_cmd}: words split on whitespace; single quotes keep everything; in double quotes a
 * backslash escapes only {@code "} and {@code \}; outside quotes it escapes any character.
 * Unbalanced quotes, or a trailing backslash, are refused as shlex refuses them. Stateless.
 */
final class Shlex {
  private Shlex() {}

  static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    boolean inWord = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\'') {
        int end = s.indexOf('\'', i + 1);
        if (end < 0) throw new IllegalArgumentException("agent_chat_cmd: No closing quotation");
        w.append(s, i + 1, end);
        i = end;
        inWord = true;
      } else if (c == '"') {
        int j = i + 1;
        for (; j < s.length() && s.charAt(j) != '"'; j++) {
          char d = s.charAt(j);
          if (d == '\\' && j + 1 < s.length() && (s.charAt(j + 1) == '"' || s.charAt(j + 1) == '\\')) {
            w.append(s.charAt(++j));
          } else {
            w.append(d);
          }
        }
        if (j >= s.length()) throw new IllegalArgumentException("agent_chat_cmd: No closing quotation");
        i = j;
        inWord = true;
      } else if (c == '\\') {
        if (i + 1 >= s.length()) throw new IllegalArgumentException("agent_chat_cmd: No escaped character");
        w.append(s.charAt(++i));
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          out.add(w.toString());
          w.setLength(0);
          inWord = false;
        }
      } else {
        w.append(c);
        inWord = true;
      }
    }
    if (inWord) out.add(w.toString());
    return out;
  }
}
