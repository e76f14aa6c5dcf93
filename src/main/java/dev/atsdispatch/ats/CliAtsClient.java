package dev.atsdispatch.ats;

import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.source.TaskStatus;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The {@code cli} transport: runs the {@code ats} binary with the actor flags (and an explicit
 * {@code --url}) and parses its exact output (ats-protocol.md §5): pure JSON for {@code get},
 * JSON followed by a count line for {@code list}, a {@code ✓} line then JSON for {@code create},
 * text for the actions, {@code Error: ...} on stderr with exit 1 for failures. No single argument
 * exceeds {@link #MAX_ARG_BYTES}: an oversized response is shortened (and marked truncated; the
 * attempt log keeps it all) rather than failing a successful run.
 *
 * <p>Thread-safe: each call is its own process, whose stdout and stderr are drained by two daemon
 * threads of its own (stdout kept whole up to {@link #MAX_STDOUT_BYTES}, stderr only its tail), while
 * the calling thread waits. Every call ends within the timeout from the process's start: past it, or
 * when the caller is interrupted, the process and its descendants are killed and the call fails as
 * UNAVAILABLE, even if something still holds the pipes open. A descendant is known only while its
 * parent lives (it is looked for every 200 ms): one orphaned sooner is not killed, and keeps the
 * two drain threads until it closes the pipes.
 */
public final class CliAtsClient implements AtsClient {
  public static final int MAX_ARG_BYTES = 100 * 1024;
  private static final ObjectMapper M = new ObjectMapper();
  /** Stdout is kept whole (it carries the answer) up to this; stderr only its last {@link #STDERR_TAIL_BYTES}. */
  static final int MAX_STDOUT_BYTES = 64 << 20;
  static final int STDERR_TAIL_BYTES = 64 << 10;
  /** How often a running call looks for the process's descendants. */
  private static final long SAMPLE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
  private static final Pattern COUNT = Pattern.compile("(?m)^(\\d+) task\\(s\\) found");
  /** Threads that read a task beside its claim (see {@link #claim}); idle ones end after 30 s. */
  private static final java.util.concurrent.ExecutorService READERS = new java.util.concurrent.ThreadPoolExecutor(0,
      Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new java.util.concurrent.SynchronousQueue<>(), r -> {
        Thread th = new Thread(r, "ats-cli-read");
        th.setDaemon(true);
        return th;
      });

  private final AtsSettings settings;
  private final String bin;
  private final Duration timeout;
  private final Map<String, String> env;

  public CliAtsClient(AtsSettings settings, String bin, Duration timeout, Map<String, String> env) {
    this.settings = settings;
    this.bin = bin;
    this.timeout = timeout;
    this.env = Map.copyOf(env);
  }

  @Override
  public String transport() {
    return "cli";
  }

  @Override
  public Task get(long id) {
    return parseTask(firstJson(run("get", Long.toString(id), "-f", "json").stdout, "get"));
  }

  /**
   * {@code createdAfter} goes as {@code --since <ISO>}, the sort as {@link #sortFlags}. The CLI
   * prints whole tasks, so a light query is read whole and then made light: it saves memory only
   * for what is kept, not while reading.
   */
  @Override
  public TaskPage list(TaskQuery q) {
    List<String> args = new ArrayList<>(List.of("list"));
    if (q.channel() != null) args.addAll(flag("channel", q.channel()));
    if (q.statuses() == null) {
      args.add("--all");
    } else {
      args.addAll(flag("status", q.statuses().stream().map(TaskStatus::wire).sorted()
          .collect(Collectors.joining(","))));
    }
    if (q.limit() != null) args.addAll(flag("limit", q.limit().toString()));
    if (q.offset() != null) args.addAll(flag("offset", q.offset().toString()));
    if (q.createdAfter() != null) args.addAll(flag("since", WireTime.format(q.createdAfter())));
    args.addAll(sortFlags(q.sortBy(), q.sortDir()));
    args.addAll(List.of("-f", "json"));
    String out = run(args.toArray(String[]::new)).stdout;
    String trimmed = out.strip();
    if (trimmed.startsWith("No pending tasks") || trimmed.startsWith("No tasks found")) {
      return new TaskPage(List.of(), 0);
    }
    JsonNode arr = firstJson(out, "list");
    if (!arr.isArray()) throw unparseable("list", out);
    List<Task> tasks = new ArrayList<>();
    for (JsonNode n : arr) tasks.add(q.light() ? parseTask(n).toLight() : parseTask(n));
    Matcher m = COUNT.matcher(out);
    int count = m.find() ? Integer.parseInt(m.group(1)) : tasks.size();
    return new TaskPage(tasks, Math.max(count, tasks.size()), out.length());
  }

  /**
   * {@code --sort created|updated|priority|title} sends that key with its default direction (desc,
   * asc for title) and {@code -r} flips it; {@code -r} alone sends {@code sort_dir=asc} (§2.4).
   */
  static List<String> sortFlags(String sortBy, String sortDir) {
    List<String> args = new ArrayList<>();
    String defaultDir = "desc";
    if (sortBy != null) {
      args.addAll(List.of("--sort", sortBy.replace("_at", "")));
      if (sortBy.equals("title")) defaultDir = "asc";
    }
    if (sortDir != null && !sortDir.equals(defaultDir)) args.add("-r");
    return args;
  }

  @Override
  public Task create(NewTask t) {
    List<String> args = new ArrayList<>(List.of("create", positional("title", t.title())));
    args.addAll(flag("channel", t.channel()));
    args.addAll(flag("type", t.type()));
    args.addAll(flag("priority", Integer.toString(t.priority())));
    if (t.description() != null && !t.description().isEmpty()) args.addAll(flag("description", t.description()));
    if (t.payload() != null) args.addAll(flag("payload", t.payload().toString()));
    args.addAll(List.of("-f", "json"));
    String out = run(args.toArray(String[]::new)).stdout;
    return parseTask(firstJson(out, "create"));
  }

  @Override
  public Task claim(long id, Duration lease) {
    // claim prints text only, so the task is read with a get of its own. That read runs beside
    // the claim, not after it: a pickup waits for one ats process, not two in a row. A read that
    // failed is made again once the claim holds
    CompletableFuture<Task> read = CompletableFuture.supplyAsync(() -> get(id), READERS);
    java.time.Instant sent = java.time.Instant.now();
    claimOnly(id, lease);
    Task t;
    try {
      t = read.join();
    } catch (java.util.concurrent.CompletionException e) {
      t = get(id);
    }
    // the read may have come before the claim landed (pending, or a renewal's old lease): what it
    // says of the task holds; the claim that succeeded makes it ours, leased from when it was sent
    // (the server counts from its arrival, so this is never later than the real expiry)
    return new Task(t.id(), t.title(), t.description(), TaskStatus.IN_PROGRESS, t.priority(), t.type(), t.channel(),
        t.payload(), t.outputs(), settings.actorType(), settings.actorId(), settings.actorName(), sent.plus(lease),
        t.reason(), t.createdAt(), t.updatedAt(), t.light());
  }

  @Override
  public void claimOnly(long id, Duration lease) {
    run("claim", Long.toString(id), "--lease", Long.toString(lease.toMillis()));
  }

  @Override
  public boolean claimReadsTask() {
    return false;
  }

  @Override
  public void complete(long id, List<JsonNode> outputs) {
    JsonNode payload = outputs.size() == 1 ? outputs.get(0) : M.valueToTree(outputs);
    String json = fitted(payload);
    run("complete", Long.toString(id), "--outputs", json);
  }

  @Override
  public void fail(long id, String reason) {
    List<String> args = new ArrayList<>(List.of("fail", Long.toString(id)));
    if (reason != null && !reason.isEmpty()) args.addAll(flag("reason", shorten(reason)));
    run(args.toArray(String[]::new));
  }

  @Override
  public void reopen(long id, String reason) {
    List<String> args = new ArrayList<>(List.of("reopen", Long.toString(id)));
    if (reason != null && !reason.isEmpty()) args.addAll(flag("reason", shorten(reason)));
    run(args.toArray(String[]::new));
  }

  @Override
  public void release(long id) {
    run("update", Long.toString(id), "--status", "pending");
  }

  @Override
  public void addMessage(long id, List<JsonNode> parts) {
    // The CLI sends one part per message: a text part as text, a data part as --type data with
    // its content as a JSON string (§2.8)
    for (JsonNode p : parts) {
      String type = p.path("type").asText();
      JsonNode c = p.path("content");
      if (type.equals("text")) {
        String text = c.asText();
        if (text.isEmpty()) continue;
        run("message", "add", Long.toString(id), positional("message", shorten(text)));
      } else if (type.equals("data") && !c.isMissingNode()) {
        String data = c.isTextual() ? c.asText() : c.toString();
        run("message", "add", Long.toString(id), positional("data", data), "--type", "data");
      }
    }
  }

  @Override
  public boolean callPerPart() {
    return true;
  }

  @Override
  public List<JsonNode> messages(long id) {
    String out = run("message", "list", Long.toString(id), "-f", "json").stdout;
    if (out.strip().startsWith("No messages")) return List.of();
    JsonNode arr = firstJson(out, "message list");
    if (arr.isObject() && arr.has("messages")) arr = arr.get("messages");
    if (!arr.isArray()) throw unparseable("message list", out);
    List<JsonNode> list = new ArrayList<>();
    arr.forEach(list::add);
    return list;
  }

  @Override
  public void health() {
    String out = run("health").stdout;
    if (!out.contains("Service is ok")) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, "ats health: " + out.strip());
    }
  }

  @Override
  public void close() {}

  // ---- arguments ------------------------------------------------------------------------------

  /**
   * {@code --name value}; a value starting with '-' must be {@code --name=value} (§1.5), which
   * cannot carry a second '='.
   */
  static List<String> flag(String name, String value) {
    checkSize(name, value);
    if (value.isEmpty()) {
      throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, "--" + name
          + " cannot be empty through the ats CLI; use the http transport");
    }
    if (!value.startsWith("-")) return List.of("--" + name, value);
    if (value.indexOf('=') >= 0) {
      throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, "--" + name
          + " starts with '-' and contains '=': the ats CLI cannot pass it; use the http transport");
    }
    return List.of("--" + name + "=" + value);
  }

  static String positional(String what, String value) {
    checkSize(what, value);
    if (value.startsWith("-") || value.isEmpty()) {
      throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, "the " + what
          + " is empty or starts with '-', which the ats CLI cannot take; use the http transport");
    }
    return value;
  }

  private static void checkSize(String what, String value) {
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_ARG_BYTES) {
      throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, what + " is " + bytes
          + " bytes, more than the ats CLI can take in one argument (" + MAX_ARG_BYTES
          + "); use the http transport");
    }
  }

  private static String shorten(String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    if (b.length <= MAX_ARG_BYTES) return text;
    return new String(b, 0, MAX_ARG_BYTES - 1024, StandardCharsets.UTF_8).replaceAll("\uFFFD$", "")
        + "\n[truncated]";
  }

  /** Outputs as JSON no longer than one argument may be: the response is cut if it must be. */
  static String fitted(JsonNode outputs) {
    String json = outputs.toString();
    if (json.getBytes(StandardCharsets.UTF_8).length <= MAX_ARG_BYTES) return json;
    if (!(outputs instanceof ObjectNode o) || !o.path("response").isTextual()) {
      throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, "outputs are "
          + json.getBytes(StandardCharsets.UTF_8).length + " bytes, more than the ats CLI can take in "
          + "one argument; use the http transport");
    }
    String response = o.path("response").asText();
    int lo = 0;
    int hi = response.length();
    String best = null;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int cut = mid > 0 && Character.isHighSurrogate(response.charAt(mid - 1)) ? mid - 1 : mid;
      ObjectNode copy = o.deepCopy();
      copy.put("response", response.substring(0, cut));
      copy.put("response_truncated", true);
      String candidate = copy.toString();
      if (candidate.getBytes(StandardCharsets.UTF_8).length <= MAX_ARG_BYTES) {
        best = candidate;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best == null) throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, "outputs too large for the ats CLI");
    return best;
  }

  // ---- running the binary -----------------------------------------------------------------------

  private record Result(String stdout, String stderr) {}

  private Result run(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(bin);
    cmd.addAll(List.of("--url", settings.baseUrl()));
    if (settings.scoped()) cmd.addAll(List.of("--org", settings.org(), "--project", settings.project()));
    cmd.addAll(List.of("--actor-type", settings.actorType(), "--actor-id", settings.actorId(),
        "--actor-name", settings.actorName()));
    cmd.addAll(List.of(args));
    String what = args.length == 0 ? "ats" : "ats " + args[0];
    for (String a : cmd) {
      if (a.indexOf('\0') >= 0) {
        // the process API refuses it on every try: a permanent refusal, not an outage
        throw new AtsException(AtsException.Kind.BAD_REQUEST, 0, what + ": an argument contains a NUL character,"
            + " which no process argument can carry; use the http transport");
      }
    }
    Process p;
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().clear();
      pb.environment().putAll(env);
      p = pb.start();
    } catch (IOException e) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, "cannot run " + bin + ": " + e.getMessage(), e);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      p.getOutputStream().close();
    } catch (IOException e) {
      // nothing to send anyway
    }
    Drain out = new Drain(p.getInputStream(), MAX_STDOUT_BYTES, false, what + " stdout");
    Drain err = new Drain(p.getErrorStream(), STDERR_TAIL_BYTES, true, what + " stderr");
    Set<ProcessHandle> seen = new HashSet<>();
    try {
      while (!p.waitFor(Math.min(SAMPLE_NANOS, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        // remembered so that a child still holding the pipes after its parent exited can be killed
        p.descendants().forEach(seen::add);
        if (System.nanoTime() - deadline >= 0) throw timedOut(what, p, seen);
      }
      out.thread.join(millisLeft(deadline));
      err.thread.join(millisLeft(deadline));
      if (out.thread.isAlive() || err.thread.isAlive()) throw timedOut(what, p, seen);
    } catch (InterruptedException e) {
      kill(p, seen);
      Thread.currentThread().interrupt();
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, what + " interrupted");
    }
    String stdout = out.text();
    String stderr = err.text();
    if (p.exitValue() != 0) {
      String msg = errorLine(stderr, stdout);
      throw new AtsException(AtsException.kindOfText(msg), 0, msg);
    }
    if (out.overflowed) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, what + " printed more than "
          + (MAX_STDOUT_BYTES >> 20) + " MiB").tooLarge();
    }
    return new Result(stdout, stderr);
  }

  private AtsException timedOut(String what, Process p, Set<ProcessHandle> seen) {
    kill(p, seen);
    return new AtsException(AtsException.Kind.UNAVAILABLE, 0, what + " timed out after " + timeout.toSeconds() + " s");
  }

  /** Kills the process and every descendant it has or was seen to have. */
  private static void kill(Process p, Set<ProcessHandle> seen) {
    List<ProcessHandle> tree = new ArrayList<>(seen);
    p.descendants().forEach(tree::add);
    p.destroyForcibly();
    tree.forEach(ProcessHandle::destroyForcibly);
  }

  /** At least 1, since {@code Thread.join(0)} waits forever. */
  private static long millisLeft(long deadline) {
    return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime() + 999_999));
  }

  private static String errorLine(String stderr, String stdout) {
    for (String line : stderr.split("\n")) {
      if (line.startsWith("Error: ")) return line.substring(7).strip();
    }
    String s = stderr.strip();
    if (s.isEmpty()) s = stdout.strip();
    return s.isEmpty() ? "ats exited with an error and no message" : s.lines().findFirst().orElse(s);
  }

  /**
   * Reads one stream to its end on a daemon thread of its own, keeping at most {@code limit} bytes:
   * the first ones (and {@link #overflowed} when there were more), or with {@code keepTail} the
   * last ones. Read {@link #text()} and {@link #overflowed} only once the thread has ended.
   */
  private static final class Drain implements Runnable {
    private final InputStream in;
    private final int limit;
    private final boolean keepTail;
    private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private boolean overflowed;
    final Thread thread;

    Drain(InputStream in, int limit, boolean keepTail, String name) {
      this.in = in;
      this.limit = limit;
      this.keepTail = keepTail;
      thread = new Thread(this, name);
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public void run() {
      byte[] buf = new byte[64 * 1024];
      try (in) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          if (keepTail) {
            kept.write(buf, 0, n);
            if (kept.size() > 2 * limit) keepLast(limit);
          } else if (kept.size() + n <= limit) {
            kept.write(buf, 0, n);
          } else {
            overflowed = true;
          }
        }
      } catch (IOException e) {
        // the process is gone; keep what was read
      }
      if (kept.size() > limit) keepLast(limit);
    }

    private void keepLast(int n) {
      byte[] all = kept.toByteArray();
      kept.reset();
      kept.write(all, all.length - n, n);
    }

    String text() {
      return kept.toString(StandardCharsets.UTF_8);
    }
  }

  /** The first JSON value in the output, ignoring a leading ✓ line and any trailing text. */
  private static JsonNode firstJson(String out, String what) {
    int i = 0;
    while (i < out.length() && out.charAt(i) != '{' && out.charAt(i) != '[') {
      int nl = out.indexOf('\n', i);
      if (nl < 0) break;
      i = nl + 1;
    }
    if (i >= out.length()) throw unparseable(what, out);
    try (JsonParser p = M.getFactory().createParser(out.substring(i))) {
      JsonNode n = M.readTree(p);
      if (n == null) throw unparseable(what, out);
      return n;
    } catch (IOException e) {
      throw unparseable(what, out);
    }
  }

  private static AtsException unparseable(String what, String out) {
    String head = out.length() > 200 ? out.substring(0, 200) + "..." : out;
    return new AtsException(AtsException.Kind.UNAVAILABLE, 0, "cannot parse the output of ats " + what + ": " + head.strip());
  }

  private static Task parseTask(JsonNode n) {
    try {
      return Task.fromJson(n);
    } catch (IllegalArgumentException e) {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, "unusable task in ats output: " + e.getMessage());
    }
  }
}
