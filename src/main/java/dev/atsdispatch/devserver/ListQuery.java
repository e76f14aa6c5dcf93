package dev.atsdispatch.devserver;

import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.WireTime;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The filters, order and page of {@code GET /tasks} (ats-protocol.md §2.4), parsed and checked
 * from the query string. No implicit limit: without {@code limit} every match is returned.
 */
record ListQuery(
    Set<TaskStatus> statuses,
    String channel,
    String type,
    String assigneeId,
    Instant createdAfter,
    Instant updatedAfter,
    Integer priority,
    Integer minPriority,
    Integer maxPriority,
    String search,
    Long projectId,
    String sortBy,
    boolean descending,
    int offset,
    Integer limit) {

  static ListQuery parse(Map<String, String> q) {
    Set<TaskStatus> statuses = null;
    String status = q.get("status");
    if (status != null && !status.isBlank() && !status.equals("all")) {
      statuses = EnumSet.noneOf(TaskStatus.class);
      for (String s : status.split(",")) {
        String v = s.trim();
        statuses.add(TaskStatus.fromWire(v).orElseThrow(() -> ApiException.badRequest(
            "Invalid status: " + v + " (expected one of " + TaskStatus.wireNames() + ")")));
      }
    }
    String sortBy = q.getOrDefault("sort_by", "created_at");
    if (!Set.of("created_at", "updated_at", "priority", "title", "id").contains(sortBy)) {
      throw ApiException.badRequest(
          "Invalid sort_by: " + sortBy + " (expected created_at, updated_at, priority, title or id)");
    }
    String dir = q.get("sort_dir");
    boolean descending;
    if (dir == null) {
      descending = !sortBy.equals("title");
    } else {
      switch (dir.toLowerCase(Locale.ROOT)) {
        case "asc" -> descending = false;
        case "desc" -> descending = true;
        default -> throw ApiException.badRequest("Invalid sort_dir: " + dir + " (expected asc or desc)");
      }
    }
    String search = q.get("search");
    return new ListQuery(
        statuses,
        q.get("channel"),
        q.get("type"),
        q.get("assignee_id"),
        time(q, "created_after"),
        time(q, "updated_after"),
        priority(q, "priority"),
        priority(q, "min_priority"),
        priority(q, "max_priority"),
        search == null || search.isEmpty() ? null : search.toLowerCase(Locale.ROOT),
        q.containsKey("project_id") ? (long) integer(q, "project_id", 1, Integer.MAX_VALUE) : null,
        sortBy,
        descending,
        q.containsKey("offset") ? integer(q, "offset", 0, Integer.MAX_VALUE) : 0,
        q.containsKey("limit") ? integer(q, "limit", 0, Integer.MAX_VALUE) : null);
  }

  boolean matches(StoredTask t) {
    if (statuses != null && !statuses.contains(t.status())) return false;
    if (channel != null && !channel.equals(t.channel())) return false;
    if (type != null && !type.equals(t.type())) return false;
    if (assigneeId != null && (t.assignee() == null || !assigneeId.equals(t.assignee().id()))) {
      return false;
    }
    if (createdAfter != null && t.createdAt().isBefore(createdAfter)) return false;
    if (updatedAfter != null && t.updatedAt().isBefore(updatedAfter)) return false;
    if (priority != null && t.priority() != priority) return false;
    if (minPriority != null && t.priority() < minPriority) return false;
    if (maxPriority != null && t.priority() > maxPriority) return false;
    if (projectId != null && t.projectId() != projectId) return false;
    if (search != null) {
      boolean hit = t.title().toLowerCase(Locale.ROOT).contains(search)
          || (t.description() != null && t.description().toLowerCase(Locale.ROOT).contains(search));
      if (!hit) return false;
    }
    return true;
  }

  Comparator<StoredTask> order() {
    Comparator<StoredTask> c = switch (sortBy) {
      case "updated_at" -> Comparator.comparing(StoredTask::updatedAt);
      case "priority" -> Comparator.comparingInt(StoredTask::priority);
      case "title" -> Comparator.comparing(StoredTask::title);
      case "id" -> Comparator.comparingLong(StoredTask::id);
      default -> Comparator.comparing(StoredTask::createdAt);
    };
    // Ties (many tasks are created in one millisecond) follow the id, in the same direction.
    c = c.thenComparingLong(StoredTask::id);
    return descending ? c.reversed() : c;
  }

  private static Instant time(Map<String, String> q, String key) {
    String v = q.get(key);
    if (v == null) return null;
    try {
      return WireTime.parse(v);
    } catch (DateTimeParseException e) {
      throw ApiException.badRequest(key + " must be an ISO-8601 timestamp, got: " + v);
    }
  }

  private static Integer priority(Map<String, String> q, String key) {
    return q.containsKey(key) ? integer(q, key, 1, 10) : null;
  }

  private static int integer(Map<String, String> q, String key, int min, int max) {
    String v = q.get(key);
    try {
      long n = Long.parseLong(v.trim());
      if (n < min || n > max) throw new NumberFormatException();
      return (int) n;
    } catch (NumberFormatException e) {
      throw ApiException.badRequest(key + " must be an integer from " + min
          + (max == Integer.MAX_VALUE ? " up" : " to " + max) + ", got: " + v);
    }
  }
}
