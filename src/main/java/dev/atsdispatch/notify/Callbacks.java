package dev.atsdispatch.notify;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.dispatch.Outbox;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.net.Proxy;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import okhttp3.Call;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Callback webhooks (reference §1.7): {@code POST payload.callback_url} with the JavaScript
 * version's body {@code {task_id, status, result, completed_at}} plus {@code attempt}, an
 * {@code Idempotency-Key} header and, with {@code callback.secret}, an HMAC-SHA256 signature.
 * Callbacks are keyed by {@link TaskKey}, and the wire is what it was before task keys:
 * {@code task_id} is the number of a numeric id (ATS), else the id text; the Idempotency-Key is
 * {@code <id>-<attempt>-<status>} for an ATS task, {@code <source>:<id>-<attempt>-<status>} for
 * any other.
 *
 * <p>{@link #enqueue} writes a durable outbox entry (naming the task as {@code "task": "<key>"})
 * and returns; delivery runs on this class's own threads, so a slow or dead receiver never delays
 * a task. Network errors, 5xx and 429 are retried with doubling backoff up to
 * {@code callback.max_tries}; the try count is kept in the entry, so a restart (a new instance on
 * the same outbox) carries on where the last one stopped, and entries of the release before task
 * keys (only a number {@code task_id}) are delivered as {@code ats:<id>}. A refused callback (not
 * http/https, an internal address, a redirect, another 4xx, tries used up) is logged, reported to
 * the {@link Listener} and dropped. Callback URLs are untrusted: the {@link SsrfGuard} keeps them
 * off internal addresses, and logs name only the host, never the URL. Lifecycle: built started;
 * {@link #close()} stops delivery and leaves what is pending in the outbox.
 */
public final class Callbacks implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Callbacks.class);
  private static final ObjectMapper M = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");
  private static final Duration MAX_DELAY = Duration.ofHours(1);
  private static final Pattern SCHEME = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]{0,20}):");

  public static final String SIGNATURE_HEADER = "X-ATS-Dispatch-Signature";
  public static final String TIMESTAMP_HEADER = "X-ATS-Dispatch-Timestamp";
  public static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
  /**
   * The ATS source's name: its Idempotency-Keys keep the form of the release before task keys,
   * whose outbox entries (ATS only) name the task by number.
   */
  private static final String ATS = "ats";

  /** Hears the fate of a callback, on a delivery thread; must not block for long. */
  @FunctionalInterface
  public interface Listener {
    /** The callback for {@code key} was refused or given up; nothing more will be sent for it. */
    void refused(TaskKey key, String message);

    /** The receiver took the callback of {@code key}'s attempt {@code attempt}. */
    default void delivered(TaskKey key, int attempt) {}

    Listener NONE = (key, message) -> {};
  }

  private final NotifyConfig cfg;
  private final Outbox outbox;
  private final Listener listener;
  private final Clock clock;
  private final SsrfGuard guard;
  /** Built on the first callback: its TLS set-up (the JDK's trust store) costs memory a service without callbacks never needs. */
  private OkHttpClient http;
  private final ScheduledThreadPoolExecutor executor;
  /** Entries scheduled or being delivered, by outbox key: each is handled by one thread at a time. */
  private final Map<String, Outbox.Entry> live = new ConcurrentHashMap<>();
  private final Set<Call> calls = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private Callbacks(Builder b) {
    this.cfg = b.cfg;
    this.outbox = b.outbox;
    this.listener = b.listener;
    this.clock = b.clock;
    this.guard = new SsrfGuard(cfg.callbackPolicy(), b.resolver, b.observer);
    AtomicInteger n = new AtomicInteger();
    this.executor = new ScheduledThreadPoolExecutor(b.threads, r -> {
      Thread t = new Thread(r, "callbacks-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    executor.setRemoveOnCancelPolicy(true);
    int left = 0;
    for (Outbox.Entry e : outbox.pending()) {
      if (taskOf(e.body()) == null) {
        log.warn("callbacks: {} names no task; left in place", e.file());
        continue;
      }
      schedule(e, 0);
      left++;
    }
    if (left > 0) log.info("callbacks: {} pending from an earlier run", left);
  }

  public static Builder builder(NotifyConfig cfg, Outbox outbox) {
    return new Builder(cfg, outbox);
  }

  /**
   * Queues one callback durably and returns; never throws. {@code result} is the response text or
   * the failure reason (the caller never passes plaintext of an encrypted task).
   */
  public void enqueue(TaskKey task, String url, String status, String result, Instant completedAt, int attempt) {
    try {
      if (closed) {
        log.warn("task {}: callback not queued: callbacks are closed", task);
        return;
      }
      if (url == null || HttpUrl.parse(url) == null) {
        String why = "callback to " + target(url) + " refused: only http and https URLs are allowed";
        executor.execute(() -> refuse(task, why));
        return;
      }
      String key = "callback-" + task.source() + "-" + task.fileName() + "-" + attempt + "-" + safe(status);
      if (live.containsKey(key)) {
        log.info("task {}: callback for attempt {} ({}) is already on its way", task, attempt, status);
        return;
      }
      long number = task.numericId();
      ObjectNode body = M.createObjectNode();
      if (number >= 0) body.put("task_id", number);
      else body.put("task_id", task.id());
      body.put("status", status);
      body.put("result", result);
      body.put("completed_at", WireTime.format(completedAt == null ? clock.now() : completedAt));
      body.put("attempt", attempt);
      ObjectNode entry = M.createObjectNode();
      entry.put("task", task.toString());
      if (number >= 0) entry.put("task_id", number); // what the release before task keys reads
      entry.put("attempt", attempt);
      entry.put("url", url);
      entry.put("body", M.writeValueAsString(body));
      entry.put("idempotency_key", (task.source().equals(ATS) ? task.id() : task.toString())
          + "-" + attempt + "-" + status);
      entry.put("tries", 0);
      entry.put("queued_at", WireTime.format(clock.now()));
      schedule(outbox.put(key, entry), 0);
    } catch (IOException | RuntimeException e) {
      log.warn("task {}: callback not queued: {}", task, e.toString());
    }
  }

  /** Callbacks waiting in the outbox (delivered and refused ones are gone). */
  public int pending() {
    return outbox.size();
  }

  private synchronized OkHttpClient http() {
    if (http == null) {
      http = new OkHttpClient.Builder()
          .dns(guard)
          .socketFactory(guard.socketFactory())
          .proxy(Proxy.NO_PROXY)
          .followRedirects(false)
          .followSslRedirects(false)
          .retryOnConnectionFailure(false)
          .connectTimeout(cfg.connectTimeout())
          .readTimeout(cfg.readTimeout())
          .writeTimeout(cfg.readTimeout())
          .callTimeout(cfg.callTimeout())
          .build();
    }
    return http;
  }

  /** Stops delivery at once; what is not delivered stays in the outbox for the next start. */
  @Override
  public void close() {
    closed = true;
    executor.shutdownNow();
    calls.forEach(Call::cancel);
    try {
      executor.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    OkHttpClient built;
    synchronized (this) {
      built = http;
    }
    if (built != null) {
      built.dispatcher().executorService().shutdown();
      built.connectionPool().evictAll();
    }
  }

  /** The wait before try {@code tries + 1}: base, doubling per try, capped at an hour; jitter 0..1 takes off up to 20%. */
  static Duration delayAfter(Duration base, int tries, double jitter) {
    Duration d = base.multipliedBy(1L << Math.min(Math.max(tries - 1, 0), 20));
    if (d.compareTo(MAX_DELAY) > 0) d = MAX_DELAY;
    return Duration.ofMillis(Math.round(d.toMillis() * (1 - 0.2 * jitter)));
  }

  /** The signature header value: {@code t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">}. */
  public static String signature(String secret, long unixSeconds, String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] sig = mac.doFinal((unixSeconds + "." + body).getBytes(StandardCharsets.UTF_8));
      return "t=" + unixSeconds + ",v1=" + HexFormat.of().formatHex(sig);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  // ---- delivery ------------------------------------------------------------------------------

  private void schedule(Outbox.Entry e, long delayMs) {
    live.put(e.key(), e);
    try {
      executor.schedule(() -> deliver(e.key()), delayMs, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException x) {
      live.remove(e.key()); // closed: the entry stays in the outbox
    }
  }

  private void deliver(String key) {
    Outbox.Entry e = live.get(key);
    if (e == null || closed) return;
    ObjectNode entry = e.body();
    TaskKey task = taskOf(entry);
    String url = entry.path("url").asText();
    HttpUrl u = HttpUrl.parse(url);
    if (u == null) {
      drop(e, task, "callback to " + target(url) + " refused: only http and https URLs are allowed");
      return;
    }
    String where = "callback to " + target(url);
    int tries = entry.path("tries").asInt() + 1;
    String failure;
    long retryAfterMs = -1;
    try {
      guard.checkUrl(u);
      Call call = http().newCall(request(u, entry));
      calls.add(call);
      try (Response r = call.execute()) {
        int code = r.code();
        if (r.isSuccessful()) {
          live.remove(key);
          outbox.remove(e);
          log.info("task {}: {} delivered (HTTP {}, try {})", task, where, code, tries);
          tell(() -> listener.delivered(task, entry.path("attempt").asInt()));
          return;
        }
        if (code >= 300 && code < 400) {
          drop(e, task, where + " refused: the receiver redirected (HTTP " + code + "); redirects are not followed");
          return;
        }
        if (code != 429 && code < 500) {
          drop(e, task, where + " refused by the receiver: HTTP " + code);
          return;
        }
        failure = "HTTP " + code;
        retryAfterMs = seconds(r.header("Retry-After")) * 1000;
      } finally {
        calls.remove(call);
      }
    } catch (SsrfGuard.Refused x) {
      drop(e, task, where + " refused: " + x.getMessage());
      return;
    } catch (IOException | RuntimeException x) {
      if (closed) return;
      failure = x.getClass().getSimpleName() + (x.getMessage() == null ? "" : ": " + x.getMessage());
    }
    if (closed) return;
    if (tries >= cfg.callbackMaxTries()) {
      drop(e, task, where + " given up after " + tries + " tries (last: " + failure + ")");
      return;
    }
    entry.put("tries", tries);
    Outbox.Entry again;
    try {
      again = outbox.put(e.key(), entry);
    } catch (RuntimeException x) {
      log.warn("task {}: {}: cannot record the try: {}", task, where, x.toString());
      again = e;
    }
    long delay = delayAfter(cfg.callbackBackoff(), tries, ThreadLocalRandom.current().nextDouble()).toMillis();
    if (retryAfterMs > delay) delay = Math.min(retryAfterMs, MAX_DELAY.toMillis());
    log.info("task {}: {} failed ({}); try {} of {} in {} ms", task, where, failure, tries + 1,
        cfg.callbackMaxTries(), delay);
    schedule(again, delay);
  }

  private Request request(HttpUrl u, ObjectNode entry) {
    String body = entry.path("body").asText();
    Request.Builder b = new Request.Builder().url(u)
        .header("User-Agent", "ats-dispatch")
        .header(IDEMPOTENCY_HEADER, entry.path("idempotency_key").asText())
        .post(RequestBody.create(body.getBytes(StandardCharsets.UTF_8), JSON));
    if (!cfg.callbackSecret().isEmpty()) {
      long t = clock.now().getEpochSecond();
      b.header(TIMESTAMP_HEADER, Long.toString(t));
      b.header(SIGNATURE_HEADER, signature(cfg.callbackSecret(), t, body));
    }
    return b.build();
  }

  /** The entry's task: {@code task}, or the number {@code task_id} of the release before task keys. */
  static TaskKey taskOf(ObjectNode entry) {
    try {
      if (entry.hasNonNull("task")) return TaskKey.parse(entry.get("task").asText());
      if (entry.path("task_id").canConvertToLong()) return TaskKey.of(ATS, entry.get("task_id").asLong());
    } catch (IllegalArgumentException e) {
      return null;
    }
    return null;
  }

  private void drop(Outbox.Entry e, TaskKey task, String message) {
    live.remove(e.key());
    try {
      outbox.remove(e);
    } catch (RuntimeException x) {
      log.warn("task {}: cannot remove callback outbox entry: {}", task, x.toString());
    }
    refuse(task, message);
  }

  private void refuse(TaskKey task, String message) {
    log.warn("task {}: {}", task, message);
    tell(() -> listener.refused(task, message));
  }

  private static void tell(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException x) {
      log.warn("callbacks: listener failed: {}", x.toString());
    }
  }

  /** What a log line may say about a callback URL: scheme, host and port, never path or query. */
  static String target(String url) {
    HttpUrl u = url == null ? null : HttpUrl.parse(url);
    if (u != null) {
      boolean defaultPort = u.port() == HttpUrl.defaultPort(u.scheme());
      String host = u.host().contains(":") ? "[" + u.host() + "]" : u.host();
      return u.scheme() + "://" + host + (defaultPort ? "" : ":" + u.port());
    }
    Matcher m = url == null ? null : SCHEME.matcher(url);
    return m != null && m.find() ? "a " + m.group(1).toLowerCase(java.util.Locale.ROOT) + ": URL" : "an unparsable URL";
  }

  private static String safe(String status) {
    String s = status == null ? "" : status.replaceAll("[^A-Za-z0-9_-]", "");
    return s.isEmpty() ? "x" : s.length() > 40 ? s.substring(0, 40) : s;
  }

  private static long seconds(String v) {
    if (v == null) return -1;
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Options of a {@link Callbacks}; the defaults are the production ones. */
  public static final class Builder {
    private final NotifyConfig cfg;
    private final Outbox outbox;
    private Listener listener = Listener.NONE;
    private HostResolver resolver = HostResolver.SYSTEM;
    private Clock clock = Clock.SYSTEM;
    private SsrfGuard.ConnectObserver observer = SsrfGuard.ConnectObserver.NONE;
    private int threads = 4;

    private Builder(NotifyConfig cfg, Outbox outbox) {
      this.cfg = cfg;
      this.outbox = outbox;
    }

    public Builder listener(Listener l) {
      this.listener = l;
      return this;
    }

    public Builder resolver(HostResolver r) {
      this.resolver = r;
      return this;
    }

    public Builder clock(Clock c) {
      this.clock = c;
      return this;
    }

    Builder connectObserver(SsrfGuard.ConnectObserver o) {
      this.observer = o;
      return this;
    }

    public Builder threads(int n) {
      this.threads = n;
      return this;
    }

    /** Starts delivering: what the outbox already holds goes out at once. */
    public Callbacks build() {
      return new Callbacks(this);
    }
  }
}
