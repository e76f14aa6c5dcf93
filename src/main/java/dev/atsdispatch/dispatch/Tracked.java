package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import java.util.Set;

/**
 * One task the engine knows about: the light offer it waits with, what intake made of it, and
 * where it is. Owned by the loop thread; the {@link Claim} is what other threads touch.
 */
final class Tracked {
  /** OPENING: admission is deciding on the intake thread; the entry only dedupes offers meanwhile. */
  enum State { OPENING, DEFERRED, QUEUED, RUNNING, DONE }

  final TaskKey key;
  SourceTask offer;
  /**
   * The whole task as its offer (an event) carried it, kept only while the task may start at once
   * (a place was free): its claim then need not read the task again where that read is a call of
   * its own (the cli transport). Dropped once it is opened, or when the task has to wait.
   */
  SourceTask whole;
  final SourceEvent.Why why;
  TaskView view;
  State state = State.QUEUED;
  long doneAt;
  long deferredAt;
  Dependencies.Parsed deps = Dependencies.Parsed.NONE;
  Set<String> slots = Set.of();
  Claim claim;
  /** When the offer reached the service, and when its claim succeeded: the pickup's first stages. */
  java.time.Instant offeredAt;
  java.time.Instant claimedAt;
  /** When admission's decision to run it was back on the loop, and when its claim was sent (pickup timings). */
  java.time.Instant admittedAt;
  java.time.Instant claimSentAt;

  Tracked(SourceTask offer, SourceEvent.Why why) {
    this.key = offer.key();
    this.offer = offer;
    this.why = why;
  }

  /** Drops what only a task still to run needs (called once it is done; the loop thread). */
  void releaseContent() {
    view = null;
    whole = null;
    claim = null;
    deps = Dependencies.Parsed.NONE;
    slots = Set.of();
    offeredAt = claimedAt = admittedAt = claimSentAt = null;
    offer = new SourceTask(key, offer.status(), offer.priority(), null, null, null, null, true, null); // no title, no payload
  }

  int priority() {
    return offer.priority();
  }

  @Override
  public String toString() {
    return key + "(" + state + ")";
  }
}
