package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The agent's prompt in the JavaScript layout (reference-behaviour.md §1.9): an opening line, then
 * {@code <task-title>}, {@code <task-description>} and {@code <task-context>} sections separated
 * by blank lines, each only when non-empty; the context is the payload without internal fields,
 * as 2-space-indented JSON.
 *
 * <p>Task text cannot forge a section: in every section's content, a {@code <} (or a look-alike)
 * that opens something shaped like one of the section tags ({@code <task…}, {@code </task…}, with
 * any spacing, invisible characters or case) is written {@code &lt;}, so the only tag lines in a
 * prompt are the service's.
 */
public final class Prompts {
  public static final List<String> INTERNAL_FIELDS = List.of("callback_url", "quiet", "encrypted",
      "sender", "ciphertext", "nonce", "pubkey", "from", "depends_on");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Prompts() {}

  private static final java.util.regex.Pattern PLACEHOLDER =
      java.util.regex.Pattern.compile("\\{(id|title|description|payload|source|attempt)\\}");

  /**
   * A route's prompt template with the task's fields: {@code {id}}, {@code {title}},
   * {@code {description}}, {@code {payload}} (JSON, the service's internal fields left out),
   * {@code {source}} and {@code {attempt}}; other braces stay. One pass: a field's text is never
   * read for placeholders itself.
   */
  public static String render(String template, String id, String title, String description, JsonNode payload,
      String source, int attempt) {
    String json = "{}";
    if (payload != null && payload.isObject()) {
      ObjectNode p = ((ObjectNode) payload).deepCopy();
      p.remove(INTERNAL_FIELDS);
      json = p.toString();
    }
    java.util.regex.Matcher m = PLACEHOLDER.matcher(template);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String v = switch (m.group(1)) {
        case "id" -> id;
        case "title" -> title == null ? "" : title;
        case "description" -> description == null ? "" : description;
        case "payload" -> json;
        case "source" -> source;
        default -> Integer.toString(attempt);
      };
      m.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(v));
    }
    m.appendTail(out);
    return out.toString();
  }

  public static String build(String intro, String title, String description, JsonNode payload) {
    String context = null;
    if (payload != null && payload.isObject()) {
      ObjectNode ctx = ((ObjectNode) payload).deepCopy();
      ctx.remove(INTERNAL_FIELDS);
      if (!ctx.isEmpty()) context = stringify(ctx);
    }
    // sized up front: a huge description is copied once, not again each time the builder grows
    long size = (long) intro.length() + sectionLength("task-title", title)
        + sectionLength("task-description", description) + sectionLength("task-context", context);
    StringBuilder b = new StringBuilder((int) Math.min(size, Integer.MAX_VALUE - 16));
    b.append(intro);
    if (title != null && !title.isEmpty()) section(b, "task-title", title);
    if (description != null && !description.isEmpty()) section(b, "task-description", description);
    if (context != null) section(b, "task-context", context);
    return b.toString();
  }

  private static long sectionLength(String tag, String content) {
    return content == null || content.isEmpty() ? 0 : content.length() + 2 * tag.length() + 10;
  }

  /** {@code JSON.stringify(value, null, 2)}, byte for byte. */
  public static String stringify(JsonNode value) {
    StringBuilder b = new StringBuilder();
    write(b, value, "");
    return b.toString();
  }

  private static void write(StringBuilder b, JsonNode v, String indent) {
    if (v.isObject()) {
      if (v.isEmpty()) {
        b.append("{}");
        return;
      }
      String inner = indent + "  ";
      b.append("{\n");
      var it = v.fields();
      while (it.hasNext()) {
        var e = it.next();
        b.append(inner).append(quote(e.getKey())).append(": ");
        write(b, e.getValue(), inner);
        b.append(it.hasNext() ? ",\n" : "\n");
      }
      b.append(indent).append('}');
    } else if (v.isArray()) {
      if (v.isEmpty()) {
        b.append("[]");
        return;
      }
      String inner = indent + "  ";
      b.append("[\n");
      for (int i = 0; i < v.size(); i++) {
        b.append(inner);
        write(b, v.get(i), inner);
        b.append(i + 1 < v.size() ? ",\n" : "\n");
      }
      b.append(indent).append(']');
    } else {
      b.append(v.toString());
    }
  }

  private static String quote(String s) {
    try {
      return MAPPER.writeValueAsString(s);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void section(StringBuilder b, String tag, String content) {
    b.append("\n\n<").append(tag).append(">\n");
    appendEscaped(b, content);
    b.append("\n</").append(tag).append('>');
  }

  /** Appends {@code s}, each {@code <} that opens a section-like tag written {@code &lt;}. */
  static void appendEscaped(StringBuilder b, String s) {
    int from = 0;
    for (int i = nextOpen(s, 0); i >= 0; i = nextOpen(s, i + 1)) {
      if (!opensTag(s, i + 1)) continue;
      b.append(s, from, i).append("&lt;");
      from = i + 1;
    }
    b.append(s, from, s.length());
  }

  /** The next {@code <} or a look-alike of it (U+2039, U+FE64, U+FF1C, U+3008) from {@code from}, or -1. */
  private static int nextOpen(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '<' || c == '\u2039' || c == '\uFE64' || c == '\uFF1C' || c == '\u3008') return i;
    }
    return -1;
  }

  /**
   * Whether {@code s} from {@code i} reads (blanks) [/] (blanks) "task" (blanks) and a dash (or a
   * look-alike, or an underscore), any case, where blanks
   * are any white space, no-break spaces and invisible format characters (zero-width spaces and
   * joiners, BOM, bidi marks): anything a reader would not see between the two.
   */
  private static boolean opensTag(String s, int i) {
    int n = s.length();
    i = skipBlanks(s, i);
    if (i < n && (s.charAt(i) == '/' || s.charAt(i) == '\u2215' || s.charAt(i) == '\uFF0F')) i++;
    i = skipBlanks(s, i);
    if (!s.regionMatches(true, i, "task", 0, 4)) return false;
    i = skipBlanks(s, i + 4);
    return i < s.length() && "-\u2010\u2011\u2012\u2013\u2014\u2212\uFE63\uFF0D_".indexOf(s.charAt(i)) >= 0;
  }

  private static int skipBlanks(String s, int i) {
    while (i < s.length()) {
      char c = s.charAt(i);
      if (!Character.isWhitespace(c) && !Character.isSpaceChar(c) && Character.getType(c) != Character.FORMAT) break;
      i++;
    }
    return i;
  }
}
