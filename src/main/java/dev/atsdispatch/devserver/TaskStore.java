package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.EventTypes;
import dev.atsdispatch.source.TaskStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The dev server's state: tasks, messages, organizations and projects, held in memory and written
 * through to the {@link Database} before any change becomes visible. One lock orders every change;
 * events are handed to the sink after the commit and under the same lock, so subscribers see them
 * in commit order. Leases are expired lazily at the start of every operation and by a periodic
 * sweep, so a read never shows an expired task as in_progress. Lives as long as its DevServer.
 */
final class TaskStore {
  static final long DEFAULT_LEASE_MS = 60_000;
  static final long MIN_LEASE_MS = 1_000;
  static final long MAX_LEASE_MS = 86_400_000;
  static final String DEFAULT_ORG = "default";
  static final String DEFAULT_PROJECT = "main";
  private static final Pattern SLUG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

  /** Fields of a new task, already checked by the HTTP layer. */
  record NewTask(String title, String description, int priority, String type, String channel,
      JsonNode payload) {}

  /** A partial update; {@code present} names the fields that were given. */
  record Patch(Set<String> present, String title, String description, Integer priority,
      TaskStatus status, String type, String channel, JsonNode payload) {}

  /** A task with its thread, for {@code GET /tasks/{id}}. */
  record TaskView(StoredTask task, List<StoredMessage> messages) {}

  record Page(List<StoredTask> tasks, int count) {}

  private record Lease(Instant expires, long taskId) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final Database db;
  private final Clock clock;
  private final Consumer<TaskEvent> events;
  private final boolean strictOwnership;

  private final TreeMap<Long, StoredTask> tasks = new TreeMap<>();
  private final Map<Long, List<StoredMessage>> messages = new HashMap<>();
  private final Map<Long, Org> orgs = new LinkedHashMap<>();
  private final Map<Long, Project> projects = new LinkedHashMap<>();
  private final PriorityQueue<Lease> leases =
      new PriorityQueue<>((a, b) -> a.expires.compareTo(b.expires));
  private long nextTaskId;
  private long nextMessageId;
  private long nextOrgId;
  private long nextProjectId;

  TaskStore(Database db, Clock clock, Consumer<TaskEvent> events, boolean strictOwnership) {
    this.db = db;
    this.clock = clock;
    this.events = events;
    this.strictOwnership = strictOwnership;
    load();
  }

  private void load() {
    for (JsonNode n : db.loadAll(Database.ORGS)) {
      Org o = Org.fromJson(n);
      orgs.put(o.id(), o);
    }
    for (JsonNode n : db.loadAll(Database.PROJECTS)) {
      Project p = Project.fromJson(n);
      projects.put(p.id(), p);
    }
    for (JsonNode n : db.loadAll(Database.TASKS)) {
      StoredTask t = StoredTask.fromJson(n);
      tasks.put(t.id(), t);
      if (t.status() == TaskStatus.IN_PROGRESS && t.leaseExpires() != null) {
        leases.add(new Lease(t.leaseExpires(), t.id()));
      }
    }
    for (JsonNode n : db.loadAll(Database.MESSAGES)) {
      StoredMessage m = StoredMessage.fromJson(n);
      messages.computeIfAbsent(m.taskId(), k -> new ArrayList<>()).add(m);
    }
    nextTaskId = Math.max(db.meta("next_task_id", 1), tasks.isEmpty() ? 1 : tasks.lastKey() + 1);
    nextMessageId = Math.max(db.meta("next_message_id", 1),
        messages.values().stream().flatMap(List::stream).mapToLong(StoredMessage::id).max()
            .orElse(0) + 1);
    nextOrgId = Math.max(db.meta("next_org_id", 1),
        orgs.keySet().stream().mapToLong(Long::longValue).max().orElse(0) + 1);
    nextProjectId = Math.max(db.meta("next_project_id", 1),
        projects.keySet().stream().mapToLong(Long::longValue).max().orElse(0) + 1);
    lock.lock();
    try {
      defaultProject();
    } finally {
      lock.unlock();
    }
  }

  Instant now() {
    return clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
  }

  // ---- projects and organizations -------------------------------------------------------

  /** The project a scoped route names, or 404. */
  Project project(String orgSlug, String projectSlug) {
    lock.lock();
    try {
      Org o = orgBySlug(orgSlug);
      if (o == null) throw ApiException.notFound("Project not found");
      Project p = projectBySlug(o.id(), projectSlug);
      if (p == null) throw ApiException.notFound("Project not found");
      return p;
    } finally {
      lock.unlock();
    }
  }

  List<Org> orgs() {
    lock.lock();
    try {
      return List.copyOf(orgs.values());
    } finally {
      lock.unlock();
    }
  }

  Org org(String slug) {
    lock.lock();
    try {
      Org o = orgBySlug(slug);
      if (o == null) throw ApiException.notFound("Organization not found");
      return o;
    } finally {
      lock.unlock();
    }
  }

  Org createOrg(String slug, String name) {
    checkSlug(slug);
    lock.lock();
    try {
      if (orgBySlug(slug) != null) throw ApiException.conflict("Organization already exists");
      return insertOrg(slug, name == null || name.isBlank() ? slug : name);
    } finally {
      lock.unlock();
    }
  }

  Org updateOrg(String slug, String newSlug, String newName) {
    if (newSlug != null) checkSlug(newSlug);
    lock.lock();
    try {
      Org o = orgBySlug(slug);
      if (o == null) throw ApiException.notFound("Organization not found");
      if (newSlug != null && !newSlug.equals(slug) && orgBySlug(newSlug) != null) {
        throw ApiException.conflict("Organization already exists");
      }
      Org updated = new Org(o.id(), newSlug == null ? o.slug() : newSlug,
          newName == null ? o.name() : newName, o.createdAt());
      try (Database.Tx tx = db.begin()) {
        tx.put(Database.ORGS, updated.id(), 0, updated.toJson());
        tx.commit();
      }
      orgs.put(updated.id(), updated);
      return updated;
    } finally {
      lock.unlock();
    }
  }

  List<Project> projects(String orgSlug) {
    lock.lock();
    try {
      Org o = orgBySlug(orgSlug);
      if (o == null) throw ApiException.notFound("Organization not found");
      return projects.values().stream().filter(p -> p.orgId() == o.id()).toList();
    } finally {
      lock.unlock();
    }
  }

  /** pending, in_progress and total counts of one project, for {@code ?counts=true}. */
  Map<String, Integer> counts(Project p) {
    lock.lock();
    try {
      expireDue();
      int pending = 0;
      int running = 0;
      int total = 0;
      for (StoredTask t : tasks.values()) {
        if (t.projectId() != p.id()) continue;
        total++;
        if (t.status() == TaskStatus.PENDING) pending++;
        if (t.status() == TaskStatus.IN_PROGRESS) running++;
      }
      return Map.of("pending_count", pending, "in_progress_count", running, "total_count", total);
    } finally {
      lock.unlock();
    }
  }

  Project createProject(String orgSlug, String slug, String name, String description) {
    checkSlug(slug);
    lock.lock();
    try {
      Org o = orgBySlug(orgSlug);
      if (o == null) throw ApiException.notFound("Organization not found");
      if (projectBySlug(o.id(), slug) != null) throw ApiException.conflict("Project already exists");
      return insertProject(o.id(), slug, name == null || name.isBlank() ? slug : name, description);
    } finally {
      lock.unlock();
    }
  }

  Project updateProject(String orgSlug, String slug, String newSlug, String newName,
      String newDescription, boolean descriptionGiven) {
    if (newSlug != null) checkSlug(newSlug);
    lock.lock();
    try {
      Org o = orgBySlug(orgSlug);
      if (o == null) throw ApiException.notFound("Project not found");
      Project p = projectBySlug(o.id(), slug);
      if (p == null) throw ApiException.notFound("Project not found");
      if (newSlug != null && !newSlug.equals(slug) && projectBySlug(o.id(), newSlug) != null) {
        throw ApiException.conflict("Project already exists");
      }
      Project updated = new Project(p.id(), p.orgId(), newSlug == null ? p.slug() : newSlug,
          newName == null ? p.name() : newName,
          descriptionGiven ? newDescription : p.description(), p.createdAt());
      try (Database.Tx tx = db.begin()) {
        tx.put(Database.PROJECTS, updated.id(), updated.orgId(), updated.toJson(o.slug()));
        tx.commit();
      }
      projects.put(updated.id(), updated);
      return updated;
    } finally {
      lock.unlock();
    }
  }

  String orgSlugOf(Project p) {
    lock.lock();
    try {
      Org o = orgs.get(p.orgId());
      return o == null ? null : o.slug();
    } finally {
      lock.unlock();
    }
  }

  private Project defaultProject() {
    Org o = orgBySlug(DEFAULT_ORG);
    if (o == null) o = insertOrg(DEFAULT_ORG, "Default");
    Project p = projectBySlug(o.id(), DEFAULT_PROJECT);
    if (p == null) p = insertProject(o.id(), DEFAULT_PROJECT, "Main", null);
    return p;
  }

  private Org insertOrg(String slug, String name) {
    Org o = new Org(nextOrgId, slug, name, now());
    try (Database.Tx tx = db.begin()) {
      tx.put(Database.ORGS, o.id(), 0, o.toJson());
      tx.commit();
    }
    nextOrgId++;
    orgs.put(o.id(), o);
    return o;
  }

  private Project insertProject(long orgId, String slug, String name, String description) {
    Project p = new Project(nextProjectId, orgId, slug, name, description, now());
    try (Database.Tx tx = db.begin()) {
      tx.put(Database.PROJECTS, p.id(), orgId, p.toJson(orgs.get(orgId).slug()));
      tx.commit();
    }
    nextProjectId++;
    projects.put(p.id(), p);
    return p;
  }

  private Org orgBySlug(String slug) {
    for (Org o : orgs.values()) {
      if (o.slug().equals(slug)) return o;
    }
    return null;
  }

  private Project projectBySlug(long orgId, String slug) {
    for (Project p : projects.values()) {
      if (p.orgId() == orgId && p.slug().equals(slug)) return p;
    }
    return null;
  }

  private static void checkSlug(String slug) {
    if (slug == null || !SLUG.matcher(slug).matches()) {
      throw ApiException.badRequest("slug must be 1-100 letters, digits, '.', '_' or '-', "
          + "starting with a letter or digit");
    }
  }

  // ---- tasks ------------------------------------------------------------------------------

  StoredTask create(Project scope, NewTask n, Actor actor) {
    lock.lock();
    try {
      expireDue();
      Project p = scope != null ? scope : defaultProject();
      Instant now = now();
      StoredTask t = new StoredTask(nextTaskId, p.id(), n.title(), n.description(),
          TaskStatus.PENDING, n.priority(), n.type(), n.channel(),
          n.payload() == null ? JsonNodeFactory.instance.objectNode() : n.payload(),
          JsonNodeFactory.instance.arrayNode(), actor, null, null, null, now, now, null);
      commit(t, EventTypes.CREATED, actor, null);
      nextTaskId++;
      return t;
    } finally {
      lock.unlock();
    }
  }

  TaskView get(Project scope, long id) {
    lock.lock();
    try {
      expireDue();
      StoredTask t = find(scope, id);
      return new TaskView(t, List.copyOf(messages.getOrDefault(id, List.of())));
    } finally {
      lock.unlock();
    }
  }

  Page list(Project scope, ListQuery q) {
    lock.lock();
    List<StoredTask> matches = new ArrayList<>();
    try {
      expireDue();
      for (StoredTask t : tasks.values()) {
        if ((scope == null || t.projectId() == scope.id()) && q.matches(t)) matches.add(t);
      }
    } finally {
      lock.unlock();
    }
    matches.sort(q.order());
    int from = Math.min(q.offset(), matches.size());
    int to = q.limit() == null ? matches.size() : (int) Math.min(matches.size(), (long) from + q.limit());
    return new Page(List.copyOf(matches.subList(from, to)), matches.size());
  }

  StoredTask update(Project scope, long id, Patch patch, Actor actor) {
    lock.lock();
    try {
      expireDue();
      StoredTask old = find(scope, id);
      Set<String> given = patch.present();
      StoredTask t = old.withFields(
          given.contains("title") ? patch.title() : old.title(),
          given.contains("description") ? patch.description() : old.description(),
          given.contains("priority") ? patch.priority() : old.priority(),
          given.contains("type") ? patch.type() : old.type(),
          given.contains("channel") ? patch.channel() : old.channel(),
          given.contains("payload") ? patch.payload() : old.payload());
      if (given.contains("status") && patch.status() != old.status()) {
        t = t.withStatus(patch.status(), now());
        if (patch.status() != TaskStatus.IN_PROGRESS) {
          // A lease exists only in in_progress; an unassigned state has no assignee.
          t = t.withAssignee(patch.status() == TaskStatus.PENDING ? null : t.assignee(), null);
        }
      }
      if (t.equals(old)) return old;
      t = t.withStatus(t.status(), now());
      ObjectNode extras = JsonNodeFactory.instance.objectNode();
      ObjectNode changes = extras.putObject("changes");
      ObjectNode after = t.toJson();
      ObjectNode before = old.toJson();
      for (String f : given) {
        if (!before.path(f).equals(after.path(f))) changes.set(f, after.path(f));
      }
      extras.put("previous_status", old.status().wire());
      commit(t, EventTypes.UPDATED, actor, extras);
      return t;
    } finally {
      lock.unlock();
    }
  }

  StoredTask claim(Project scope, long id, long leaseMs, Actor actor) {
    lock.lock();
    try {
      expireDue();
      StoredTask old = find(scope, id);
      boolean renewal = old.status() == TaskStatus.IN_PROGRESS && old.assignee() != null
          && actor.sameIdentity(old.assignee().type(), old.assignee().id());
      if (old.status() != TaskStatus.PENDING && !renewal) {
        throw refused("claim", old);
      }
      Instant now = now();
      Instant lease = now.plus(Duration.ofMillis(leaseMs));
      StoredTask t = old.withStatus(TaskStatus.IN_PROGRESS, now).withAssignee(actor, lease);
      ObjectNode extras = JsonNodeFactory.instance.objectNode();
      extras.put("lease_duration", leaseMs);
      extras.put("renewal", renewal);
      commit(t, EventTypes.CLAIMED, actor, extras);
      leases.add(new Lease(lease, id));
      return t;
    } finally {
      lock.unlock();
    }
  }

  StoredTask complete(Project scope, long id, JsonNode outputs, Actor actor) {
    lock.lock();
    try {
      expireDue();
      StoredTask old = find(scope, id);
      requireStatus("complete", old, EnumSet.of(TaskStatus.IN_PROGRESS, TaskStatus.PENDING));
      checkOwner(old, actor);
      Instant now = now();
      StoredTask t = old.withStatus(TaskStatus.COMPLETED, now)
          .withAssignee(old.assignee(), null)
          .withOutputs(outputs == null ? old.outputs() : outputs, now);
      commit(t, EventTypes.COMPLETED, actor, null);
      return t;
    } finally {
      lock.unlock();
    }
  }

  StoredTask fail(Project scope, long id, String reason, Actor actor) {
    return finish(scope, id, reason, actor, "fail", TaskStatus.FAILED, EventTypes.FAILED,
        EnumSet.of(TaskStatus.IN_PROGRESS, TaskStatus.PENDING), true);
  }

  StoredTask cancel(Project scope, long id, String reason, Actor actor) {
    return finish(scope, id, reason, actor, "cancel", TaskStatus.CANCELLED, EventTypes.CANCELLED,
        EnumSet.of(TaskStatus.IN_PROGRESS, TaskStatus.PENDING), false);
  }

  StoredTask reject(Project scope, long id, String reason, Actor actor) {
    return finish(scope, id, reason, actor, "reject", TaskStatus.REJECTED, EventTypes.REJECTED,
        EnumSet.of(TaskStatus.PENDING, TaskStatus.IN_PROGRESS), false);
  }

  StoredTask reopen(Project scope, long id, String reason, Actor actor) {
    lock.lock();
    try {
      expireDue();
      StoredTask old = find(scope, id);
      if (!old.status().isTerminal()) throw refused("reopen", old);
      StoredTask t = old.withStatus(TaskStatus.PENDING, now()).withAssignee(null, null)
          .withReason(reason);
      commit(t, EventTypes.REOPENED, actor, reasonExtras(reason, old));
      return t;
    } finally {
      lock.unlock();
    }
  }

  private StoredTask finish(Project scope, long id, String reason, Actor actor, String action,
      TaskStatus to, String event, Set<TaskStatus> from, boolean ownerOnly) {
    lock.lock();
    try {
      expireDue();
      StoredTask old = find(scope, id);
      requireStatus(action, old, from);
      if (ownerOnly) checkOwner(old, actor);
      StoredTask t = old.withStatus(to, now()).withAssignee(old.assignee(), null);
      if (reason != null) t = t.withReason(reason);
      commit(t, event, actor, reasonExtras(reason, old));
      return t;
    } finally {
      lock.unlock();
    }
  }

  StoredMessage addMessage(Project scope, long id, JsonNode parts, Actor actor) {
    lock.lock();
    try {
      expireDue();
      StoredTask t = find(scope, id);
      StoredMessage m = new StoredMessage(nextMessageId, id, actor, parts, now());
      try (Database.Tx tx = db.begin()) {
        tx.put(Database.MESSAGES, m.id(), id, m.toJson());
        tx.commit();
      }
      nextMessageId++;
      messages.computeIfAbsent(id, k -> new ArrayList<>()).add(m);
      ObjectNode extras = JsonNodeFactory.instance.objectNode();
      extras.set("message", m.toJson());
      events.accept(new TaskEvent(EventTypes.MESSAGE, t, actor, m.createdAt(), extras));
      return m;
    } finally {
      lock.unlock();
    }
  }

  List<StoredMessage> messages(Project scope, long id) {
    lock.lock();
    try {
      find(scope, id);
      return List.copyOf(messages.getOrDefault(id, List.of()));
    } finally {
      lock.unlock();
    }
  }

  /** Statistics over every task, or one project's (ats-protocol.md §2.9). */
  ObjectNode stats(Project scope) {
    lock.lock();
    try {
      expireDue();
      Instant now = now();
      Instant day = now.minus(Duration.ofDays(1));
      Instant week = now.minus(Duration.ofDays(7));
      ObjectNode s = JsonNodeFactory.instance.objectNode();
      ObjectNode byStatus = JsonNodeFactory.instance.objectNode();
      for (TaskStatus st : TaskStatus.values()) byStatus.put(st.wire(), 0);
      Map<String, Integer> byChannel = new TreeMap<>();
      int total = 0;
      int completed = 0;
      double completionSeconds = 0;
      int created24 = 0;
      int completed24 = 0;
      int created7 = 0;
      int completed7 = 0;
      for (StoredTask t : tasks.values()) {
        if (scope != null && t.projectId() != scope.id()) continue;
        total++;
        byStatus.put(t.status().wire(), byStatus.path(t.status().wire()).asInt() + 1);
        byChannel.merge(t.channel(), 1, Integer::sum);
        if (!t.createdAt().isBefore(day)) created24++;
        if (!t.createdAt().isBefore(week)) created7++;
        if (t.status() == TaskStatus.COMPLETED && t.completedAt() != null) {
          completed++;
          completionSeconds += Duration.between(t.createdAt(), t.completedAt()).toMillis() / 1000.0;
          if (!t.completedAt().isBefore(day)) completed24++;
          if (!t.completedAt().isBefore(week)) completed7++;
        }
      }
      s.put("total", total);
      s.set("by_status", byStatus);
      ObjectNode ch = s.putObject("by_channel");
      byChannel.forEach(ch::put);
      if (completed == 0) {
        s.putNull("avg_completion_seconds");
      } else {
        s.put("avg_completion_seconds", Math.round(completionSeconds / completed * 1000) / 1000.0);
      }
      s.put("completed_count", completed);
      ObjectNode recent = s.putObject("recent");
      recent.put("created_24h", created24);
      recent.put("completed_24h", completed24);
      recent.put("created_7d", created7);
      recent.put("completed_7d", completed7);
      return s;
    } finally {
      lock.unlock();
    }
  }

  /** Wipes every task, message, organization and project; ids are never reused. */
  void reset() {
    lock.lock();
    try {
      try (Database.Tx tx = db.begin()) {
        for (String table : List.of(Database.TASKS, Database.MESSAGES, Database.ORGS,
            Database.PROJECTS)) {
          tx.deleteAll(table);
        }
        tx.putMeta("next_task_id", nextTaskId);
        tx.putMeta("next_message_id", nextMessageId);
        tx.putMeta("next_org_id", nextOrgId);
        tx.putMeta("next_project_id", nextProjectId);
        tx.commit();
      }
      tasks.clear();
      messages.clear();
      orgs.clear();
      projects.clear();
      leases.clear();
      defaultProject();
    } finally {
      lock.unlock();
    }
  }

  /** Returns every expired in_progress task to pending; called by the sweeper and every op. */
  void sweep() {
    lock.lock();
    try {
      expireDue();
    } finally {
      lock.unlock();
    }
  }

  int size() {
    lock.lock();
    try {
      return tasks.size();
    } finally {
      lock.unlock();
    }
  }

  // ---- internals (lock held) ------------------------------------------------------------

  private void expireDue() {
    Instant now = clock.instant();
    List<StoredTask> expired = null;
    while (!leases.isEmpty() && !leases.peek().expires.isAfter(now)) {
      Lease l = leases.poll();
      StoredTask t = tasks.get(l.taskId);
      if (t == null || t.status() != TaskStatus.IN_PROGRESS || !l.expires.equals(t.leaseExpires())) {
        continue; // stale entry: renewed, finished or gone
      }
      if (expired == null) expired = new ArrayList<>();
      expired.add(t);
    }
    if (expired == null) return;
    Instant at = now();
    List<StoredTask> updated = new ArrayList<>(expired.size());
    try (Database.Tx tx = db.begin()) {
      for (StoredTask t : expired) {
        StoredTask u = t.withStatus(TaskStatus.PENDING, at).withAssignee(null, null);
        tx.put(Database.TASKS, u.id(), u.projectId(), u.toJson());
        updated.add(u);
      }
      tx.commit();
    }
    for (int i = 0; i < updated.size(); i++) {
      StoredTask u = updated.get(i);
      tasks.put(u.id(), u);
      ObjectNode extras = JsonNodeFactory.instance.objectNode();
      extras.put("previous_status", TaskStatus.IN_PROGRESS.wire());
      Actor was = expired.get(i).assignee();
      if (was != null) {
        extras.put("previous_assignee_id", was.id());
        extras.put("previous_assignee_name", was.name());
      }
      events.accept(new TaskEvent(EventTypes.LEASE_EXPIRED, u, Actor.SYSTEM, at, extras));
    }
  }

  private void commit(StoredTask t, String event, Actor actor, ObjectNode extras) {
    try (Database.Tx tx = db.begin()) {
      tx.put(Database.TASKS, t.id(), t.projectId(), t.toJson());
      tx.commit();
    }
    tasks.put(t.id(), t);
    events.accept(new TaskEvent(event, t, actor, t.updatedAt(), extras));
  }

  private StoredTask find(Project scope, long id) {
    StoredTask t = tasks.get(id);
    if (t == null || (scope != null && t.projectId() != scope.id())) {
      throw ApiException.notFound("Task not found");
    }
    return t;
  }

  private static void requireStatus(String action, StoredTask t, Set<TaskStatus> allowed) {
    if (!allowed.contains(t.status())) throw refused(action, t);
  }

  private void checkOwner(StoredTask t, Actor actor) {
    if (strictOwnership && t.status() == TaskStatus.IN_PROGRESS && t.assignee() != null
        && !actor.sameIdentity(t.assignee().type(), t.assignee().id())) {
      throw new ApiException(403, "Task is assigned to another actor");
    }
  }

  private static ApiException refused(String action, StoredTask t) {
    return ApiException.conflict("Cannot " + action + " task in " + t.status().wire() + " status");
  }

  private static ObjectNode reasonExtras(String reason, StoredTask old) {
    ObjectNode extras = JsonNodeFactory.instance.objectNode();
    if (reason != null) extras.put("reason", reason);
    extras.put("previous_status", old.status().wire());
    return extras;
  }
}
