package dev.atsdispatch.ats;

import java.util.List;

/** One page of a list; {@code count} is the total number of matches before paging. */
public record TaskPage(List<Task> tasks, int count) {}
