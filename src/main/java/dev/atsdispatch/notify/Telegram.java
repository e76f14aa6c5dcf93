package dev.atsdispatch.notify;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
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
 * Sends messages through the Telegram Bot API ({@code POST <base>/bot<token>/sendMessage},
 * parse mode HTML). {@link #send} only queues (bounded; overflow is dropped with a warning); one
 * worker thread delivers in order. A 429 waits its {@code parameters.retry_after}; a 5xx or a
 * network error is retried with doubling backoff up to {@code telegram.max_tries}; any other
 * answer is final. A message that cannot be delivered is dropped with a warning: the task never
 * waits for Telegram. The token is part of the request URL, so no URL is ever logged and error
 * texts are scrubbed of it. Lifecycle: constructed started; {@link #close()} gives queued
 * messages up to 3 s (at most the call timeout) to go out, then stops.
 */
public final class Telegram implements MessageSender {
  private static final Logger log = LoggerFactory.getLogger(Telegram.class);
  private static final ObjectMapper M = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");
  static final int QUEUE = 100;
  static final Duration MAX_RETRY_AFTER = Duration.ofMinutes(5);
  private static final Duration MAX_BACKOFF = Duration.ofMinutes(1);
  /** How long close() lets queued messages go out: bounded, so shutdown never waits on Telegram. */
  static final Duration FLUSH = Duration.ofSeconds(3);

  private final NotifyConfig cfg;
  private final OkHttpClient http;
  private final HttpUrl url;
  private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(QUEUE);
  private final Thread worker;
  private volatile boolean closed;
  private volatile Call current;

  public Telegram(NotifyConfig cfg) {
    if (!cfg.telegramEnabled()) throw new IllegalArgumentException("telegram.token and telegram.chat_id are required");
    this.cfg = cfg;
    HttpUrl base = HttpUrl.parse(cfg.telegramBaseUrl());
    if (base == null) throw new IllegalArgumentException("telegram.base_url is not an http(s) URL");
    this.url = base.newBuilder().addPathSegment("bot" + cfg.telegramToken()).addPathSegment("sendMessage").build();
    this.http = new OkHttpClient.Builder()
        .connectTimeout(cfg.connectTimeout())
        .readTimeout(cfg.readTimeout())
        .writeTimeout(cfg.readTimeout())
        .callTimeout(cfg.callTimeout())
        .retryOnConnectionFailure(false)
        .followRedirects(false)
        .followSslRedirects(false)
        .build();
    this.worker = new Thread(this::run, "telegram");
    worker.setDaemon(true);
    worker.start();
    log.info("Telegram is on (chat configured, base {})", base.host());
  }

  @Override
  public void send(String html) {
    if (closed) return;
    if (!queue.offer(html)) log.warn("telegram: {} messages queued already; message dropped", QUEUE);
  }

  /** Messages waiting to be sent (not counting one being sent). */
  public int queued() {
    return queue.size();
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    try {
      worker.join(Math.min(cfg.callTimeout().toMillis(), FLUSH.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (worker.isAlive()) {
      worker.interrupt();
      Call c = current;
      if (c != null) c.cancel();
      int left = queue.size();
      if (left > 0) log.warn("telegram: stopping with {} messages not sent", left);
    }
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  private void run() {
    while (true) {
      String text;
      try {
        text = closed ? queue.poll() : queue.poll(200, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (text == null) {
        if (closed) return;
        continue;
      }
      try {
        deliver(text);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        log.warn("telegram: message dropped: {}", scrub(e.toString()));
      }
    }
  }

  /** One message, with its retries. */
  private void deliver(String text) throws InterruptedException {
    String last = "";
    for (int attempt = 1; attempt <= cfg.telegramMaxTries(); attempt++) {
      long waitMs;
      try {
        Call call = http.newCall(request(text));
        current = call;
        try (Response r = call.execute()) {
          if (r.isSuccessful()) return;
          String body = r.body() == null ? "" : r.body().string();
          JsonNode answer = parse(body);
          last = "HTTP " + r.code() + describe(answer);
          if (r.code() == 429) {
            long retryAfter = answer.path("parameters").path("retry_after").asLong(-1);
            if (retryAfter < 0) retryAfter = headerSeconds(r.header("Retry-After"));
            if (retryAfter < 0) retryAfter = backoff(attempt).toSeconds();
            if (retryAfter > MAX_RETRY_AFTER.toSeconds()) {
              log.warn("telegram: message dropped: rate limited for {} s", retryAfter);
              return;
            }
            waitMs = retryAfter * 1000;
          } else if (r.code() >= 500) {
            waitMs = backoff(attempt).toMillis();
          } else {
            log.warn("telegram: message refused ({}); dropped", last);
            return;
          }
        }
      } catch (IOException e) {
        if (closed && Thread.currentThread().isInterrupted()) throw new InterruptedException();
        last = scrub(e.toString());
        waitMs = backoff(attempt).toMillis();
      } finally {
        current = null;
      }
      if (attempt < cfg.telegramMaxTries()) {
        log.debug("telegram: not delivered ({}); try {} of {} in {} ms", last, attempt + 1,
            cfg.telegramMaxTries(), waitMs);
        Thread.sleep(waitMs);
      }
    }
    log.warn("telegram: message dropped after {} tries ({})", cfg.telegramMaxTries(), last);
  }

  private Request request(String text) {
    ObjectNode body = M.createObjectNode();
    String chat = cfg.telegramChatId();
    if (chat.matches("-?\\d{1,18}")) {
      body.put("chat_id", Long.parseLong(chat));
    } else {
      body.put("chat_id", chat);
    }
    body.put("text", text);
    body.put("parse_mode", "HTML");
    try {
      return new Request.Builder().url(url).post(RequestBody.create(M.writeValueAsBytes(body), JSON)).build();
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode a Telegram message", e);
    }
  }

  private Duration backoff(int attempt) {
    Duration d = cfg.telegramBackoff().multipliedBy(1L << Math.min(attempt - 1, 20));
    return d.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : d;
  }

  private static JsonNode parse(String body) {
    try {
      JsonNode n = M.readTree(body);
      return n == null ? M.missingNode() : n;
    } catch (IOException e) {
      return M.missingNode();
    }
  }

  private String describe(JsonNode answer) {
    String d = answer.path("description").asText("");
    return d.isEmpty() ? "" : ": " + scrub(Notifications.cut(d, 200));
  }

  private static long headerSeconds(String v) {
    if (v == null) return -1;
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Error texts can carry the request URL, and with it the token. */
  private String scrub(String s) {
    return s.replace(cfg.telegramToken(), "<token>");
  }
}
