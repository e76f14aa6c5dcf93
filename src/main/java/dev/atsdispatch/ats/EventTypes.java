package dev.atsdispatch.ats;

import java.util.List;

/** The ATS WebSocket event names (ats-protocol.md §3.4). */
public final class EventTypes {
  public static final String CREATED = "task.created";
  public static final String CLAIMED = "task.claimed";
  public static final String UPDATED = "task.updated";
  public static final String COMPLETED = "task.completed";
  public static final String CANCELLED = "task.cancelled";
  public static final String FAILED = "task.failed";
  public static final String REJECTED = "task.rejected";
  public static final String REOPENED = "task.reopened";
  public static final String MESSAGE = "task.message";
  public static final String LEASE_EXPIRED = "task.lease_expired";

  public static final List<String> ALL =
      List.of(CREATED, CLAIMED, UPDATED, COMPLETED, CANCELLED, FAILED, REJECTED, REOPENED, MESSAGE,
          LEASE_EXPIRED);

  private EventTypes() {}
}
