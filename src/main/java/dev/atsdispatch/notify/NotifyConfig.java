package dev.atsdispatch.notify;

import java.time.Duration;
import java.util.List;

/**
 * Settings of the notification sinks, built once from the service settings ({@code telegram.*},
 * {@code callback.*}, {@code notify.*}). Secrets stay out of {@link #toString()}. Defaults (the
 * builder's) are the documented ones.
 */
public record NotifyConfig(
    String telegramToken,
    String telegramChatId,
    String telegramBaseUrl,
    int telegramMaxTries,
    Duration telegramBackoff,
    String callbackSecret,
    List<String> callbackAllow,
    int callbackMaxTries,
    Duration callbackBackoff,
    Duration connectTimeout,
    Duration readTimeout,
    Duration callTimeout) {

  public NotifyConfig {
    telegramToken = telegramToken == null ? "" : telegramToken.trim();
    telegramChatId = telegramChatId == null ? "" : telegramChatId.trim();
    callbackSecret = callbackSecret == null ? "" : callbackSecret;
    callbackAllow = List.copyOf(callbackAllow);
    if (okhttp3.HttpUrl.parse(telegramBaseUrl) == null) {
      throw new IllegalArgumentException("telegram.base_url is not an http(s) URL: " + telegramBaseUrl);
    }
    positive("telegram.max_tries", telegramMaxTries);
    positive("callback.max_tries", callbackMaxTries);
    positive("telegram.backoff", telegramBackoff);
    positive("callback.backoff", callbackBackoff);
    positive("notify.connect_timeout", connectTimeout);
    positive("notify.read_timeout", readTimeout);
    positive("notify.call_timeout", callTimeout);
    AddressPolicy.allowing(callbackAllow); // rejects a bad entry now rather than at the first callback
  }

  /** Telegram is on only with both a token and a chat id. */
  public boolean telegramEnabled() {
    return !telegramToken.isEmpty() && !telegramChatId.isEmpty();
  }

  public AddressPolicy callbackPolicy() {
    return AddressPolicy.allowing(callbackAllow);
  }

  @Override
  public String toString() {
    return "NotifyConfig[telegram=" + (telegramEnabled() ? "on" : "off") + ", telegramBaseUrl=" + telegramBaseUrl
        + ", telegramMaxTries=" + telegramMaxTries + ", telegramBackoff=" + telegramBackoff
        + ", callbackSecret=" + (callbackSecret.isEmpty() ? "none" : "****") + ", callbackAllow=" + callbackAllow
        + ", callbackMaxTries=" + callbackMaxTries + ", callbackBackoff=" + callbackBackoff
        + ", timeouts=" + connectTimeout + "/" + readTimeout + "/" + callTimeout + "]";
  }

  public static Builder builder() {
    return new Builder();
  }

  private static void positive(String key, int v) {
    if (v < 1) throw new IllegalArgumentException(key + " must be at least 1; got " + v);
  }

  private static void positive(String key, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(key + " must be positive; got " + d);
  }

  /** Mutable companion for building a config; {@link #build()} checks the values. */
  public static final class Builder {
    public String telegramToken = "";
    public String telegramChatId = "";
    public String telegramBaseUrl = "https://api.telegram.org";
    public int telegramMaxTries = 5;
    public Duration telegramBackoff = Duration.ofSeconds(1);
    public String callbackSecret = "";
    public List<String> callbackAllow = List.of();
    public int callbackMaxTries = 5;
    public Duration callbackBackoff = Duration.ofSeconds(40);
    public Duration connectTimeout = Duration.ofSeconds(5);
    public Duration readTimeout = Duration.ofSeconds(10);
    public Duration callTimeout = Duration.ofSeconds(30);

    private Builder() {}

    public Builder telegram(String token, String chatId, String baseUrl) {
      telegramToken = token;
      telegramChatId = chatId;
      telegramBaseUrl = baseUrl;
      return this;
    }

    public Builder telegramRetries(int maxTries, Duration backoff) {
      telegramMaxTries = maxTries;
      telegramBackoff = backoff;
      return this;
    }

    public Builder callbackSecret(String secret) {
      callbackSecret = secret;
      return this;
    }

    public Builder callbackAllow(List<String> allow) {
      callbackAllow = allow;
      return this;
    }

    public Builder callbackRetries(int maxTries, Duration backoff) {
      callbackMaxTries = maxTries;
      callbackBackoff = backoff;
      return this;
    }

    public Builder timeouts(Duration connect, Duration read, Duration call) {
      connectTimeout = connect;
      readTimeout = read;
      callTimeout = call;
      return this;
    }

    public NotifyConfig build() {
      return new NotifyConfig(telegramToken, telegramChatId, telegramBaseUrl, telegramMaxTries, telegramBackoff,
          callbackSecret, callbackAllow, callbackMaxTries, callbackBackoff, connectTimeout, readTimeout, callTimeout);
    }
  }
}
