package dev.atsdispatch.notify;

/**
 * What a notification may know about a task. For an encrypted task the title is never sent
 * anywhere (the notifications name it by id only); {@code quiet} is the task's own
 * (authenticated) {@code payload.quiet}.
 */
public record TaskRef(String id, String title, boolean encrypted, boolean quiet) {
  public TaskRef {
    title = title == null ? "" : title;
  }

  public TaskRef(long id, String title, boolean encrypted, boolean quiet) {
    this(Long.toString(id), title, encrypted, quiet);
  }
}
