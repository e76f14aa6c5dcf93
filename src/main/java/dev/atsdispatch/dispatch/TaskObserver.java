package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.TaskKey;

/**
 * What the engine tells the outside world (Telegram, callback webhooks, metrics) about a task's
 * way. Called on engine threads; implementations must return at once and never throw. For an
 * encrypted task {@code view.encrypted()} is true and implementations must not send its content;
 * the engine passes {@code result} already safe for a callback (the encrypted response for an
 * encrypted task).
 */
public interface TaskObserver {
  /** Why a task failed. */
  enum Failure {
    AGENT, POISON, BLOCKED, DECRYPTION, PLAINTEXT_REJECTED, OPERATOR,
    /** A budget limit: the task's turns or cost (agent.max_turns, agent.max_cost_usd). */
    BUDGET;

    /** The outcome label in the tasks metric. */
    public String metric() {
      return switch (this) {
        case AGENT -> "failed";
        case POISON -> "poisoned";
        case BLOCKED -> "blocked";
        case DECRYPTION, PLAINTEXT_REJECTED -> "rejected";
        case OPERATOR -> "cancelled";
        case BUDGET -> "budget";
      };
    }
  }

  TaskObserver NONE = new TaskObserver() {};

  /** Claimed and about to run attempt {@code attempt}. */
  default void pickedUp(TaskView view, int attempt) {}

  /** Completed; {@code result} is what a callback carries. */
  default void completed(TaskView view, int attempt, String result) {}

  /** Failed with {@code reason} (already free of encrypted content). */
  default void failed(TaskView view, int attempt, Failure why, String reason) {}

  /**
   * The agent asked people question {@code number} and the task waits for the answer; {@code text}
   * is null for an encrypted task (its question is never sent in the clear).
   */
  default void questionAsked(TaskView view, int number, String text) {}

  /** A registration task asked for a new sender key to be trusted (first request only). */
  default void registrationRequested(String fingerprint, String publicKey, TaskKey key) {}

  /** A registration task carried a key that is not a valid public key. */
  default void registrationInvalid(TaskKey key, String detail) {}

  /** A registration task was failed with {@code reason}: over the rate, the pending list full, or the dispatcher's own key. */
  default void registrationRefused(TaskKey key, String reason) {}

  /** The service stops: deliver or persist what is queued, within a few seconds. */
  default void close() {}
}
