package dev.atsdispatch.ats;

import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.source.TaskStatus;
import java.time.Instant;
import java.util.Set;

/**
 * A list query (ats-protocol.md §2.4). Unlike the CLI, nothing is implicit: a null
 * {@code statuses} means every status, a null {@code limit} means no limit.
 *
 * <ul>
 *   <li>{@code createdAfter}: only tasks with {@code created_at >= createdAfter} (inclusive); sent
 *       as {@code created_after} in the wire format ({@link WireTime}).
 *   <li>{@code sortBy} ({@code created_at}, {@code updated_at}, {@code priority} or {@code title})
 *       and {@code sortDir} ({@code asc} or {@code desc}): null leaves the order to the server
 *       (created_at, newest first).
 *   <li>{@code light}: the caller wants only light tasks ({@link Task#light()}); the transport
 *       may then read less of each answer.
 * </ul>
 */
public record TaskQuery(
    Set<TaskStatus> statuses,
    String channel,
    Integer limit,
    Integer offset,
    Instant createdAfter,
    String sortBy,
    String sortDir,
    boolean light) {
  public static final Set<String> SORT_KEYS = Set.of("created_at", "updated_at", "priority", "title");

  public TaskQuery {
    if (sortBy != null && !SORT_KEYS.contains(sortBy)) {
      throw new IllegalArgumentException("sortBy must be one of " + SORT_KEYS + ", got: " + sortBy);
    }
    if (sortDir != null && !sortDir.equals("asc") && !sortDir.equals("desc")) {
      throw new IllegalArgumentException("sortDir must be asc or desc, got: " + sortDir);
    }
  }

  /** Statuses, channel and page only; full tasks in the server's order. */
  public TaskQuery(Set<TaskStatus> statuses, String channel, Integer limit, Integer offset) {
    this(statuses, channel, limit, offset, null, null, null, false);
  }

  public static TaskQuery pending(String channel) {
    return new TaskQuery(Set.of(TaskStatus.PENDING), channel, null, null);
  }

  public TaskQuery page(int pageLimit, int pageOffset) {
    return new TaskQuery(statuses, channel, pageLimit, pageOffset, createdAfter, sortBy, sortDir, light);
  }

  /** Only tasks created at or after {@code t}; null for no bound. */
  public TaskQuery withCreatedAfter(Instant t) {
    return new TaskQuery(statuses, channel, limit, offset, t, sortBy, sortDir, light);
  }

  public TaskQuery withSort(String by, String dir) {
    return new TaskQuery(statuses, channel, limit, offset, createdAfter, by, dir, light);
  }

  /** {@code sort_by=created_at&sort_dir=asc}; ties follow the id on the dev server. */
  public TaskQuery oldestFirst() {
    return withSort("created_at", "asc");
  }

  public TaskQuery withLight(boolean lightTasks) {
    return new TaskQuery(statuses, channel, limit, offset, createdAfter, sortBy, sortDir, lightTasks);
  }
}
