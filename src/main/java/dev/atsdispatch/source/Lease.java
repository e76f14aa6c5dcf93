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
}
