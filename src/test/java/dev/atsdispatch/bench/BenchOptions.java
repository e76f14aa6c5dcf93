package dev.atsdispatch.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The harness's command line, parsed once; {@code --quick} changes the defaults, not explicit flags. */
record BenchOptions(
    List<String> transports,
    int warmup,
    int warmupBurst,
    int latencyTasks,
    int throughputTasks,
    int concurrency,
    int chain,
    Duration idleSettle,
    Duration stall,
    String external,
    Path compare,
    Path out,
    Path jar,
    List<String> jvmOpts,
    List<String> serverJvmOpts,
    Duration timeout,
    boolean quick,
    boolean keep,
    String sandbox,
    int soakTasks,
    int pendingTasks,
    java.util.Map<String, String> serviceEnv) {

  static final String USAGE = """
      usage: bench/run [options]
        --transport cli|http|nats|both|all
                                    transports of our service to measure: the ats CLI, ATS over
                                    http, or the NATS source (agentbus tasks on a nats-server), or
                                    a comma-separated list such as http,nats; both = cli,http;
                                    all (default) = the three, nats only where nats-server is installed
        --tasks-latency N           pickup latency: tasks created one at a time (default 500)
        --tasks-throughput N        throughput: tasks created at once (default 2000)
        --concurrency N             service concurrency (default 8)
        --chain N                   dependency chain length (default 100)
        --warmup N                  tasks run one at a time before measuring, not counted (default 20)
        --warmup-burst N            tasks created at once and run through before those, not counted,
                                    so both JVMs' compilers have settled (default: --tasks-throughput;
                                    0 with --external or --quick)
        --external "<command>"      measure this executor (bash -c) instead of ours; it gets ATS_URL,
                                    ATS_CHANNEL, BENCH_AGENT, BENCH_CONCURRENCY, BENCH_WORKDIR
        --compare FILE              with --external: a JSON result of ours, to print ratios
        --out FILE                  JSON result (default bench/results/<timestamp>.json)
        --jar FILE                  run target/ats-dispatch.jar (default: this JVM's classpath)
        --jvm-opts "<opts>"         JVM options of the service (default: JAVA_OPTS of the systemd unit,
                                    deploy/systemd/ats-dispatch.service, so the bench measures what is
                                    deployed; "" for the JVM's own defaults; the unit's
                                    MALLOC_ARENA_MAX is given to the service too)
        --server-jvm-opts "<opts>"  JVM options of the dev server (default: none)
        --timeout DURATION          overall limit, e.g. 45m (default 150m; --quick 5m)
        --quick                     small counts for a smoke run
        --keep                      keep the temporary directories (logs, databases)
        --sandbox auto|bwrap|none   the service's agent.sandbox (default auto, as in production)
        --soak N                    memory: N more tasks through in rounds of --tasks-throughput,
                                    the service's RSS after each round (default 0: off; 20000)
        --pending N                 memory: the service's RSS with N tasks waiting in the channel while
                                    its slots are held (default 0: off; 10000)
      """;

  static BenchOptions parse(String... args) {
    List<String> a = Arrays.asList(args);
    boolean quick = a.contains("--quick");
    List<String> transports = withNats(List.of("cli", "http"));
    int warmup = quick ? 2 : 20;
    Integer warmupBurst = null;
    int latency = quick ? 10 : 500;
    int throughput = quick ? 40 : 2000;
    int concurrency = 8;
    int chain = quick ? 5 : 100;
    String external = null;
    Path compare = null;
    Path out = null;
    Path jar = null;
    List<String> jvmOpts = unitJavaOpts(Path.of("deploy", "systemd", "ats-dispatch.service"));
    List<String> serverJvmOpts = List.of();
    Duration timeout = Duration.ofMinutes(quick ? 5 : 150);
    boolean keep = false;
    String sandbox = "auto";
    int soak = 0;
    int pending = 0;
    for (int i = 0; i < args.length; i++) {
      String o = args[i];
      switch (o) {
        case "--quick" -> { }
        case "--keep" -> keep = true;
        case "--sandbox" -> {
          sandbox = value(args, ++i, o);
          if (!List.of("auto", "bwrap", "none").contains(sandbox)) throw new IllegalArgumentException("--sandbox must be auto, bwrap or none");
        }
        case "--transport" -> transports = transports(value(args, ++i, o));
        case "--soak" -> soak = positive(args, ++i, o);
        case "--pending" -> pending = positive(args, ++i, o);
        case "--tasks-latency" -> latency = positive(args, ++i, o);
        case "--tasks-throughput" -> throughput = positive(args, ++i, o);
        case "--concurrency" -> concurrency = positive(args, ++i, o);
        case "--chain" -> chain = positive(args, ++i, o);
        case "--warmup" -> warmup = Integer.parseInt(value(args, ++i, o));
        case "--warmup-burst" -> warmupBurst = Integer.parseInt(value(args, ++i, o));
        case "--external" -> external = value(args, ++i, o);
        case "--compare" -> compare = Path.of(value(args, ++i, o));
        case "--out" -> out = Path.of(value(args, ++i, o));
        case "--jar" -> jar = Path.of(value(args, ++i, o));
        case "--jvm-opts" -> jvmOpts = words(value(args, ++i, o));
        case "--server-jvm-opts" -> serverJvmOpts = words(value(args, ++i, o));
        case "--timeout" -> timeout = dev.atsdispatch.cli.Settings.duration(value(args, ++i, o));
        default -> throw new IllegalArgumentException("unknown option: " + o);
      }
    }
    if (chain < 2) throw new IllegalArgumentException("--chain must be at least 2");
    if (compare != null && external == null) throw new IllegalArgumentException("--compare needs --external");
    if (out == null) {
      out = Path.of("bench", "results",
          LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".json");
    }
    if (warmupBurst == null) warmupBurst = quick || external != null ? 0 : throughput;
    if (warmup < 0 || warmupBurst < 0) throw new IllegalArgumentException("--warmup and --warmup-burst must not be negative");
    return new BenchOptions(transports, warmup, warmupBurst, latency, throughput, concurrency, chain,
        Duration.ofMillis(quick ? 500 : 3000), Duration.ofSeconds(quick ? 30 : 120), external, compare,
        out, jar, jvmOpts, serverJvmOpts, timeout, quick, keep, sandbox, soak, pending,
        unitEnv(Path.of("deploy", "systemd", "ats-dispatch.service"), "MALLOC_ARENA_MAX"));
  }

  private static List<String> transports(String v) {
    switch (v) {
      case "both":
        return List.of("cli", "http");
      case "all":
        return withNats(List.of("cli", "http"));
      default:
        List<String> out = new ArrayList<>();
        for (String t : v.split(",", -1)) {
          if (!List.of("cli", "http", "nats").contains(t)) {
            throw new IllegalArgumentException("--transport must be cli, http, nats, a comma-separated list of them, both or all");
          }
          if (!out.contains(t)) out.add(t);
        }
        return List.copyOf(out);
    }
  }

  /** {@code base} and nats when a nats-server is installed (the default set of transports). */
  private static List<String> withNats(List<String> base) {
    if (!java.nio.file.Files.isExecutable(Path.of(dev.atsdispatch.testing.NatsServer.binary()))) return base;
    List<String> all = new ArrayList<>(base);
    all.add("nats");
    return List.copyOf(all);
  }

  /** The unit's {@code Environment=NAME=value} lines for {@code names} (what the service runs with besides JAVA_OPTS). */
  static java.util.Map<String, String> unitEnv(Path unit, String... names) {
    java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
    if (!java.nio.file.Files.isRegularFile(unit)) return out;
    try {
      for (String line : java.nio.file.Files.readAllLines(unit)) {
        for (String n : names) {
          java.util.regex.Matcher m = java.util.regex.Pattern.compile("^Environment=\"?" + n + "=([^\"\\s]*)\"?\\s*$")
              .matcher(line.trim());
          if (m.matches()) out.put(n, m.group(1));
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot read " + unit, e);
    }
    return out;
  }

  /** The words of {@code Environment="JAVA_OPTS=..."} in the unit file; none when it has no such line. */
  static List<String> unitJavaOpts(Path unit) {
    if (!java.nio.file.Files.isRegularFile(unit)) return List.of();
    try {
      for (String line : java.nio.file.Files.readAllLines(unit)) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^Environment=\"?JAVA_OPTS=([^\"]*)\"?\\s*$").matcher(line.trim());
        if (m.matches()) return words(m.group(1));
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot read " + unit, e);
    }
    return List.of();
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) throw new IllegalArgumentException(option + " needs a value");
    return args[i];
  }

  private static int positive(String[] args, int i, String option) {
    int n;
    try {
      n = Integer.parseInt(value(args, i, option));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + " must be a number");
    }
    if (n < 1) throw new IllegalArgumentException(option + " must be at least 1");
    return n;
  }

  private static List<String> words(String s) {
    List<String> out = new ArrayList<>();
    for (String w : s.trim().split("\\s+")) if (!w.isEmpty()) out.add(w);
    return out;
  }
}
