package dev.atsdispatch.dispatch;

import static dev.atsdispatch.dispatch.DispatchFixture.CH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Soak run, end to end with real processes only: the dev server ({@code dev-server --port P --db F})
 * and two services ({@code run}, same configured actor id, distinct state directories, so each
 * claims as {@code soak-<instance id>}) each in a child JVM, one channel, several hundred tasks
 * created in bursts while the services work. During the run one service at a time (alternating)
 * is killed with -9 while it runs agents and restarted on the same state directory after a short
 * pause, and the dev server is killed with -9 and restarted on the same port and database.
 *
 * <p>The agent ({@code soak-agent.sh}) appends {@code start|end|term <task> <pid> <incarnation>
 * <attempt> <epoch ns>} to a shared log with single O_APPEND writes, sleeps the time its title
 * names (50-400 ms, a share of the tasks 2-6 s so kills often hit a running agent) and prints
 * {@code ok}. A watcher thread tails the log and, for every run without an end line yet, polls its
 * process (the agent's shell leads its own process group) every 25 ms, so a run that was killed
 * (its service's next incarnation kills leftover groups with KILL) still has a bounded interval:
 * alive when last seen, dead when first seen dead.
 *
 * <p>What is asserted, and why that is what the system guarantees:
 * <ul>
 *   <li>every task ends {@code completed} with the agent's answer;
 *   <li>no two runs of one task overlap while the services that started them are both alive
 *       (the lease, its renewal and the local fence at lease - margin);
 *   <li>a kill -9 of a service ends its agents too: the service's orphan guard (a shell process it
 *       started) kills their process groups within about a second, before the 3 s lease runs out
 *       and another service may take the task, so no run overlaps a leftover agent either; a run
 *       again by another service starts only after the lease the killed service held (read from
 *       ATS right after the kill) had expired. With {@code -Dsoak.killAgentsWithService=true} the
 *       harness also kills them itself, at once (as a supervisor that kills the whole control
 *       group would);
 *   <li>every extra run of a task is explained by a kill: the run before it started before a kill
 *       of the service incarnation that ran it, or before a dev-server kill, and that kill came
 *       before the extra run started;
 *   <li>a run with neither an end nor a term line belongs to a service incarnation that was killed.
 * </ul>
 *
 * <p>Size by system properties (defaults: a CI-sized run well under 2 minutes):
 * {@code soak.tasks} (150), {@code soak.kills} (2 service kills), {@code soak.serverRestarts} (1),
 * {@code soak.concurrency} (4 per service), {@code soak.longShare} (0.12), {@code soak.longSecs} (2-6),
 * {@code soak.serverDownMs}
 * (4000, longer than the 3 s lease), {@code soak.serviceDownMs} (random 300-1500; 5000 makes overlaps
 * with leftover agents likely), {@code soak.seed}, {@code soak.killAgentsWithService} (false),
 * {@code soak.keepDir} (copy the logs and the summary there). The big run:
 * <pre>
 * mvn -B -q test -Dtest=SoakTest -Dsurefire.failIfNoSpecifiedTests=false -Dsoak.tasks=600 -Dsoak.kills=6
 * cat target/surefire-reports/dev.atsdispatch.dispatch.SoakTest-output.txt
 * </pre>
 */
@Timeout(value = 3, unit = TimeUnit.HOURS) // a safety net only: every wait below has its own bound
final class SoakTest {
  static final int TASKS = Integer.getInteger("soak.tasks", 150);
  static final int KILLS = Integer.getInteger("soak.kills", 2);
  static final int SERVER_RESTARTS = Integer.getInteger("soak.serverRestarts", 1);
  static final int CONCURRENCY = Integer.getInteger("soak.concurrency", 4);
  static final double LONG_SHARE = Double.parseDouble(System.getProperty("soak.longShare", "0.12"));
  /** The sleep of a long task, "MIN-MAX" seconds: longer than the lease, so renewals happen during it. */
  static final double[] LONG_SECS = java.util.Arrays.stream(System.getProperty("soak.longSecs", "2-6").split("-"))
      .mapToDouble(Double::parseDouble).toArray();
  static final long SERVER_DOWN_MS = Long.getLong("soak.serverDownMs", 4000);
  /** How long a killed service stays down before its restart; default a random 300-1500 ms. */
  static final Long SERVICE_DOWN_MS = Long.getLong("soak.serviceDownMs");
  static final boolean KILL_AGENTS_WITH_SERVICE = Boolean.getBoolean("soak.killAgentsWithService");
  static final long SEED = Long.getLong("soak.seed", System.currentTimeMillis());
  static final String LEASE = "3s";
  /** A lease held at a kill is compared with the agent's start (both CLOCK_REALTIME); ms rounding. */
  static final long LEASE_TOLERANCE_NS = 5_000_000L;

  @TempDir Path dir;
  Path runLog;
  Path agent;
  int port;
  String url;
  Http http;
  ChildJvm devServer;
  int devServerStarts;
  RunWatcher watcher;
  final List<Svc> services = new ArrayList<>();
  final Map<String, Incarnation> incarnations = new ConcurrentHashMap<>();
  final List<ServerKill> serverKills = new ArrayList<>();
  final ReentrantLock serverUp = new ReentrantLock(); // held while the dev server is down: no creates then
  final List<Long> ids = new ArrayList<>(); // guarded by itself
  final Map<Long, String> timeline = new TreeMap<>(); // epoch ns -> what the harness did; guarded by itself

  /** One service: its state directory, keys, actor id (after the first start) and current JVM. */
  final class Svc {
    final String name;
    final Path state;
    final Path keys;
    String actorId;
    int generation;
    ChildJvm jvm;
    Incarnation current;

    Svc(String name) {
      this.name = name;
      this.state = dir.resolve("state-" + name);
      this.keys = dir.resolve("keys-" + name);
    }
  }

  /** One JVM of a service ({@code a1}, {@code a2}, ...), and its kill if it was killed. */
  static final class Incarnation {
    final String label;
    final String service;
    final int generation;
    final long startedNs;
    volatile long killSentNs = -1;
    volatile long killDeadNs = -1;
    int runsOpenAtKill;
    /** Leases of the tasks this incarnation held in ATS right after it died. */
    final Map<Long, Instant> leasesAtKill = new HashMap<>();

    Incarnation(String label, String service, int generation, long startedNs) {
      this.label = label;
      this.service = service;
      this.generation = generation;
      this.startedNs = startedNs;
    }

    boolean killed() {
      return killDeadNs > 0;
    }
  }

  /** A dev-server kill: sent, confirmed dead, the new server launched, and ready again. */
  record ServerKill(long sentNs, long deadNs, long relaunchNs, long readyNs, int runsOpen) {}

  @AfterEach
  void stopAll() throws IOException {
    for (Svc s : services) {
      if (s.jvm != null) s.jvm.close();
    }
    if (devServer != null) devServer.close();
    if (watcher != null) {
      watcher.stop();
      watcher.killOpen();
    }
    keep();
  }

  @Test
  void everyTaskCompletesAndNoTaskRunsTwiceAtOnceThroughKillsAndAServerRestart() throws Exception {
    Random rnd = new Random(SEED);
    List<String> plan = plan();
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos()
        + TASKS * 400_000_000L + plan.size() * 40_000_000_000L;

    runLog = dir.resolve("runs.log");
    Files.createFile(runLog);
    // bash: its clock ($EPOCHREALTIME, CLOCK_REALTIME in us) and echo are builtins, so a log line is
    // one write with no fork, and a TERM is logged at once (the grace before KILL is 200 ms)
    agent = dir.resolve("soak-agent.sh");
    Files.writeString(agent, String.join("\n",
        "#!/bin/bash",
        "# $1: service incarnation, $2: run log; sleeps the seconds after the title's last space",
        "inc=$1",
        "log=$2",
        "trap 't=${EPOCHREALTIME//[!0-9]/}; echo \"term $ATS_TASK_ID $$ $inc $ATS_ATTEMPT ${t}000\" >> \"$log\"; exit 143' TERM",
        "t=${EPOCHREALTIME//[!0-9]/}; echo \"start $ATS_TASK_ID $$ $inc $ATS_ATTEMPT ${t}000\" >> \"$log\"",
        "cat > /dev/null",
        "sleep \"${ATS_TASK_TITLE##* }\"",
        "t=${EPOCHREALTIME//[!0-9]/}; echo \"end $ATS_TASK_ID $$ $inc $ATS_ATTEMPT ${t}000\" >> \"$log\"",
        "echo ok", ""));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    watcher = new RunWatcher(runLog);
    watcher.start();

    port = startDevServer(0);
    url = "http://127.0.0.1:" + port;
    http = new Http(url, "human", "tester", "Tester");
    for (String n : List.of("a", "b")) services.add(new Svc(n));
    for (Svc s : services) startService(s);
    for (Svc s : services) awaitReady(s, Duration.ofSeconds(60));

    long workStart = nowNs();
    AtomicReference<Throwable> creatorFailed = new AtomicReference<>();
    Random createRnd = new Random(SEED + 1);
    Thread creator = new Thread(() -> {
      try {
        createTasks(createRnd);
      } catch (Throwable t) {
        creatorFailed.set(t);
      }
    }, "soak-creator");
    creator.setDaemon(true);
    creator.start();

    int victim = 0;
    for (int i = 0; i < plan.size(); i++) {
      int target = (int) ((long) TASKS * (i + 1) / (plan.size() + 1));
      poll(target + " tasks completed before event " + (i + 1) + " (" + plan.get(i) + ")", until(deadline),
          () -> creatorFailed.get() != null || completed() >= target);
      if (creatorFailed.get() != null) break;
      if (plan.get(i).equals("service")) {
        killAndRestart(services.get(victim++ % 2), rnd, deadline);
      } else {
        killAndRestartServer();
      }
    }
    creator.join(Math.max(1, until(deadline).toMillis()));
    if (creatorFailed.get() != null) throw new AssertionError("creating tasks failed", creatorFailed.get());
    assertTrue(!creator.isAlive(), "the creator did not finish in time");

    try {
      // a task that failed (poisoned, say) never completes: stop waiting, the analysis names it
      poll("all " + TASKS + " tasks completed", until(deadline),
          () -> completed() >= TASKS || DispatchFixture.count(http, "failed") > 0);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; by status: " + byStatus() + "; timeline: " + timeline(workStart), e);
    }
    long workEnd = nowNs();
    // Leftover agents end by themselves (at most the longest sleep) or were reaped at a restart.
    poll("every agent run to be over", Duration.ofSeconds(30), () -> watcher.openRuns().isEmpty());
    for (Svc s : services) stopGracefully(s);
    watcher.stop();
    watcher.poll();

    Report r = analyse(workStart, workEnd);
    String summary = r.summary();
    System.out.println(summary);
    Files.writeString(dir.resolve("summary.txt"), summary);
    if (!r.violations.isEmpty()) {
      throw new AssertionError(r.violations.size() + " violation(s):\n  "
          + String.join("\n  ", r.violations.subList(0, Math.min(40, r.violations.size()))) + "\n" + summary);
    }
  }

  // ---- the plan and its steps ----------------------------------------------------------------

  /** The events in order: service kills with the dev-server restarts spread among them. */
  static List<String> plan() {
    List<String> p = new ArrayList<>();
    for (int i = 0; i < KILLS; i++) p.add("service");
    for (int j = SERVER_RESTARTS - 1; j >= 0; j--) {
      p.add((int) Math.round((j + 1) * (double) KILLS / (SERVER_RESTARTS + 1)), "server");
    }
    return p;
  }

  /** Creates the tasks in bursts of 1-20 every 100-600 ms; never while the dev server is down. */
  void createTasks(Random rnd) throws InterruptedException {
    int made = 0;
    while (made < TASKS) {
      int burst = Math.min(TASKS - made, 1 + rnd.nextInt(20));
      serverUp.lock();
      try {
        for (int k = 0; k < burst; k++, made++) {
          double secs = rnd.nextDouble() < LONG_SHARE
              ? LONG_SECS[0] + (LONG_SECS[1] - LONG_SECS[0]) * rnd.nextDouble() : 0.05 + 0.35 * rnd.nextDouble();
          long id = DispatchFixture.create(http, String.format(Locale.ROOT, "soak %d %.3f", made, secs),
              1 + rnd.nextInt(10), null);
          synchronized (ids) {
            ids.add(id);
          }
        }
      } finally {
        serverUp.unlock();
      }
      Thread.sleep(100 + rnd.nextInt(500));
    }
  }

  int startDevServer(int p) throws InterruptedException {
    devServerStarts++;
    devServer = ChildJvm.start(dir, "dev-server-" + devServerStarts, Map.of("HOME", dir.toString()),
        List.of("dev-server", "--port", Integer.toString(p), "--db", dir.resolve("ats.sqlite").toString()));
    return Integer.parseInt(devServer.awaitStdout("ATS dev server ready at http://127\\.0\\.0\\.1:(\\d+)",
        Duration.ofSeconds(60)).group(1));
  }

  void startService(Svc s) {
    s.generation++;
    String label = s.name + s.generation;
    Map<String, String> env = new HashMap<>();
    env.put("HOME", dir.toString());
    env.put("ATS_DISPATCH_RECONCILE_EVERY", "2s");
    env.put("ATS_DISPATCH_MAX_ATTEMPTS", "20"); // crashes are strikes: the soak counts them instead of poisoning
    env.put("ATS_DISPATCH_AGENT_GRACE", "200ms"); // below the lease margin (lease/10)
    env.put("ATS_DISPATCH_STATUS_PORT", "0");
    env.put("ATS_DISPATCH_AGENT_SANDBOX", "none"); // the agents log runs next to the test and are watched by outer pids
    s.jvm = ChildJvm.start(dir, "service-" + label, env, List.of("run", "--transport", "http", "--url", url,
        "--channel", CH, "--agent", Http.json(List.of(agent.toString(), label, runLog.toString())),
        "--state-dir", s.state.toString(), "--keys-dir", s.keys.toString(), "--lease", LEASE,
        "--concurrency", Integer.toString(CONCURRENCY), "--actor-id", "soak", "--actor-name", "Soak Service"));
    s.current = new Incarnation(label, s.name, s.generation, nowNs());
    incarnations.put(label, s.current);
  }

  /** Waits for the status port's /readyz to answer 200 (WebSocket subscribed, ATS reachable). */
  void awaitReady(Svc s, Duration bound) throws InterruptedException {
    Pattern p = Pattern.compile("status port at (http://\\S+)");
    AtomicReference<String> status = new AtomicReference<>();
    ChildJvm j = s.jvm;
    poll(s.current.label + " to open its status port", bound, () -> {
      if (!j.process().isAlive()) {
        throw new AssertionError(s.current.label + " exited (" + j.process().exitValue() + "):\n" + j.stderr());
      }
      Matcher m = p.matcher(j.stderr());
      if (m.find()) status.set(m.group(1));
      return status.get() != null;
    });
    Http st = new Http(status.get(), null, null, null);
    poll(s.current.label + " to be ready", bound, () -> {
      try {
        return st.get("/readyz").status() == 200;
      } catch (UncheckedIOException e) {
        return false;
      }
    });
    if (s.actorId == null) {
      try {
        s.actorId = "soak-" + Files.readString(s.state.resolve("instance-id")).strip();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  void killAndRestart(Svc s, Random rnd, long deadline) throws Exception {
    Incarnation inc = s.current;
    // a kill that finds nothing running tests little: wait (bounded) for an agent of this service
    poll(inc.label + " to run an agent", Duration.ofSeconds(15), () -> !watcher.openRuns(inc.label).isEmpty(), false);
    inc.killSentNs = nowNs();
    s.jvm.kill();
    assertTrue(!s.jvm.process().isAlive(), inc.label + " survived kill -9");
    inc.killDeadNs = nowNs();
    // as a supervisor that kills the control group would: every agent of the incarnation, at once,
    // including one it spawned just before it died that has not logged its start yet
    if (KILL_AGENTS_WITH_SERVICE) watcher.killOnSight.add(inc.label);
    watcher.poll();
    List<Run> open = watcher.openRuns(inc.label);
    if (KILL_AGENTS_WITH_SERVICE) RunWatcher.killGroups(open.stream().map(r -> r.pid).toList());
    inc.runsOpenAtKill = open.size();
    note(inc.killSentNs, "kill -9 " + inc.label + " (agents running: " + open.size() + ")");
    for (JsonNode t : http.get("/tasks?channel=" + CH + "&status=in_progress").body().path("tasks")) {
      if (t.path("assignee_id").asText().equals(s.actorId) && t.hasNonNull("lease_expires")) {
        inc.leasesAtKill.put(t.path("id").asLong(), Instant.parse(t.path("lease_expires").asText()));
      }
    }
    long pause = 300 + rnd.nextInt(1200);
    Thread.sleep(SERVICE_DOWN_MS != null ? SERVICE_DOWN_MS : pause); // the outage itself
    startService(s);
    awaitReady(s, until(deadline));
    note(nowNs(), s.current.label + " ready");
  }

  void killAndRestartServer() throws InterruptedException {
    serverUp.lock();
    try {
      long sent = nowNs();
      devServer.kill();
      assertTrue(!devServer.process().isAlive(), "the dev server survived kill -9");
      long dead = nowNs();
      int open = watcher.openRuns().size();
      Thread.sleep(SERVER_DOWN_MS); // the outage itself: leases run out, results wait in the outboxes
      long relaunch = nowNs();
      assertEquals(port, startDevServer(port), "restarted on the same port");
      serverKills.add(new ServerKill(sent, dead, relaunch, nowNs(), open));
      note(sent, "kill -9 dev server (agents running: " + open + ")");
      note(relaunch, "dev server relaunched");
      note(nowNs(), "dev server ready");
    } finally {
      serverUp.unlock();
    }
  }

  void stopGracefully(Svc s) throws InterruptedException {
    s.jvm.process().destroy();
    if (!s.jvm.process().waitFor(30, TimeUnit.SECONDS)) s.jvm.kill();
  }

  String timeline(long from) {
    synchronized (timeline) {
      return timeline.entrySet().stream().map(e -> String.format(Locale.ROOT, "+%.1f s %s",
          (e.getKey() - from) / 1e9, e.getValue())).collect(Collectors.joining("; "));
    }
  }

  void note(long ns, String what) {
    synchronized (timeline) {
      while (timeline.containsKey(ns)) ns++;
      timeline.put(ns, what);
    }
  }

  int completed() {
    return DispatchFixture.count(http, "completed");
  }

  String byStatus() {
    Map<String, Integer> n = new TreeMap<>();
    try {
      for (JsonNode t : http.get("/tasks?channel=" + CH).body().path("tasks")) n.merge(t.path("status").asText(), 1, Integer::sum);
    } catch (RuntimeException e) {
      return "unknown (" + e.getMessage() + ")";
    }
    return n.toString();
  }

  // ---- analysis ------------------------------------------------------------------------------

  final class Report {
    final List<String> violations = new ArrayList<>();
    final List<String> orphanOverlaps = new ArrayList<>();
    int possibleOrphanOverlaps;
    int liveOverlaps;
    int runs;
    int extraRuns;
    final Map<String, Integer> causes = new TreeMap<>();
    int leftoversKilled;
    int leftoversFinished;
    long workStart;
    long workEnd;
    int tasksByAts;
    Map<String, Integer> statuses = new TreeMap<>();
    Map<String, Integer> runsByIncarnation = new TreeMap<>();

    String summary() {
      double secs = (workEnd - workStart) / 1e9;
      List<Incarnation> killed = incarnations.values().stream().filter(Incarnation::killed)
          .sorted(Comparator.comparingLong(i -> i.killDeadNs)).toList();
      StringBuilder b = new StringBuilder();
      b.append("==== soak summary (seed ").append(SEED).append(killAgentsNote()).append(") ====\n");
      b.append(String.format(Locale.ROOT, "tasks:        %d created, by status %s%n", TASKS, statuses));
      b.append(String.format(Locale.ROOT, "agent runs:   %d (%d first runs + %d extra runs), by incarnation %s%n",
          runs, runs - extraRuns, extraRuns, runsByIncarnation));
      b.append("extra runs:   ").append(causes.isEmpty() ? "none" : causes.toString()).append('\n');
      b.append(String.format(Locale.ROOT, "service kills: %d (agents running at each kill: %s); of those leftover "
          + "agents %d ran on and finished, %d were killed (%s)%n", killed.size(),
          killed.stream().map(i -> i.label + "=" + i.runsOpenAtKill).collect(Collectors.joining(", ")),
          leftoversFinished, leftoversKilled, KILL_AGENTS_WITH_SERVICE ? "with their service"
              : "by the next incarnation's leftover reaper"));
      b.append(String.format(Locale.ROOT, "dev-server restarts: %d (down %s; agents running at the kill: %s)%n",
          serverKills.size(), serverKills.stream().map(k -> String.format(Locale.ROOT, "%.1f s",
              (k.readyNs - k.sentNs) / 1e9)).collect(Collectors.joining(", ")),
          serverKills.stream().map(k -> Integer.toString(k.runsOpen)).collect(Collectors.joining(", "))));
      b.append(String.format(Locale.ROOT, "concurrent runs of one task: %d while both services were alive (must be 0); %d "
          + "with a leftover agent of a killed service (and %d within the 25 ms the watcher cannot tell)%s%n",
          liveOverlaps, orphanOverlaps.size(), possibleOrphanOverlaps, orphanOverlaps.isEmpty() ? "" : ":"));
      for (String o : orphanOverlaps) b.append("  ").append(o).append('\n');
      b.append("timeline:     ").append(timeline(workStart)).append('\n');
      b.append(String.format(Locale.ROOT, "duration:     %.1f s from the first create to the last completion "
          + "(%.1f tasks/s); %d violation(s)%n", secs, TASKS / secs, violations.size()));
      return b.toString();
    }

    private String killAgentsNote() {
      return KILL_AGENTS_WITH_SERVICE ? ", agents killed with their service" : "";
    }
  }

  Report analyse(long workStart, long workEnd) {
    Report rep = new Report();
    rep.workStart = workStart;
    rep.workEnd = workEnd;
    List<String> v = rep.violations;

    // every task completed, with the agent's answer
    Set<Long> created;
    synchronized (ids) {
      created = new TreeSet<>(ids);
    }
    if (created.size() != TASKS) v.add("created " + created.size() + " tasks, not " + TASKS);
    Set<Long> listed = new TreeSet<>();
    for (JsonNode t : http.get("/tasks?channel=" + CH).body().path("tasks")) {
      long id = t.path("id").asLong();
      listed.add(id);
      String status = t.path("status").asText();
      rep.statuses.merge(status, 1, Integer::sum);
      if (!status.equals("completed")) {
        v.add("task " + id + " is " + status + (t.hasNonNull("reason") ? ": " + t.path("reason").asText() : ""));
      } else if (!t.path("outputs").path(0).path("response").asText().equals("ok")) {
        v.add("task " + id + " completed without the agent's answer: " + t.path("outputs"));
      }
    }
    rep.tasksByAts = listed.size();
    if (!listed.equals(created)) v.add("the channel holds tasks " + diff(listed, created) + " beyond/short of those created");

    // runs, by task
    Map<Long, List<Run>> byTask = new TreeMap<>();
    for (Run r : watcher.runs()) byTask.computeIfAbsent(r.task, k -> new ArrayList<>()).add(r);
    for (String s : watcher.strays()) v.add("an end line without its start: " + s);
    for (long id : created) {
      List<Run> rs = byTask.getOrDefault(id, List.of());
      if (rs.stream().noneMatch(r -> "end".equals(r.endKind))) v.add("task " + id + " has no run that ended normally: " + rs);
    }
    for (List<Run> rs : byTask.values()) {
      rs.sort(Comparator.comparingLong(r -> r.startNs));
      rep.runs += rs.size();
      rep.extraRuns += rs.size() - 1;
      for (Run r : rs) {
        rep.runsByIncarnation.merge(r.inc, 1, Integer::sum);
        Incarnation inc = incarnations.get(r.inc);
        if (inc == null) {
          v.add("run of an unknown incarnation: " + r);
          continue;
        }
        // every run of an incarnation was spawned before it died (its start line may come a little later)
        boolean openAtKill = inc.killed() && (r.endNs < 0 || r.endNs >= inc.killSentNs);
        if (openAtKill && r.endNs >= 0) rep.leftoversFinished++;
        if (r.endNs < 0) {
          if (!openAtKill) v.add("a run of a live service ended without an end or term line: " + r);
          else rep.leftoversKilled++;
        }
      }
    }

    for (List<Run> rs : byTask.values()) {
      // overlaps
      for (int i = 0; i < rs.size(); i++) {
        Run r1 = rs.get(i);
        Incarnation i1 = incarnations.get(r1.inc);
        for (int j = i + 1; j < rs.size(); j++) {
          Run r2 = rs.get(j);
          if (r2.startNs >= r1.possibleEnd()) continue;
          boolean definite = r2.startNs < r1.certainEnd();
          boolean orphan = i1 != null && i1.killed() && i1.killDeadNs <= r2.startNs;
          String what = String.format(Locale.ROOT, "task %d: run %s (pid %d, %s) and run %s (pid %d) overlap %s %.0f ms",
              r1.task, r1.inc, r1.pid, r1.endDescription(), r2.inc, r2.pid, definite ? "by" : "by at most",
              (Math.min(r1.possibleEnd(), r2.endOr(Long.MAX_VALUE)) - r2.startNs) / 1e6);
          if (!orphan) {
            rep.liveOverlaps++;
            v.add("two runs of a live service at once: " + what);
            continue;
          }
          Incarnation i2 = incarnations.get(r2.inc);
          String lease = "";
          Instant held = i1.leasesAtKill.get(r1.task);
          if (held != null) {
            long expiry = held.getEpochSecond() * 1_000_000_000L + held.getNano();
            lease = String.format(Locale.ROOT, "; %s was killed %.2f s before run %s started, its lease ended %.2f s before",
                r1.inc, (r2.startNs - i1.killDeadNs) / 1e9, r2.inc, (r2.startNs - expiry) / 1e9);
          }
          if (definite) rep.orphanOverlaps.add(what + lease);
          else rep.possibleOrphanOverlaps++;
          // the service's orphan guard kills its agents within a second of its death, long before
          // the 3 s lease runs out: a leftover agent that overlaps a new run is a violation
          if (definite) v.add("overlap although agents die with their service: " + what);
          if (definite && i2 != null && i2.service.equals(i1.service) && i2.generation > i1.generation) {
            v.add("the restarted service ran a task while its predecessor's agent still ran: " + what);
          }
        }
      }
      // a lease held at a kill: nobody runs the task again before it has expired
      for (int i = 0; i < rs.size(); i++) {
        Run r1 = rs.get(i);
        Incarnation i1 = incarnations.get(r1.inc);
        if (i1 == null || !i1.killed()) continue;
        Instant held = i1.leasesAtKill.get(r1.task);
        if (held == null) continue;
        long expiry = held.getEpochSecond() * 1_000_000_000L + held.getNano();
        for (int j = i + 1; j < rs.size(); j++) {
          Run r2 = rs.get(j);
          if (r2.startNs > i1.killDeadNs && r2.startNs < expiry - LEASE_TOLERANCE_NS) {
            v.add(String.format(Locale.ROOT, "task %d: run %s started %.0f ms before the lease %s held at its kill expired",
                r1.task, r2.inc, (expiry - r2.startNs) / 1e6, r1.inc));
          }
        }
      }
      // every extra run is explained by a kill that interrupted the run before it: a kill that
      // came before the extra run started, while the run before it was claimed and its result
      // not yet acknowledged by ATS (the service's ledger records the acknowledgement)
      for (int j = 1; j < rs.size(); j++) {
        Run p = rs.get(j - 1);
        Run r = rs.get(j);
        Incarnation ip = incarnations.get(p.inc);
        long reported = ip == null ? -1 : reportedNs(ip.service, p);
        String cause = null;
        // every run of an incarnation was spawned (claimed) before it died
        if (ip != null && ip.killed() && ip.killSentNs <= r.startNs && !before(reported, ip.killSentNs)) {
          cause = p.endNs >= 0 && p.endNs < ip.killSentNs ? "service kill after the agent ended (report cut short)"
              : "service kill during the agent";
        } else {
          for (ServerKill k : serverKills) {
            // p was claimed before the kill if its agent started before the new server was
            // launched: no server answered between the kill and the relaunch
            if (p.startNs < k.relaunchNs && k.sentNs <= r.startNs && !before(reported, k.sentNs)) {
              cause = "dev-server kill";
            }
          }
        }
        if (cause == null) {
          v.add("task " + r.task + ": extra run " + r + " is not explained by a kill; the run before it: " + p);
        } else {
          rep.causes.merge(cause, 1, Integer::sum);
        }
      }
    }
    return rep;
  }

  /** Whether an acknowledgement recorded at {@code ackNs} (-1: none; ledger times are ms) came before {@code ns}. */
  static boolean before(long ackNs, long ns) {
    return ackNs >= 0 && ackNs + 1_000_000L <= ns;
  }

  /**
   * When ATS acknowledged the result of run {@code r}, from the ledger of the service that ran it
   * (its attempt is the one whose agent_started names the run's process group), or -1.
   */
  long reportedNs(String service, Run r) {
    Path f = dir.resolve("state-" + service).resolve("tasks/ats/" + r.task + "/events.jsonl");
    int attempt = -1;
    long at = -1;
    for (String l : DispatchFixture.lines(f)) {
      JsonNode e;
      try {
        e = Http.JSON.readTree(l);
      } catch (IOException x) {
        continue; // a line torn by a kill
      }
      String ev = e.path("event").asText();
      if (ev.equals("agent_started") && e.path("pgid").asLong() == r.pid) attempt = e.path("attempt").asInt();
      if (ev.equals("reported") && attempt > 0 && e.path("attempt").asInt() == attempt && at < 0) {
        Instant ts = Instant.parse(e.path("ts").asText());
        at = ts.getEpochSecond() * 1_000_000_000L + ts.getNano();
      }
    }
    return at;
  }

  static String diff(Set<Long> a, Set<Long> b) {
    Set<Long> onlyA = new TreeSet<>(a);
    onlyA.removeAll(b);
    Set<Long> onlyB = new TreeSet<>(b);
    onlyB.removeAll(a);
    return "listed only " + onlyA + ", created only " + onlyB;
  }

  // ---- the run log and its watcher -----------------------------------------------------------

  /** One agent run as the log and the watcher saw it; times are epoch ns (CLOCK_REALTIME). */
  static final class Run {
    final long task;
    final long pid;
    final String inc;
    final int attempt;
    final long startNs;
    long endNs = -1; // from an end or term line
    String endKind;
    String procStart; // /proc/<pid>/stat start time when first seen alive
    long lastAliveNs = -1;
    long deadSeenNs = -1;

    Run(long task, long pid, String inc, int attempt, long startNs) {
      this.task = task;
      this.pid = pid;
      this.inc = inc;
      this.attempt = attempt;
      this.startNs = startNs;
    }

    boolean open() {
      return endNs < 0 && deadSeenNs < 0;
    }

    /** Surely still running until here. */
    long certainEnd() {
      if (endNs >= 0) return endNs;
      return Math.max(startNs, lastAliveNs);
    }

    /** Surely over from here. */
    long possibleEnd() {
      if (endNs >= 0) return endNs;
      return deadSeenNs >= 0 ? deadSeenNs : Long.MAX_VALUE;
    }

    long endOr(long dflt) {
      return endNs >= 0 ? endNs : dflt;
    }

    String endDescription() {
      if (endNs >= 0) return endKind.equals("end") ? "finished on its own" : "stopped with TERM";
      return "killed, no end line";
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "{task %d %s pid %d attempt %d start %d end %s}", task, inc, pid, attempt,
          startNs, endNs >= 0 ? endKind + " " + endNs : "none (alive until " + lastAliveNs + ", dead by " + deadSeenNs + ")");
    }
  }

  /** Tails the run log and watches the processes of runs that have not ended yet. */
  static final class RunWatcher {
    private final Path log;
    private final Map<String, Run> runs = new LinkedHashMap<>();
    private final List<String> strays = new ArrayList<>();
    private final StringBuilder partial = new StringBuilder();
    /** Incarnations whose agents die with them (killAgentsWithService): one that logs its start late is killed then. */
    final Set<String> killOnSight = ConcurrentHashMap.newKeySet();
    private long pos;
    private volatile boolean stopped;
    private Thread thread;

    RunWatcher(Path log) {
      this.log = log;
    }

    void start() {
      thread = new Thread(() -> {
        while (!stopped) {
          poll();
          try {
            Thread.sleep(25);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "soak-watcher");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() {
      stopped = true;
      if (thread != null) {
        try {
          thread.join(5000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    synchronized void poll() {
      readNew();
      for (Run r : runs.values()) {
        if (!r.open()) continue;
        long before = nowNs();
        String st = procStart(r.pid);
        if (st != null && (r.procStart == null || r.procStart.equals(st))) {
          r.procStart = st;
          r.lastAliveNs = before;
        } else {
          r.deadSeenNs = nowNs();
        }
      }
    }

    private void readNew() {
      try (FileChannel ch = FileChannel.open(log, StandardOpenOption.READ)) {
        long size = ch.size();
        if (size <= pos) return;
        ByteBuffer buf = ByteBuffer.allocate((int) (size - pos));
        while (buf.hasRemaining() && ch.read(buf, pos + buf.position()) > 0) {
          // read until the snapshot size
        }
        pos += buf.position();
        partial.append(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      int nl;
      while ((nl = partial.indexOf("\n")) >= 0) {
        line(partial.substring(0, nl));
        partial.delete(0, nl + 1);
      }
    }

    private void line(String l) {
      String[] f = l.trim().split(" ");
      if (f.length != 6) {
        strays.add(l);
        return;
      }
      long task = Long.parseLong(f[1]);
      long pid = Long.parseLong(f[2]);
      String key = task + " " + pid;
      long ns = Long.parseLong(f[5]);
      switch (f[0]) {
        case "start" -> {
          runs.put(key, new Run(task, pid, f[3], Integer.parseInt(f[4]), ns));
          if (killOnSight.contains(f[3])) killGroups(List.of(pid));
        }
        case "end", "term" -> {
          Run r = runs.get(key);
          if (r == null) {
            if (f[0].equals("end")) strays.add(l); // a term before the start line: stopped before it began
          } else {
            r.endNs = ns;
            r.endKind = f[0];
          }
        }
        default -> strays.add(l);
      }
    }

    /** KILL to each process group, with one kill(2) each, at once. */
    static void killGroups(List<Long> pgids) {
      if (pgids.isEmpty()) return;
      List<String> cmd = new ArrayList<>(List.of("kill", "-s", "KILL", "--"));
      for (long g : pgids) cmd.add("-" + g);
      try {
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
            .waitFor(5, TimeUnit.SECONDS);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** The start time field of /proc/<pid>/stat, or null if it is gone or a zombie. */
    private static String procStart(long pid) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        if (f[0].equals("Z") || f[0].equals("X")) return null;
        return f[19];
      } catch (IOException | RuntimeException e) {
        return null;
      }
    }

    synchronized List<Run> runs() {
      return new ArrayList<>(runs.values());
    }

    synchronized List<String> strays() {
      return new ArrayList<>(strays);
    }

    synchronized List<Run> openRuns() {
      return runs.values().stream().filter(Run::open).toList();
    }

    synchronized List<Run> openRuns(String inc) {
      return runs.values().stream().filter(r -> r.open() && r.inc.equals(inc)).toList();
    }

    /** Test clean-up: kills the groups of runs still open (their process checked by start time). */
    synchronized void killOpen() {
      for (Run r : runs.values()) {
        if (r.open() && r.procStart != null && r.procStart.equals(procStart(r.pid))) ChildJvm.killGroup(r.pid);
      }
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  static long nowNs() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  static Duration until(long deadlineNanos) {
    return Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
  }

  static void poll(String what, Duration bound, BooleanSupplier cond) throws InterruptedException {
    poll(what, bound, cond, true);
  }

  /** Polls {@code cond} every 100 ms for at most {@code bound}; fails at the bound if {@code required}. */
  static boolean poll(String what, Duration bound, BooleanSupplier cond, boolean required) throws InterruptedException {
    long end = System.nanoTime() + bound.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() - end > 0) {
        if (required) throw new AssertionError("timed out after " + bound.toSeconds() + " s waiting for " + what);
        return false;
      }
      Thread.sleep(100);
    }
    return true;
  }

  /** With -Dsoak.keepDir: copies the run log, the child JVMs' output and the summary there. */
  void keep() throws IOException {
    String to = System.getProperty("soak.keepDir");
    if (to == null || to.isBlank()) return;
    Path target = Path.of(to);
    Files.createDirectories(target);
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        String n = f.getFileName().toString();
        if (n.endsWith(".log") || n.endsWith(".stdout") || n.endsWith(".stderr") || n.endsWith(".txt")) {
          Files.copy(f, target.resolve(n), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }
}
