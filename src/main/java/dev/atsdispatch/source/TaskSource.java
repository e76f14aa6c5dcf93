package dev.atsdispatch.source;

import java.time.Duration;
import java.util.List;

/**
 * The seam every task source implements (ATS today; NATS JetStream and a local board next). The
 * engine learns of tasks through {@link #start}'s sink and, where the source can list, through
 * {@link #listPending}; takes them with {@link #claim}; reports through the {@link Lease}. It
 * never names a source. Calls block and may throw {@link SourceException}; implementations are
 * thread-safe and bound every call in time.
 */
public interface TaskSource extends AutoCloseable {
  /** The name in task keys ({@code ats}). */
  String name();

  Capabilities capabilities();

  /** Starts pushing events to {@code sink} (on the source's own threads); called once. */
  void start(java.util.function.Consumer<SourceEvent> sink);

  /** True while the push channel is up (for readiness). */
  boolean connected();

  /**
   * The pending tasks (light), oldest first, a page at a time: each {@code next()} makes at most
   * one call and may throw {@link SourceException}. A task that stays pending during the walk is
   * never skipped, however many others are claimed meanwhile.
   */
  java.util.Iterator<List<SourceTask>> listPending(int pageSize);

  Lease claim(TaskKey key, Duration lease);

  /**
   * As {@link #claim(TaskKey, Duration)}; with {@code contentKnown} the engine holds the whole task
   * from its offer a moment ago, so a source whose claim reads the task back with a call of its
   * own may skip that read and return a lease with no task.
   */
  default Lease claim(TaskKey key, Duration lease, boolean contentKnown) {
    return claim(key, lease);
  }

  /**
   * A lease handle for a task this service held before (a result in the outbox after a restart):
   * reports through it reach the task by key.
   */
  Lease held(TaskKey key);

  /** The task's current status (for dependencies); NOT_FOUND when it does not exist. */
  TaskStatus status(TaskKey key);

  /**
   * The status of a task others depend on, and whether it is parked: failed only to wait for the
   * answer to a question (its reason says so, {@link Lease#parkReason}), so it is not finished.
   * By default only the status: a source whose parked tasks are not failed need say no more.
   */
  default DependencyStatus dependencyStatus(TaskKey key) {
    return new DependencyStatus(status(key), false);
  }

  /** What a dependency lookup found: the status, and whether the task waits for an answer. */
  record DependencyStatus(TaskStatus status, boolean parked) {}

  /** The attempts recorded on the task's thread by any service since {@code since} (null: all), threads capability; else none. */
  default SharedAttempts sharedAttempts(TaskKey key, java.time.Instant since) {
    return SharedAttempts.NONE;
  }

  /** Attempts seen on a task's thread: the highest number, and how many of them were strikes. */
  record SharedAttempts(int highest, int strikes) {
    public static final SharedAttempts NONE = new SharedAttempts(0, 0);
  }

  /**
   * Posts a note on the task's thread (threads capability): {@code text} for people and, when
   * {@code attempt} is not null, a structured record of the attempt ({@code strike} false marks
   * an attempt that did not count).
   */
  default void note(TaskKey key, String text, Integer attempt, boolean strike) {}

  /**
   * Posts {@code content} as a data part of a message on the task's thread (threads capability;
   * others do nothing): what a report carries for people beyond its reason.
   */
  default void attach(TaskKey key, com.fasterxml.jackson.databind.JsonNode content) {}

  /**
   * Adds a comment for people (an agent's, through the agent API): a message on the task's thread
   * where it has one; REFUSED where the source keeps no comments.
   */
  default void comment(TaskKey key, String text) {
    if (!capabilities().threads()) {
      throw new SourceException(SourceException.Kind.REFUSED, "source " + name() + " keeps no comments");
    }
    note(key, text, null, false);
  }

  /**
   * Puts a finished task back to pending (an operator's reopen); REFUSED where the source cannot,
   * or says whether it can through {@link #canReopen}.
   */
  default void reopen(TaskKey key, String reason) {
    throw new SourceException(SourceException.Kind.REFUSED, "source " + name() + " cannot reopen a task");
  }

  /** Whether {@link #reopen} can work here (the dashboard offers the action only then). */
  default boolean canReopen() {
    return false;
  }

  /**
   * Tells people that the task waits for the answer to question {@code number}: {@code text}, or
   * for an encrypted task null and {@code sealed} (the question sealed to its sender, a data
   * part's content). A thread note where there are threads; others do nothing unless they say
   * otherwise (NATS publishes it on the result subject). Called while the task is claimed.
   */
  default void asked(TaskKey key, int number, String text, com.fasterxml.jackson.databind.JsonNode sealed) {}

  /**
   * What was written on the task's thread, after question {@code number} was put there (or, when
   * it is not found, since {@code since}), by anyone but this service, oldest first: candidate
   * answers. None for a source without threads.
   */
  default List<String> replies(TaskKey key, int number, java.time.Instant since) {
    return List.of();
  }

  /**
   * A parked task ({@link Lease#park}) has its answer, or its wait ran out: makes it offered
   * again. Returns false where the source offers it again by itself (a redelivery).
   */
  default boolean unpark(TaskKey key, String reason) {
    return false;
  }

  /** Moves the task to another queue (a board's); REFUSED where the source has no queues. */
  default void move(TaskKey key, String queue) {
    throw new SourceException(SourceException.Kind.REFUSED, "source " + name() + " has no queues to move a task between");
  }

  /**
   * Changes the fields an agent may change ({@code fields}: a board card's name, description,
   * labels, assignees); REFUSED where the source takes no such changes, or for another field.
   */
  default void update(TaskKey key, com.fasterxml.jackson.databind.node.ObjectNode fields) {
    throw new SourceException(SourceException.Kind.REFUSED, "source " + name() + " takes no field updates from agents");
  }

  /**
   * What people and agents wrote on the task's thread, oldest first, each {@code {"author",
   * "author_type", "created_at", "text"}} (the service's own records left out); none for a
   * source without threads.
   */
  default List<com.fasterxml.jackson.databind.JsonNode> comments(TaskKey key) {
    return List.of();
  }

  /**
   * The agent's prompt for a task as this source's users expect it, or null for the engine's own
   * layout (title, description and context sections). Called with the task as it will run: with
   * {@code encrypted}, the title, description and payload are those opened from its envelope.
   */
  default String prompt(TaskKey key, String title, String description,
      com.fasterxml.jackson.databind.node.ObjectNode payload, boolean encrypted) {
    return null;
  }

  /**
   * A source that redelivers what was not acknowledged (one that counts deliveries) offered a task
   * whose result this service has already reported: acknowledge that delivery without a run.
   * Others do nothing.
   */
  default void settle(TaskKey key) {}

  /**
   * The engine takes no more offers (it is shutting down): a source that fetches on demand stops
   * fetching. Others need do nothing: offers that still come are dropped.
   */
  default void stopOffers() {}

  /** Throws unless the source answers a health check. */
  void health();

  /** What the source is, for logs ("ats channel ada-dispatch over http"). */
  String describe();

  @Override
  void close();
}
