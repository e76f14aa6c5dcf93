package dev.atsdispatch.source;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A claim on one task, held until {@link #expiresAt()} unless renewed. The engine's lease keeper
 * renews it; the result reporter completes or fails it; shutdown releases it. Every method is one
 * blocking call to the source, safe from any thread, throwing {@link SourceException}.
 */
public interface Lease {
  /**
   * How the reason of a task parked by {@link #park} begins where parking fails the task (ATS):
   * any dispatcher reading a failed task's reason knows from it that the task is to be reopened.
   */
  String PARK_REASON_PREFIX = "Waiting for an answer to question ";

  /** Whether a failed task's reason says it is parked for a question (by this service or another). */
  static boolean parkReason(String reason) {
    return reason != null && reason.startsWith(PARK_REASON_PREFIX);
  }

  TaskKey key();

  /** The full task as the claim returned it. */
  SourceTask task();

  /** When the source will take the task back unless renewed (the source's own clock). */
  Instant expiresAt();

  void renew(Duration lease);

  void complete(List<JsonNode> outputs);

  void fail(String reason);

  /** Gives the task back to the queue, held back for {@code delay} where the source can. */
  void release(Duration delay);

  /**
   * Lets go of a task that waits for people's answer to a question, so that no lease is held
   * meanwhile and no other worker should take it: by default it is given back, held back for
   * {@code recheck} (a source that redelivers offers it again then, and the engine parks it again
   * until the answer came); a source with threads fails it with {@code reason}, and its answer
   * reopens it ({@link TaskSource#unpark}).
   */
  default void park(String reason, Duration recheck) {
    release(recheck);
  }
}
