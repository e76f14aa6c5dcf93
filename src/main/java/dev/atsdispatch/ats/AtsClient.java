package dev.atsdispatch.ats;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;

/**
 * The seam between the service and ATS. Two transports implement it: {@code http} (REST through
 * OkHttp) and {@code cli} (the {@code ats} binary). Every failure is an {@link AtsException} typed
 * by kind, the same for both. Implementations are thread-safe.
 */
public interface AtsClient extends AutoCloseable {
  String transport();

  Task get(long id);

  /**
   * The task as a light task ({@link Task#toLight()}): enough for its status, priority and payload.
   * A transport that can reads it without ever holding the description.
   */
  default Task getLight(long id) {
    return get(id).toLight();
  }

  TaskPage list(TaskQuery query);

  Task create(NewTask task);

  /** Claims with an explicit lease; a re-claim by the same actor renews it. */
  Task claim(long id, Duration lease);

  /** As {@link #claim}, without reading the task back where that costs a call of its own. */
  default void claimOnly(long id, Duration lease) {
    claim(id, lease);
  }

  /** Whether {@link #claim} brings the task back with the claim itself (no call of its own to read it). */
  default boolean claimReadsTask() {
    return true;
  }

  /** Completes with outputs, always sent as an array. */
  void complete(long id, List<JsonNode> outputs);

  void fail(long id, String reason);

  /**
   * Gives a task this actor holds back to the queue (status pending, lease and assignee cleared),
   * so it need not wait for its lease to expire; used when a graceful shutdown stops an agent.
   */
  void release(long id);

  /** Reopens a terminal task ({@code pending} again, lease and assignee cleared); {@code reason} may be null. */
  default void reopen(long id, String reason) {
    throw new AtsException(AtsException.Kind.BAD_REQUEST, 400, "this ATS client cannot reopen tasks");
  }

  /** Adds a message with one or more parts ({@code {"type":"text","content":...}}). */
  void addMessage(long id, List<JsonNode> parts);

  /** Whether each part of {@link #addMessage} costs a call of its own (the CLI posts one part a message). */
  default boolean callPerPart() {
    return false;
  }

  /** The task's thread: message objects in creation order. */
  List<JsonNode> messages(long id);

  /** Throws unless ATS answers its health check. */
  void health();

  @Override
  void close();
}
