package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;

/**
 * The seam between the engine and the encryption policy: turns a pending task into something to
 * run (decrypted if need be), a registration request, or a refusal, before anything is claimed.
 * {@link #PLAIN} runs every task as it is. Implementations are called on the engine's loop thread
 * and must be quick (no network).
 */
public interface Intake {
  /** What to do with a task. */
  sealed interface Opened {}

  /** Run it as this view. */
  record Run(TaskView view) implements Opened {}

  /** A sender asks for its key to be trusted (reference-behaviour.md §1.5). */
  record Register(String publicKey) implements Opened {}

  /** Claim and fail it at once with this reason; no agent runs. */
  record Reject(String reason, TaskObserver.Failure why) implements Opened {}

  /** What a registration task ends with. */
  sealed interface Registration {}

  /** Complete the task with these outputs; {@code notifyFingerprint} non-null for a first request. */
  record Registered(ObjectNode outputs, String notifyFingerprint) implements Registration {}

  /** Fail the task with this reason. */
  record Refused(String reason, boolean invalidKey) implements Registration {}

  Opened open(SourceTask raw);

  /**
   * The public key (base64) an encrypted task's attempt logs are sealed to at rest: the
   * dispatcher's own; null when there is none (the logs are then not kept).
   */
  default String logKey() {
    return null;
  }

  /** Releases what the intake holds open (the replay record); called once at shutdown. */
  default void close() {}

  /** Handles a registration request of task {@code key} (called once the task is claimed). */
  Registration register(TaskKey key, String publicKey);

  Intake PLAIN = new Intake() {
    @Override
    public Opened open(SourceTask raw) {
      return new Run(TaskView.plain(raw));
    }

    @Override
    public Registration register(TaskKey key, String publicKey) {
      return new Refused("Registration is not enabled", false);
    }
  };
}
