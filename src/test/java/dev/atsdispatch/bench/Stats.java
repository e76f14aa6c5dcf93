package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;

/** Nearest-rank percentiles of a set of durations in nanoseconds; a value, built once. */
record Stats(int n, long p50, long p99, long max) {
  static Stats of(long[] nanos) {
    if (nanos.length == 0) throw new IllegalArgumentException("no samples");
    long[] s = nanos.clone();
    Arrays.sort(s);
    return new Stats(s.length, pct(s, 50), pct(s, 99), s[s.length - 1]);
  }

  static long pct(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, Math.max(0, (int) Math.ceil(p / 100.0 * sorted.length) - 1))];
  }

  static double ms(long nanos) {
    return Math.round(nanos / 1e3) / 1e3;
  }

  ObjectNode json() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("n", n);
    o.put("p50_ms", ms(p50));
    o.put("p99_ms", ms(p99));
    o.put("max_ms", ms(max));
    return o;
  }
}
