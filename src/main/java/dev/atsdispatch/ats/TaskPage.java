package dev.atsdispatch.ats;

import java.util.List;

/**
 * One page of a list; {@code count} is the total number of matches before paging, {@code bytes}
 * the size of the answer as read (-1 where the transport does not tell).
 */
public record TaskPage(List<Task> tasks, int count, long bytes) {
  public TaskPage(List<Task> tasks, int count) {
    this(tasks, count, -1);
  }
}
