package dev.atsdispatch.notify;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.dispatch.TaskObserver;
import dev.atsdispatch.dispatch.TaskView;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import java.time.Instant;
import java.util.List;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the engine's task events into Telegram messages and callback webhooks (reference-behaviour
 * §1.7, §1.8). Delivery settings come from the task view only, which for an encrypted task is the
 * decrypted inner payload; registration notices go through a {@link RegistrationDigest}. Lives as
 * long as the service; {@link #close()} flushes the digest and stops both senders.
 */
public final class TaskNotifier implements TaskObserver {
  private static final Logger log = LoggerFactory.getLogger(TaskNotifier.class);
  private final Notifications telegram;
  private final Callbacks callbacks;
  private final RegistrationDigest registrations;

  public TaskNotifier(Notifications telegram, Callbacks callbacks) {
    this(telegram, callbacks, new RegistrationDigest(telegram, dev.atsdispatch.time.Clock.SYSTEM,
        RegistrationDigest.WINDOW, RegistrationDigest.Timer.thread()));
  }

  /** With the registration notices batched by {@code registrations} (which sends through {@code telegram}). */
  public TaskNotifier(Notifications telegram, Callbacks callbacks, RegistrationDigest registrations) {
    this.telegram = telegram;
    this.callbacks = callbacks;
    this.registrations = registrations;
  }

  /**
   * The service extension: Telegram per the config, and callbacks from the state directory's
   * {@code outbox/callbacks}; a refused or abandoned callback is noted on the task's thread.
   */
  public static BiFunction<StateDir, TaskSource, TaskObserver> factory(NotifyConfig cfg) {
    return (state, source) -> {
      Callbacks cb = Callbacks.builder(cfg, state.outbox("callbacks"))
          .listener((key, message) -> note(source, key, "Callback not delivered: " + message)).build();
      return new TaskNotifier(Notifications.create(cfg), cb);
    };
  }

  private static void note(TaskSource source, TaskKey key, String text) {
    try {
      source.note(key, text, null, true);
    } catch (RuntimeException e) {
      log.warn("task {}: could not note on the task: {}", key, e.getMessage());
    }
  }

  private static TaskRef ref(TaskView v) {
    return new TaskRef(v.key().id(), v.encrypted() ? null : v.title(), v.encrypted(), v.quiet());
  }

  @Override
  public void pickedUp(TaskView v, int attempt) {
    if (attempt == 1) telegram.pickedUp(ref(v));
  }

  @Override
  public void completed(TaskView v, int attempt, String result) {
    telegram.completed(ref(v), v.encrypted() ? null : result);
    callback(v, attempt, "completed", result);
  }

  @Override
  public void failed(TaskView v, int attempt, Failure why, String reason) {
    TaskRef t = ref(v);
    switch (why) {
      case AGENT, OPERATOR -> telegram.failed(t, reason);
      case POISON -> telegram.poisoned(t, attempt);
      case BLOCKED -> telegram.blocked(t, dependencyPart(reason));
      case DECRYPTION -> telegram.decryptionFailed(t, reason);
      case PLAINTEXT_REJECTED -> telegram.plaintextRejected(t);
    }
    if (why != Failure.PLAINTEXT_REJECTED) callback(v, attempt, "failed", reason);
  }

  @Override
  public void questionAsked(TaskView v, int number, String text) {
    telegram.question(ref(v), number, v.encrypted() ? null : text);
  }

  @Override
  public void registrationRequested(String fingerprint, String publicKey, TaskKey key) {
    registrations.requested(fingerprint, publicKey, key.id());
  }

  @Override
  public void registrationInvalid(TaskKey key, String detail) {
    registrations.invalid(key.id(), detail);
  }

  @Override
  public void registrationRefused(TaskKey key, String reason) {
    registrations.refused(key.id(), reason);
  }

  @Override
  public void close() {
    registrations.close(); // what the window gathered goes out before Telegram stops
    telegram.close();
    callbacks.close();
  }

  private void callback(TaskView v, int attempt, String status, String result) {
    String url = v.callbackUrl();
    if (url != null) callbacks.enqueue(v.key(), url, status, result, Instant.now(), attempt);
  }

  /** "Blocked: dependency #4 (failed) failed" → "#4 (failed)", for "dependency {reasons} failed". */
  static String dependencyPart(String reason) {
    String r = reason.startsWith("Blocked: dependency ") ? reason.substring("Blocked: dependency ".length())
        : reason.startsWith("Blocked: ") ? reason.substring("Blocked: ".length()) : reason;
    return r.endsWith(" failed") ? r.substring(0, r.length() - " failed".length()) : r;
  }
}
