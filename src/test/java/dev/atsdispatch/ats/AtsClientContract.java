package dev.atsdispatch.ats;

import dev.atsdispatch.source.TaskStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.Http;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link AtsClient} transport must show against the real dev server. A
 * subclass supplies the transport; the assertions are the same for all.
 */
abstract class AtsClientContract {
  static final ObjectMapper M = new ObjectMapper();
  DevServer server;
  AtsClient client;
  Http http;

  abstract AtsClient newClient(AtsSettings settings);

  /** Whether the transport carries a 300 KiB response whole. */
  abstract boolean fullLargeResponses();

  AtsSettings settings(String url) {
    return new AtsSettings(url, "default", "main", false, "agent", "ada-dispatch", "Ada Dispatch");
  }

  @BeforeEach
  void start() {
    server = DevServer.builder().port(0).inMemory().start();
    client = newClient(settings(server.url()));
    http = new Http(server.url());
  }

  @AfterEach
  void stop() {
    if (client != null) client.close();
    if (server != null) server.close();
  }

  @Test
  void createGetAndList() throws Exception {
    Task t = client.create(new NewTask("hello", "desc", M.readTree("{\"a\":1}"), 7, "ch", null));
    assertTrue(t.id() > 0);
    assertEquals(TaskStatus.PENDING, t.status());
    Task got = client.get(t.id());
    assertEquals("hello", got.title());
    assertEquals("desc", got.description());
    assertEquals(7, got.priority());
    assertEquals("ch", got.channel());
    assertEquals("task", got.type());
    assertEquals(1, got.payload().path("a").asInt());
    client.create(new NewTask("other channel", null, null, 5, "elsewhere", null));
    TaskPage page = client.list(TaskQuery.pending("ch"));
    assertEquals(List.of(t.id()), page.tasks().stream().map(Task::id).toList());
    assertEquals(1, page.count());
  }

  @Test
  void listPagesThroughEverything() {
    Set<Long> created = new HashSet<>();
    for (int i = 0; i < 25; i++) created.add(client.create(new NewTask("t" + i, null, null, 5, "pg", null)).id());
    Set<Long> seen = new HashSet<>();
    TaskPage p1 = client.list(TaskQuery.pending("pg").page(10, 0));
    assertEquals(25, p1.count());
    assertEquals(10, p1.tasks().size());
    for (int off = 0; off < 25; off += 10) {
      client.list(TaskQuery.pending("pg").page(10, off)).tasks().forEach(t -> seen.add(t.id()));
    }
    assertEquals(created, seen);
  }

  @Test
  void createdAfterSortLightAndCursor() throws Exception {
    List<Long> ids = new ArrayList<>();
    for (String title : List.of("b", "c", "a")) {
      ids.add(client.create(new NewTask(title, "long text", M.readTree("{\"k\":1}"), 6, "cur", null)).id());
      Thread.sleep(3);
    }
    Task second = client.get(ids.get(1));
    TaskQuery pending = TaskQuery.pending("cur");
    TaskPage since = client.list(pending.withCreatedAfter(second.createdAt()).oldestFirst().withLight(true));
    assertEquals(ids.subList(1, 3), since.tasks().stream().map(Task::id).toList());
    Task light = since.tasks().get(0);
    assertTrue(light.light());
    assertEquals(second.title(), light.title(), "a short title is kept");
    assertNull(light.description());
    assertEquals(1, light.payload().path("k").asInt());
    assertEquals(6, light.priority());
    assertEquals("cur", light.channel());
    assertEquals(TaskStatus.PENDING, light.status());
    assertEquals(second.createdAt(), light.createdAt());
    assertFalse(second.light());

    assertEquals(List.of(ids.get(2), ids.get(1), ids.get(0)), ids(client.list(pending)));
    assertEquals(ids, ids(client.list(pending.withSort(null, "asc"))));
    assertEquals(List.of(ids.get(1), ids.get(0), ids.get(2)), ids(client.list(pending.withSort("title", "desc"))));
    assertEquals(List.of(ids.get(2), ids.get(0), ids.get(1)), ids(client.list(pending.withSort("title", "asc"))));

    List<Long> walked = new ArrayList<>();
    new PendingCursor(client, pending.withLight(true), 2).forEachRemaining(t -> walked.add(t.id()));
    assertEquals(ids, walked);
  }

  private static List<Long> ids(TaskPage page) {
    return page.tasks().stream().map(Task::id).toList();
  }

  @Test
  void claimRenewCompleteAndConflicts() throws Exception {
    long id = client.create(new NewTask("c", null, null, 5, "ch", null)).id();
    Task claimed = client.claim(id, Duration.ofMinutes(30));
    assertEquals(TaskStatus.IN_PROGRESS, claimed.status());
    assertEquals("ada-dispatch", claimed.assigneeId());
    assertNotNull(claimed.leaseExpires());
    assertTrue(claimed.leaseExpires().isAfter(Instant.now().plus(Duration.ofMinutes(29))));
    Task renewed = client.claim(id, Duration.ofMinutes(60));
    assertTrue(renewed.leaseExpires().isAfter(claimed.leaseExpires()));

    Http other = http.as("agent", "someone-else", "Someone");
    assertEquals(409, other.post("/tasks/" + id + "/claim", "{}").status());

    JsonNode out = M.readTree("{\"response\":\"done\",\"exit_code\":0}");
    client.complete(id, List.of(out));
    Task done = client.get(id);
    assertEquals(TaskStatus.COMPLETED, done.status());
    assertEquals(out, done.outputs().get(0));

    AtsException e = assertThrows(AtsException.class, () -> client.claim(id, Duration.ofMinutes(1)));
    assertEquals(AtsException.Kind.CONFLICT, e.kind());
    assertTrue(e.getMessage().contains("completed status"), e.getMessage());
  }

  @Test
  void releaseGivesAClaimedTaskBackToTheQueue() {
    long id = client.create(new NewTask("r", null, null, 5, "ch", null)).id();
    client.claim(id, Duration.ofMinutes(30));
    client.release(id);
    Task t = client.get(id);
    assertEquals(TaskStatus.PENDING, t.status());
    assertEquals(null, t.assigneeId());
    assertEquals(null, t.leaseExpires());
    assertEquals(200, http.as("agent", "someone-else", "Someone").post("/tasks/" + id + "/claim", "{}").status());
  }

  @Test
  void failFromPendingStoresReason() {
    long id = client.create(new NewTask("f", null, null, 5, "ch", null)).id();
    client.fail(id, "poison: 3 attempts");
    Task t = client.get(id);
    assertEquals(TaskStatus.FAILED, t.status());
    assertEquals("poison: 3 attempts", t.reason());
  }

  @Test
  void messagesArePosted() {
    long id = client.create(new NewTask("m", null, null, 5, "ch", null)).id();
    client.addMessage(id, List.of(M.createObjectNode().put("type", "text").put("content", "Agent processing started")));
    JsonNode msgs = http.get("/tasks/" + id + "/messages").body().path("messages");
    assertEquals(1, msgs.size());
    assertEquals("Agent processing started", msgs.get(0).path("parts").get(0).path("content").asText());
    assertEquals("Ada Dispatch", msgs.get(0).path("actor_name").asText());
  }

  @Test
  void largeOutputsTravelInTheBody() {
    long id = client.create(new NewTask("big", null, null, 5, "ch", null)).id();
    client.claim(id, Duration.ofMinutes(5));
    String big = "x".repeat(300 * 1024);
    client.complete(id, List.of(M.createObjectNode().put("response", big).put("exit_code", 0)));
    JsonNode out = client.get(id).outputs().get(0);
    assertEquals(TaskStatus.COMPLETED, client.get(id).status(), "a large result never fails the report");
    assertEquals(0, out.path("exit_code").asInt());
    String got = out.path("response").asText();
    if (!got.equals(big)) {
      // a transport that must shorten says so, and keeps as much as it can
      assertTrue(out.path("response_truncated").asBoolean(), "shortened without response_truncated");
      assertTrue(big.startsWith(got) && got.length() > 90_000, "kept " + got.length() + " chars");
    }
    assertEquals(big.length() == got.length(), fullLargeResponses());
  }

  @Test
  void errorsAreTyped() {
    AtsException nf = assertThrows(AtsException.class, () -> client.get(999_999));
    assertEquals(AtsException.Kind.NOT_FOUND, nf.kind());
    assertEquals("Task not found", nf.getMessage());
    client.health();
  }

  @Test
  void unreachableServerIsUnavailable() {
    server.close();
    AtsException e = assertThrows(AtsException.class, () -> client.get(1));
    assertEquals(AtsException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.retryable());
    AtsException h = assertThrows(AtsException.class, client::health);
    assertEquals(AtsException.Kind.UNAVAILABLE, h.kind());
  }

  @Test
  void projectScopeUsesScopedRoutes() {
    assertEquals(201, http.post("/orgs/default/projects", "{\"slug\":\"p2\"}").status());
    AtsClient scoped = newClient(new AtsSettings(server.url(), "default", "p2", true, "agent",
        "ada-dispatch", "Ada Dispatch"));
    try {
      long id = scoped.create(new NewTask("scoped", null, null, 5, "ch", null)).id();
      long main = client.create(new NewTask("main", null, null, 5, "ch", null)).id();
      assertEquals("scoped", scoped.get(id).title());
      AtsException e = assertThrows(AtsException.class, () -> scoped.get(main));
      assertEquals(AtsException.Kind.NOT_FOUND, e.kind());
      assertEquals(List.of(id), scoped.list(TaskQuery.pending("ch")).tasks().stream().map(Task::id).toList());
    } finally {
      scoped.close();
    }
  }

  /** The attempt records other services count strikes by: posted and read back through the source. */
  @Test
  void attemptRecordsOnTheThreadAreSharedThroughTheSource() throws Exception {
    Task t = client.create(new NewTask("shared", null, null, 5, "ch", null));
    dev.atsdispatch.source.ats.AtsSource source = new dev.atsdispatch.source.ats.AtsSource("ats", client,
        settings(server.url()), "ch", dev.atsdispatch.time.Clock.SYSTEM, EventWatcher.Timing.DEFAULT);
    dev.atsdispatch.source.TaskKey key = dev.atsdispatch.source.TaskKey.of("ats", t.id());
    assertEquals(dev.atsdispatch.source.TaskSource.SharedAttempts.NONE, source.sharedAttempts(key, null));
    source.note(key, "Agent processing started (attempt 1)", 1, true);
    source.note(key, null, 2, true);
    source.note(key, null, 2, false); // attempt 2 was interrupted: not a strike
    source.note(key, "Agent retry started (attempt 3)", 3, true);
    assertEquals(new dev.atsdispatch.source.TaskSource.SharedAttempts(3, 2), source.sharedAttempts(key, null));
    assertEquals(dev.atsdispatch.source.TaskSource.SharedAttempts.NONE,
        source.sharedAttempts(key, Instant.now().plusSeconds(60)), "records before a reset do not count");
    List<JsonNode> thread = client.messages(t.id());
    assertTrue(thread.stream().anyMatch(m -> m.toString().contains("Agent processing started (attempt 1)")), thread.toString());
    // one message (one call) per note on every transport: where each part costs an `ats` call,
    // a start's progress text alone is posted, and it is read as the attempt record
    assertEquals(4, thread.size(), thread.toString());
  }

  /**
   * A claim brings the task back as it is now, an edit made while it was pending included, with
   * this actor's lease (the cli reads it beside the claim, so the read may come first); a renewal
   * moves the lease on.
   */
  @Test
  void aClaimBringsTheTaskAsItIsNowAndARenewalMovesTheLease() throws Exception {
    dev.atsdispatch.source.ats.AtsSource source = new dev.atsdispatch.source.ats.AtsSource("ats", client,
        settings(server.url()), "ch", dev.atsdispatch.time.Clock.SYSTEM, EventWatcher.Timing.DEFAULT);
    Task waited = client.create(new NewTask("waited", "as offered", null, 5, "ch", null));
    assertEquals(200, http.patch("/tasks/" + waited.id(), "{\"description\":\"edited while it waited\"}").status());
    dev.atsdispatch.source.Lease b = source.claim(dev.atsdispatch.source.TaskKey.of("ats", waited.id()),
        Duration.ofMinutes(1));
    assertEquals("edited while it waited", b.task().description());
    assertFalse(b.task().light());
    assertTrue(b.expiresAt().isAfter(Instant.now().plusSeconds(30)), "leased: " + b.expiresAt());
    assertEquals(TaskStatus.IN_PROGRESS, client.get(waited.id()).status());
    b.renew(Duration.ofMinutes(2));
    assertTrue(b.expiresAt().isAfter(Instant.now().plusSeconds(90)), "renewed: " + b.expiresAt());
    assertEquals(TaskStatus.IN_PROGRESS, client.get(waited.id()).status());
    AtsException taken = assertThrows(AtsException.class, () -> newClient(new AtsSettings(server.url(), "default", "main",
        false, "agent", "someone-else", "Someone Else")).claim(waited.id(), Duration.ofMinutes(1)));
    assertEquals(AtsException.Kind.CONFLICT, taken.kind(), taken.getMessage());
  }
}
