package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.status.DispatchMetrics;
import dev.atsdispatch.status.MetricsText;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ats-dispatch status}: asks a running service's status port ({@code /healthz},
 * {@code /readyz}, {@code /metrics}) how it is doing and prints a short summary, or one JSON
 * document. The exit code says ready (0), answering but not ready (1), or nothing usable answered
 * (3); 2 is a usage or settings error.
 */
@Command(name = "status", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Print the running service's state, read from its status port.",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:ready (subscribed, ATS reachable)", "1:answering, but not ready",
        "2:invalid settings, or the status port is off and no --url given",
        "3:nothing answers at the status URL (service down?), or it is not an ats-dispatch status port"})
public final class StatusCommand implements Callable<Integer> {
  static final int READY = 0;
  static final int NOT_READY = 1;
  static final int USAGE = 2;
  static final int UNREACHABLE = 3;

  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;
  @Mixin GlobalOptions global;

  @Option(names = "--config", paramLabel = "FILE",
      description = "TOML settings file to read status.port/status.host from (default: ./ats-dispatch.toml if present)")
  Path config;

  @Option(names = "--url", paramLabel = "URL",
      description = "the status port's URL, e.g. http://127.0.0.1:7879 (default: from status.host and status.port)")
  String url;

  @Option(names = "--json", description = "print one JSON object: url, reachable, ready, then missing, detail, "
      + "subscribed, ats_reachable, pid, uptime_seconds, tasks {running, waiting, deferred}, finished {count by "
      + "outcome}, strikes, lease_renewals, lease_renewal_failures, outbox_depth, websocket_reconnects; "
      + "only error instead when nothing usable answered") boolean json;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5s",
      description = "how long to wait for each answer (default: ${DEFAULT-VALUE})")
  String timeout;

  @Override
  public Integer call() throws IOException {
    global.apply(LogSetup.Format.PLAIN);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Duration wait;
    try {
      wait = Settings.duration(timeout);
    } catch (IllegalArgumentException e) {
      err.println("ats-dispatch: --timeout: " + e.getMessage());
      return USAGE;
    }
    String base = url;
    if (base == null) {
      AtsOptions o = new AtsOptions();
      o.config = config;
      Settings s;
      try {
        s = o.load(Map.of());
      } catch (Settings.InvalidSetting e) {
        err.println("ats-dispatch: invalid setting " + e.getMessage());
        return USAGE;
      }
      if (s.statusPort().isEmpty()) {
        err.println("ats-dispatch: status.port is off: set it, or pass --url");
        return USAGE;
      }
      if (s.statusPort().getAsInt() == 0) {
        err.println("ats-dispatch: status.port is 0 (any free port): pass --url with the port the service logged");
        return USAGE;
      }
      base = s.statusUrl();
    }
    while (base.endsWith("/")) base = base.substring(0, base.length() - 1);
    if (okhttp3.HttpUrl.parse(base) == null) {
      err.println("ats-dispatch: --url: not an http(s) URL: " + base);
      return USAGE;
    }

    OkHttpClient http = new OkHttpClient.Builder().proxy(Proxy.NO_PROXY).connectTimeout(wait)
        .readTimeout(wait).callTimeout(wait.multipliedBy(2)).retryOnConnectionFailure(false).build();
    Report r;
    try {
      r = probe(http, base);
    } finally {
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
    if (json) {
      out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(r.toJson()));
    } else if (r.error != null) {
      err.println("ats-dispatch: no status answer at " + base + ": " + r.error);
    } else {
      r.print(out);
    }
    out.flush();
    err.flush();
    if (r.error != null) return UNREACHABLE;
    return r.ready ? READY : NOT_READY;
  }

  /** What the three endpoints said; {@code error} set when nothing usable answered. */
  static final class Report {
    final String url;
    String error;
    JsonNode health;
    JsonNode readiness;
    boolean ready;
    MetricsText metrics;

    Report(String url) {
      this.url = url;
    }

    long metric(String name, String... labels) {
      Double v = metrics == null ? null : metrics.value(name, labels);
      return v == null ? 0 : Math.round(v);
    }

    List<String> missing() {
      List<String> m = new ArrayList<>();
      readiness.path("missing").forEach(n -> m.add(n.asText()));
      return m;
    }

    Map<String, Long> finished() {
      Map<String, Long> f = new LinkedHashMap<>();
      for (String o : DispatchMetrics.OUTCOMES) f.put(o, metric(DispatchMetrics.TASKS_TOTAL, "outcome", o));
      return f;
    }

    void print(PrintWriter out) {
      String head = "ats-dispatch at " + url + ": ";
      if (ready) {
        head += "ready";
      } else {
        head += "NOT READY: " + String.join(", ", missing());
        String d = readiness.path("detail").asText("");
        if (!d.isEmpty()) head += " (" + d + ")";
      }
      out.println(head + " [pid " + health.path("pid").asText("?") + ", up "
          + uptime(health.path("uptime_seconds").asLong()) + "]");
      out.printf("tasks:    %d running, %d waiting, %d deferred%n", metric(DispatchMetrics.TASKS_RUNNING),
          metric(DispatchMetrics.TASKS_WAITING), metric(DispatchMetrics.TASKS_DEFERRED));
      StringBuilder f = new StringBuilder();
      finished().forEach((o, n) -> {
        if (n > 0 || o.equals("completed") || o.equals("failed")) {
          f.append(f.length() == 0 ? "" : ", ").append(n).append(' ').append(o);
        }
      });
      out.println("finished: " + f + "; " + metric(DispatchMetrics.STRIKES_TOTAL) + " strikes");
      out.printf("outbox:   %d undelivered; websocket reconnects: %d; lease renewals: %d ok, %d failed%n",
          metric(DispatchMetrics.OUTBOX_DEPTH), metric(DispatchMetrics.WEBSOCKET_RECONNECTS_TOTAL),
          metric(DispatchMetrics.LEASE_RENEWALS_TOTAL), metric(DispatchMetrics.LEASE_RENEWAL_FAILURES_TOTAL));
    }

    ObjectNode toJson() {
      ObjectNode n = JSON.createObjectNode();
      n.put("url", url);
      n.put("reachable", error == null);
      n.put("ready", error == null && ready);
      if (error != null) {
        n.put("error", error);
        return n;
      }
      n.putPOJO("missing", missing());
      if (readiness.hasNonNull("detail")) n.put("detail", readiness.path("detail").asText());
      n.put("subscribed", readiness.path("subscribed").asBoolean());
      n.put("ats_reachable", readiness.path("ats_reachable").asBoolean());
      n.put("pid", health.path("pid").asLong());
      n.put("uptime_seconds", health.path("uptime_seconds").asLong());
      ObjectNode t = n.putObject("tasks");
      t.put("running", metric(DispatchMetrics.TASKS_RUNNING));
      t.put("waiting", metric(DispatchMetrics.TASKS_WAITING));
      t.put("deferred", metric(DispatchMetrics.TASKS_DEFERRED));
      ObjectNode f = n.putObject("finished");
      finished().forEach(f::put);
      n.put("strikes", metric(DispatchMetrics.STRIKES_TOTAL));
      n.put("lease_renewals", metric(DispatchMetrics.LEASE_RENEWALS_TOTAL));
      n.put("lease_renewal_failures", metric(DispatchMetrics.LEASE_RENEWAL_FAILURES_TOTAL));
      n.put("outbox_depth", metric(DispatchMetrics.OUTBOX_DEPTH));
      n.put("websocket_reconnects", metric(DispatchMetrics.WEBSOCKET_RECONNECTS_TOTAL));
      return n;
    }
  }

  static Report probe(OkHttpClient http, String base) {
    Report r = new Report(base);
    try {
      Answer h = get(http, base + "/healthz");
      JsonNode health = h.status == 200 ? parseJson(h.body) : null;
      if (health == null || !health.path("status").asText().equals("ok")) {
        r.error = "not an ats-dispatch status port (GET /healthz answered " + h.status + ")";
        return r;
      }
      r.health = health;
      Answer ready = get(http, base + "/readyz");
      JsonNode rj = ready.status == 200 || ready.status == 503 ? parseJson(ready.body) : null;
      if (rj == null) {
        r.error = "GET /readyz answered " + ready.status;
        return r;
      }
      r.readiness = rj;
      r.ready = ready.status == 200;
      Answer m = get(http, base + "/metrics");
      if (m.status != 200) {
        r.error = "GET /metrics answered " + m.status;
        return r;
      }
      r.metrics = MetricsText.parse(m.body);
    } catch (IOException e) {
      r.error = describe(e);
    } catch (IllegalArgumentException e) {
      r.error = "GET /metrics: " + e.getMessage();
    }
    return r;
  }

  private record Answer(int status, String body) {}

  private static Answer get(OkHttpClient http, String url) throws IOException {
    try (Response resp = http.newCall(new Request.Builder().url(url).build()).execute()) {
      return new Answer(resp.code(), resp.body() == null ? "" : resp.body().string());
    }
  }

  private static JsonNode parseJson(String s) {
    try {
      JsonNode n = JSON.readTree(s);
      return n != null && n.isObject() ? n : null;
    } catch (IOException e) {
      return null;
    }
  }

  private static String describe(IOException e) {
    String m = e.getMessage();
    if (e instanceof java.net.ConnectException) {
      return "connection refused (is ats-dispatch run going, with status.port set?)";
    }
    if (e instanceof java.net.SocketTimeoutException || (m != null && m.contains("timeout"))) {
      return "no answer in time";
    }
    return m == null ? e.getClass().getSimpleName() : m;
  }

  static String uptime(long seconds) {
    long h = seconds / 3600;
    long m = seconds % 3600 / 60;
    long s = seconds % 60;
    if (h > 0) return h + "h" + String.format("%02dm", m);
    if (m > 0) return m + "m" + String.format("%02ds", s);
    return s + "s";
  }
}
