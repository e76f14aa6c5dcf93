package dev.atsdispatch.ats;

import dev.atsdispatch.source.TaskStatus;
import java.util.Set;

/**
 * A list query. Unlike the CLI, nothing is implicit: a null {@code statuses} means every status,
 * a null {@code limit} means no limit.
 */
public record TaskQuery(Set<TaskStatus> statuses, String channel, Integer limit, Integer offset) {
  public static TaskQuery pending(String channel) {
    return new TaskQuery(Set.of(TaskStatus.PENDING), channel, null, null);
  }

  public TaskQuery page(int pageLimit, int pageOffset) {
    return new TaskQuery(statuses, channel, pageLimit, pageOffset);
  }
}
