package dev.atsdispatch.status;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The samples of a Prometheus text-format document (format 0.0.4), as {@code ats-dispatch status}
 * reads them back from {@code /metrics}. Comments and blank lines are skipped; a line that does
 * not parse is an {@link IllegalArgumentException} naming it. Immutable.
 */
public final class MetricsText {
  /** One sample: metric name, labels in their order, value. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;

  private MetricsText(List<Sample> samples) {
    this.samples = List.copyOf(samples);
  }

  public List<Sample> samples() {
    return samples;
  }

  /**
   * The value of the sample named {@code name} whose labels include the given name/value pairs,
   * or null when there is none.
   */
  public Double value(String name, String... labelPairs) {
    outer:
    for (Sample s : samples) {
      if (!s.name().equals(name)) continue;
      for (int i = 0; i + 1 < labelPairs.length; i += 2) {
        if (!Objects.equals(s.labels().get(labelPairs[i]), labelPairs[i + 1])) continue outer;
      }
      return s.value();
    }
    return null;
  }

  public static MetricsText parse(String text) {
    List<Sample> out = new ArrayList<>();
    int lineNo = 0;
    for (String line : text.split("\n", -1)) {
      lineNo++;
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) continue;
      try {
        out.add(sample(l));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("metrics line " + lineNo + " does not parse ("
            + e.getMessage() + "): " + l);
      }
    }
    return new MetricsText(out);
  }

  private static Sample sample(String l) {
    int i = 0;
    while (i < l.length() && l.charAt(i) != '{' && l.charAt(i) != ' ' && l.charAt(i) != '\t') i++;
    String name = l.substring(0, i);
    if (name.isEmpty()) throw new IllegalArgumentException("no metric name");
    Map<String, String> labels = new LinkedHashMap<>();
    if (i < l.length() && l.charAt(i) == '{') {
      i++;
      while (true) {
        while (l.charAt(i) == ' ' || l.charAt(i) == ',') i++;
        if (l.charAt(i) == '}') {
          i++;
          break;
        }
        int eq = l.indexOf('=', i);
        String key = l.substring(i, eq).strip();
        i = eq + 1;
        if (l.charAt(i) != '"') throw new IllegalArgumentException("label value not quoted");
        i++;
        StringBuilder v = new StringBuilder();
        while (l.charAt(i) != '"') {
          char c = l.charAt(i++);
          if (c == '\\') {
            char e = l.charAt(i++);
            v.append(e == 'n' ? '\n' : e);
          } else {
            v.append(c);
          }
        }
        i++;
        labels.put(key, v.toString());
      }
    }
    String[] rest = l.substring(i).strip().split("\\s+");
    return new Sample(name, labels, number(rest[0]));
  }

  private static double number(String v) {
    return switch (v) {
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> Double.parseDouble(v);
    };
  }
}
