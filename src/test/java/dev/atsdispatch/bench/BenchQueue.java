package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Where the harness puts tasks and reads what became of them: an ATS channel on the dev server
 * ({@link AtsQueue}) or an agentbus task subject on a nats-server ({@link NatsQueue}). Called from
 * the harness's main thread only; a queue may have threads of its own to collect results.
 */
interface BenchQueue extends AutoCloseable {
  /** The source name in the service's state directory ({@code tasks/<source>/...}). */
  String source();

  /** Creates a task titled {@code key} (the agent records under it); returns its id. */
  String create(String key, JsonNode payload);

  /** Tasks created and not yet ended (completed or failed). */
  int open();

  int completed();

  int failed();

  /** When the newest completion happened (epoch ns), or null if none is known. */
  Long lastCompletionNs();

  /** Whether tasks may name others in {@code depends_on} (the chain workload). */
  boolean dependencies();

  @Override
  void close();
}
