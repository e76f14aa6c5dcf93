package dev.atsdispatch.notify;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.dispatch.TaskObserver;
import dev.atsdispatch.dispatch.TaskView;
import java.time.Instant;
import java.util.List;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the engine's task events into Telegram messages and callback webhooks (reference-behaviour
 * §1.7, §1.8). Delivery settings come from the task view only, which for an encrypted task is the
 * decrypted inner payload. Lives as long as the service; {@link #close()} stops both senders.
 */
public final class TaskNotifier implements TaskObserver {
  private static final Logger log = LoggerFactory.getLogger(TaskNotifier.class);
  private final Notifications telegram;
  private final Callbacks callbacks;

  public TaskNotifier(Notifications telegram, Callbacks callbacks) {
    this.telegram = telegram;
    this.callbacks = callbacks;
  }

  /**
   * The service extension: Telegram per the config, and callbacks from the state directory's
   * {@code outbox/callbacks}; a refused or abandoned callback is noted on the task's thread.
   */
  public static BiFunction<StateDir, AtsClient, TaskObserver> factory(NotifyConfig cfg) {
    return (state, ats) -> {
      Callbacks cb = Callbacks.builder(cfg, state.outbox("callbacks"))
          .listener((taskId, message) -> note(ats, taskId, "Callback not delivered: " + message)).build();
      return new TaskNotifier(Notifications.create(cfg), cb);
    };
  }

  private static void note(AtsClient ats, long taskId, String text) {
    try {
      ats.addMessage(taskId, List.of(JsonNodeFactory.instance.objectNode().put("type", "text").put("content", text)));
    } catch (AtsException e) {
      log.warn("task {}: could not note on the task: {}", taskId, e.getMessage());
    }
  }

  private static TaskRef ref(TaskView v) {
    return new TaskRef(v.id(), v.encrypted() ? null : v.title(), v.encrypted(), v.quiet());
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
      case AGENT -> telegram.failed(t, reason);
      case POISON -> telegram.poisoned(t, attempt);
      case BLOCKED -> telegram.blocked(t, dependencyPart(reason));
      case DECRYPTION -> telegram.decryptionFailed(t, reason);
      case PLAINTEXT_REJECTED -> telegram.plaintextRejected(t);
    }
    if (why != Failure.PLAINTEXT_REJECTED) callback(v, attempt, "failed", reason);
  }

  @Override
  public void registrationRequested(String fingerprint, String publicKey, long taskId) {
    telegram.registrationRequested(fingerprint, publicKey, Long.toString(taskId));
  }

  @Override
  public void registrationInvalid(long taskId, String detail) {
    telegram.registrationInvalid(Long.toString(taskId), detail);
  }

  @Override
  public void close() {
    telegram.close();
    callbacks.close();
  }

  private void callback(TaskView v, int attempt, String status, String result) {
    String url = v.callbackUrl();
    if (url != null) callbacks.enqueue(v.id(), url, status, result, Instant.now(), attempt);
  }

  /** "Blocked: dependency #4 (failed) failed" → "#4 (failed)", for "dependency {reasons} failed". */
  static String dependencyPart(String reason) {
    String r = reason.startsWith("Blocked: dependency ") ? reason.substring("Blocked: dependency ".length())
        : reason.startsWith("Blocked: ") ? reason.substring("Blocked: ".length()) : reason;
    return r.endsWith(" failed") ? r.substring(0, r.length() - " failed".length()) : r;
  }
}
