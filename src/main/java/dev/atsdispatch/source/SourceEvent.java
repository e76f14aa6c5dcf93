package dev.atsdispatch.source;

/** What a source pushes to the engine. The sink that receives these must not block. */
public sealed interface SourceEvent {
  /** Why a task is on offer. */
  enum Why { CREATED, REOPENED, LEASE_EXPIRED, RELEASED, LISTED }

  /** A task that may be taken (pending). */
  record Offered(SourceTask task, Why why) implements SourceEvent {}

  /** A task was cancelled at the source. */
  record Cancelled(TaskKey key) implements SourceEvent {}

  /**
   * A task reached a status seen from outside (finished by anyone, or claimed by another);
   * {@code parked}: failed only to wait for an answer to a question ({@link Lease#parkReason}).
   */
  record StatusChanged(TaskKey key, TaskStatus status, boolean parked) implements SourceEvent {
    public StatusChanged(TaskKey key, TaskStatus status) {
      this(key, status, false);
    }
  }

  /** Someone wrote on the task's thread (threads capability): an answer to a question, perhaps. */
  record Said(TaskKey key) implements SourceEvent {}

  /** The source's push channel is (again) up: events may have been missed, so reconcile. */
  record Connected() implements SourceEvent {}
}
