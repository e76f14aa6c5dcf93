package dev.atsdispatch.devserver;

import static dev.atsdispatch.testing.ApiChecks.expect;
import static dev.atsdispatch.testing.ApiChecks.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.WireTime;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Http.Resp;
import dev.atsdispatch.testing.MutableClock;
import dev.atsdispatch.testing.RawHttp;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /tasks} filters, order and paging (ats-protocol.md §2.4, §9 Q7), {@code GET
 * /tasks/stats} (§2.9), the message thread embedded in {@code GET /tasks/{id}} (§9 Q14), and how
 * actor headers become {@code source_*} (§1.4, §9 Q9).
 */
class ListAndStatsTest {
  private static DevServer server;
  private static Http http;

  @BeforeAll
  static void start() {
    server = DevServer.builder().port(0).inMemory().enableTestReset(true).start();
    http = new Http(server.url());
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @BeforeEach
  void reset() {
    expect(200, http.post("/_test/reset", (String) null));
  }

  private static JsonNode createJson(String json) {
    return expect(201, http.post("/tasks", json)).task();
  }

  private static long create(String title, String channel, String type, int priority) {
    return createJson("{\"title\":" + Http.json(title) + ",\"channel\":" + Http.json(channel)
        + ",\"type\":" + Http.json(type) + ",\"priority\":" + priority + "}").path("id").asLong();
  }

  private static long create(String title) {
    return create(title, "default", "task", 5);
  }

  /** Sleeps just long enough that the next write gets a later millisecond timestamp. */
  private static void nextMillisecond() throws InterruptedException {
    Thread.sleep(3);
  }

  private static String enc(String iso) {
    return iso.replace(":", "%3A");
  }

  // ---- filters ------------------------------------------------------------------------------

  @Test
  void statusSingleAndCommaList() {
    long pending = create("pending");
    long running = create("running");
    long completed = create("completed");
    long failed = create("failed");
    long cancelled = create("cancelled");
    long rejected = create("rejected");
    expect(200, http.post("/tasks/" + running + "/claim", "{}"));
    expect(200, http.post("/tasks/" + completed + "/complete", "{}"));
    expect(200, http.post("/tasks/" + failed + "/fail", "{}"));
    expect(200, http.post("/tasks/" + cancelled + "/cancel", (String) null));
    expect(200, http.post("/tasks/" + rejected + "/reject", "{}"));

    assertEquals(List.of(pending), ids(http.get("/tasks?status=pending")));
    assertEquals(List.of(running), ids(http.get("/tasks?status=in_progress")));
    assertEquals(List.of(completed), ids(http.get("/tasks?status=completed")));
    assertEquals(List.of(failed), ids(http.get("/tasks?status=failed")));
    assertEquals(List.of(cancelled), ids(http.get("/tasks?status=cancelled")));
    assertEquals(List.of(rejected), ids(http.get("/tasks?status=rejected")));
    assertEquals(List.of(completed, running), ids(http.get("/tasks?status=in_progress,completed")));
    assertEquals(List.of(rejected, failed, pending),
        ids(http.get("/tasks?status=pending,failed%2Crejected")));
    Resp both = http.get("/tasks?status=completed,+pending");
    assertEquals(List.of(completed, pending), ids(both));
    assertEquals(2, both.body().path("count").asInt());
    assertEquals(List.of(rejected, cancelled, failed, completed, running, pending),
        ids(http.get("/tasks")));
  }

  @Test
  void channelTypeAndAssignee() {
    long a = create("a", "ada-dispatch", "task", 5);
    long b = create("b", "ada-dispatch", "bug", 5);
    long c = create("c", "other", "bug", 5);
    long d = create("d", "my chan", "task", 5);
    Http alice = http.as("agent", "alice", "Alice");
    Http bob = http.as("agent", "bob", "Bob");
    expect(200, alice.post("/tasks/" + a + "/claim", "{}"));
    expect(200, alice.post("/tasks/" + c + "/claim", "{}"));
    expect(200, bob.post("/tasks/" + b + "/claim", "{}"));

    assertEquals(List.of(b, a), ids(http.get("/tasks?channel=ada-dispatch")));
    assertEquals(List.of(d), ids(http.get("/tasks?channel=my+chan")));
    assertEquals(List.of(), ids(http.get("/tasks?channel=ada")));
    assertEquals(List.of(c, b), ids(http.get("/tasks?type=bug")));
    assertEquals(List.of(c, a), ids(http.get("/tasks?assignee_id=alice")));
    assertEquals(List.of(b), ids(http.get("/tasks?assignee_id=bob")));
    assertEquals(List.of(), ids(http.get("/tasks?assignee_id=Alice")));
    assertEquals(List.of(b), ids(http.get("/tasks?channel=ada-dispatch&type=bug")));
    assertEquals(List.of(a), ids(http.get("/tasks?channel=ada-dispatch&assignee_id=alice")));
    assertEquals(List.of(),
        ids(http.get("/tasks?channel=ada-dispatch&type=bug&assignee_id=alice")));
  }

  @Test
  void limitOffsetAndCountBeforePaging() {
    List<Long> created = new ArrayList<>();
    for (int i = 0; i < 7; i++) created.add(create("t" + i, i % 2 == 0 ? "even" : "odd", "task", 5));
    List<Long> newest = new ArrayList<>(created);
    newest.sort(Comparator.reverseOrder());

    Resp page = http.get("/tasks?limit=3");
    assertEquals(newest.subList(0, 3), ids(page));
    assertEquals(7, page.body().path("count").asInt());
    page = http.get("/tasks?limit=3&offset=3");
    assertEquals(newest.subList(3, 6), ids(page));
    assertEquals(7, page.body().path("count").asInt());
    page = http.get("/tasks?offset=6");
    assertEquals(newest.subList(6, 7), ids(page));
    assertEquals(7, page.body().path("count").asInt());
    page = http.get("/tasks?offset=50&limit=5");
    assertEquals(List.of(), ids(page));
    assertEquals(7, page.body().path("count").asInt());
    page = http.get("/tasks?limit=0");
    assertEquals(List.of(), ids(page));
    assertEquals(7, page.body().path("count").asInt());
    // count is the filtered total, before limit/offset.
    page = http.get("/tasks?channel=even&limit=1&offset=1");
    assertEquals(List.of(created.get(4)), ids(page));
    assertEquals(4, page.body().path("count").asInt());
  }

  @Test
  void createdAfterAndUpdatedAfter() throws Exception {
    JsonNode a = createJson("{\"title\":\"a\"}");
    nextMillisecond();
    JsonNode b = createJson("{\"title\":\"b\"}");
    nextMillisecond();
    JsonNode c = createJson("{\"title\":\"c\"}");
    long ia = a.path("id").asLong();
    long ib = b.path("id").asLong();
    long ic = c.path("id").asLong();
    String bCreated = b.path("created_at").asText();

    // created_after is inclusive (created_at >= value).
    assertEquals(List.of(ic, ib), ids(http.get("/tasks?created_after=" + enc(bCreated))));
    Instant afterC = Instant.parse(c.path("created_at").asText()).plusMillis(1);
    assertEquals(List.of(), ids(http.get("/tasks?created_after=" + enc(afterC.toString()))));
    assertEquals(List.of(ic, ib, ia),
        ids(http.get("/tasks?created_after=" + enc(a.path("created_at").asText()))));
    // An offset form of the same instant works too.
    String offsetForm = Instant.parse(bCreated).atOffset(java.time.ZoneOffset.ofHours(2)).toString();
    assertEquals(List.of(ic, ib),
        ids(http.get("/tasks?created_after=" + enc(offsetForm).replace("+", "%2B"))));

    nextMillisecond();
    JsonNode updated = expect(200, http.patch("/tasks/" + ia, "{\"priority\":6}")).task();
    String aUpdated = updated.path("updated_at").asText();
    assertTrue(Instant.parse(aUpdated).isAfter(Instant.parse(c.path("updated_at").asText())));
    assertEquals(List.of(ia), ids(http.get("/tasks?updated_after=" + enc(aUpdated))));
    assertEquals(List.of(ic, ia),
        ids(http.get("/tasks?updated_after=" + enc(c.path("updated_at").asText()))));
    // Both together: created since b and updated since a's update -> nothing.
    assertEquals(List.of(), ids(http.get("/tasks?created_after=" + enc(bCreated)
        + "&updated_after=" + enc(aUpdated))));
  }

  @Test
  void createdAtTiesFollowTheIdSoACreatedAfterCursorIsStable() {
    // Every task in one millisecond: the order among them must be the id, on every request.
    MutableClock clock = MutableClock.startingNow();
    try (DevServer tied = DevServer.builder().port(0).inMemory().clock(clock).start()) {
      Http h = new Http(tied.url());
      List<Long> created = new ArrayList<>();
      for (int i = 0; i < 5; i++) created.add(h.create("tie" + i, "default"));
      clock.advance(Duration.ofMillis(1));
      long later = h.create("later", "default");
      String t0 = enc(WireTime.format(clock.instant().minusMillis(1)));

      List<Long> asc = new ArrayList<>(created);
      asc.add(later);
      assertEquals(asc, ids(h.get("/tasks?sort_by=created_at&sort_dir=asc")));
      List<Long> desc = new ArrayList<>(asc);
      java.util.Collections.reverse(desc);
      assertEquals(desc, ids(h.get("/tasks?sort_by=created_at&sort_dir=desc")));
      // Inclusive at the tied instant, with an offset into the tie.
      assertEquals(List.of(created.get(3), created.get(4), later),
          ids(h.get("/tasks?created_after=" + t0 + "&sort_by=created_at&sort_dir=asc&offset=3")));
      assertEquals(List.of(later), ids(h.get("/tasks?created_after="
          + enc(WireTime.format(clock.instant())) + "&sort_by=created_at&sort_dir=asc")));
    }
  }

  @Test
  void priorityFilters() {
    Map<Integer, Long> byPriority = new TreeMap<>();
    for (int p : new int[] {1, 3, 5, 7, 8, 10}) byPriority.put(p, create("p" + p, "default", "task", p));
    assertEquals(List.of(byPriority.get(7)), ids(http.get("/tasks?priority=7")));
    assertEquals(List.of(), ids(http.get("/tasks?priority=2")));
    assertEquals(List.of(byPriority.get(10), byPriority.get(8), byPriority.get(7)),
        ids(http.get("/tasks?min_priority=7")));
    assertEquals(List.of(byPriority.get(3), byPriority.get(1)),
        ids(http.get("/tasks?max_priority=3")));
    assertEquals(List.of(byPriority.get(8), byPriority.get(7), byPriority.get(5)),
        ids(http.get("/tasks?min_priority=5&max_priority=8")));
    assertEquals(List.of(byPriority.get(10)), ids(http.get("/tasks?min_priority=10")));
  }

  @Test
  void searchIsCaseInsensitiveOnTitleAndDescription() {
    long t1 = createJson("{\"title\":\"Deploy the API\"}").path("id").asLong();
    long t2 = createJson("{\"title\":\"deploy docs\"}").path("id").asLong();
    long t3 = createJson("{\"title\":\"Misc\",\"description\":\"needs DEPLOY approval\"}").path("id").asLong();
    createJson("{\"title\":\"Unrelated\",\"description\":\"nothing here\"}");
    long hw = createJson("{\"title\":\"Say HELLO World now\"}").path("id").asLong();
    createJson("{\"title\":\"hello-world\"}");
    createJson("{\"title\":\"helloworld\"}");
    long hwDesc = createJson("{\"title\":\"x\",\"description\":\"a hello world b\"}").path("id").asLong();

    assertEquals(List.of(t3, t2, t1), ids(http.get("/tasks?search=deploy")));
    assertEquals(List.of(t3, t2, t1), ids(http.get("/tasks?search=DePlOy")));
    // The CLI form-encodes spaces as '+' (§2.4).
    Resp plus = http.get("/tasks?search=hello+world");
    assertEquals(List.of(hwDesc, hw), ids(plus));
    assertEquals(2, plus.body().path("count").asInt());
    assertEquals(List.of(hwDesc, hw), ids(http.get("/tasks?search=HELLO%20WORLD")));
    assertEquals(List.of(t1), ids(http.get("/tasks?search=the+api")));
    assertEquals(List.of(), ids(http.get("/tasks?search=absent")));
  }

  @Test
  void sortByAndDirection() throws Exception {
    long b = create("bravo", "default", "task", 3);
    nextMillisecond();
    long a = create("alpha", "default", "task", 9);
    nextMillisecond();
    long c = create("charlie", "default", "task", 1);
    nextMillisecond();
    long d = create("delta", "default", "task", 6);

    // Default: created_at desc, newest first; -r alone sends sort_dir=asc.
    assertEquals(List.of(d, c, a, b), ids(http.get("/tasks")));
    assertEquals(List.of(b, a, c, d), ids(http.get("/tasks?sort_dir=asc")));
    assertEquals(List.of(d, c, a, b), ids(http.get("/tasks?sort_by=created_at")));
    assertEquals(List.of(b, a, c, d), ids(http.get("/tasks?sort_by=created_at&sort_dir=asc")));
    assertEquals(List.of(a, d, b, c), ids(http.get("/tasks?sort_by=priority")));
    assertEquals(List.of(c, b, d, a), ids(http.get("/tasks?sort_by=priority&sort_dir=asc")));
    // title defaults to ascending.
    assertEquals(List.of(a, b, c, d), ids(http.get("/tasks?sort_by=title")));
    assertEquals(List.of(d, c, b, a), ids(http.get("/tasks?sort_by=title&sort_dir=desc")));
    assertEquals(List.of(d, c, b, a), ids(http.get("/tasks?sort_by=title&sort_dir=DESC")));

    nextMillisecond();
    expect(200, http.patch("/tasks/" + b, "{\"description\":\"touched\"}"));
    assertEquals(List.of(b, d, c, a), ids(http.get("/tasks?sort_by=updated_at")));
    assertEquals(List.of(a, c, d, b), ids(http.get("/tasks?sort_by=updated_at&sort_dir=asc")));
    // Sorting applies before paging.
    assertEquals(List.of(d, b), ids(http.get("/tasks?sort_by=priority&limit=2&offset=1")));
  }

  @Test
  void projectIdFilter() {
    long webProject = expect(201, http.post("/orgs/default/projects", "{\"slug\":\"web\"}"))
        .body().path("project").path("id").asLong();
    long mainProject = expect(200, http.get("/orgs/default/projects/main")).body()
        .path("project").path("id").asLong();
    long inMain = create("main");
    long inWeb = expect(201, http.post("/orgs/default/projects/web/tasks", "{\"title\":\"web\"}"))
        .task().path("id").asLong();
    assertEquals(List.of(inWeb), ids(http.get("/tasks?project_id=" + webProject)));
    assertEquals(List.of(inMain), ids(http.get("/tasks?project_id=" + mainProject)));
    assertEquals(List.of(), ids(http.get("/tasks?project_id=999999")));
    assertEquals(List.of(inWeb, inMain), ids(http.get("/tasks")));
  }

  @Test
  void noImplicitLimit() {
    int n = 1200;
    List<Long> created = new ArrayList<>(n);
    for (int i = 0; i < n; i++) created.add(http.create("bulk " + i, "ada-dispatch"));
    List<Long> newestFirst = new ArrayList<>(created);
    newestFirst.sort(Comparator.reverseOrder());

    Resp all = http.get("/tasks");
    assertEquals(newestFirst, ids(all));
    assertEquals(n, all.body().path("count").asInt());
    // The dispatcher's start-up drain: list --channel ada-dispatch --status pending, no limit.
    Resp drain = http.get("/tasks?channel=ada-dispatch&status=pending");
    assertEquals(n, ids(drain).size());
    assertEquals(n, drain.body().path("count").asInt());
  }

  // ---- stats --------------------------------------------------------------------------------

  @Test
  void statsOnAnEmptyServer() {
    JsonNode s = expect(200, http.get("/tasks/stats")).body().path("stats");
    assertEquals(0, s.path("total").asInt());
    JsonNode byStatus = s.path("by_status");
    assertEquals(Set.of("pending", "in_progress", "completed", "cancelled", "failed", "rejected"),
        fieldNames(byStatus));
    byStatus.forEach(v -> assertEquals(0, v.asInt()));
    assertTrue(s.path("by_channel").isObject() && s.path("by_channel").isEmpty(), s.toString());
    assertTrue(s.has("avg_completion_seconds") && s.path("avg_completion_seconds").isNull(),
        s.toString());
    assertEquals(0, s.path("completed_count").asInt());
    assertEquals(Set.of("created_24h", "completed_24h", "created_7d", "completed_7d"),
        fieldNames(s.path("recent")));
  }

  @Test
  void statsCountsEverything() throws Exception {
    long p1 = create("p1", "alpha", "task", 5);
    create("p2", "alpha", "task", 5);
    long run = create("run", "beta", "task", 5);
    long done1 = create("done1", "alpha", "task", 5);
    long done2 = create("done2", "beta", "task", 5);
    long failed = create("failed", "gamma", "task", 5);
    long cancelled = create("cancelled", "alpha", "task", 5);
    long rejected = create("rejected", "alpha", "task", 5);
    expect(201, http.post("/orgs/default/projects", "{\"slug\":\"web\"}"));
    expect(201, http.post("/orgs/default/projects/web/tasks",
        "{\"title\":\"scoped\",\"channel\":\"gamma\"}"));
    expect(200, http.post("/tasks/" + run + "/claim", "{}"));
    nextMillisecond();
    JsonNode c1 = expect(200, http.post("/tasks/" + done1 + "/complete", "{}")).task();
    nextMillisecond();
    JsonNode c2 = expect(200, http.post("/tasks/" + done2 + "/complete",
        "{\"outputs\":[{\"response\":\"ok\"}]}")).task();
    expect(200, http.post("/tasks/" + failed + "/fail", "{\"reason\":\"x\"}"));
    expect(200, http.post("/tasks/" + cancelled + "/cancel", (String) null));
    expect(200, http.post("/tasks/" + rejected + "/reject", "{}"));
    expect(200, http.patch("/tasks/" + p1, "{\"priority\":9}"));

    Resp r = expect(200, http.get("/tasks/stats"));
    JsonNode s = r.body().path("stats");
    assertEquals(9, s.path("total").asInt(), r.text());
    Map<String, Integer> byStatus = new TreeMap<>();
    s.path("by_status").fields().forEachRemaining(e -> byStatus.put(e.getKey(), e.getValue().asInt()));
    assertEquals(Map.of("pending", 3, "in_progress", 1, "completed", 2, "cancelled", 1,
        "failed", 1, "rejected", 1), byStatus);
    Map<String, Integer> byChannel = new TreeMap<>();
    s.path("by_channel").fields().forEachRemaining(e -> byChannel.put(e.getKey(), e.getValue().asInt()));
    assertEquals(Map.of("alpha", 5, "beta", 2, "gamma", 2), byChannel);
    assertEquals(2, s.path("completed_count").asInt());
    double expectedAvg = (seconds(c1) + seconds(c2)) / 2;
    assertTrue(s.path("avg_completion_seconds").isNumber(), r.text());
    assertEquals(expectedAvg, s.path("avg_completion_seconds").asDouble(), 0.0011, r.text());
    assertTrue(expectedAvg > 0, "completion took no time: " + expectedAvg);
    JsonNode recent = s.path("recent");
    assertEquals(9, recent.path("created_24h").asInt(), r.text());
    assertEquals(9, recent.path("created_7d").asInt(), r.text());
    assertEquals(2, recent.path("completed_24h").asInt(), r.text());
    assertEquals(2, recent.path("completed_7d").asInt(), r.text());

    // A reopened task no longer counts as completed.
    expect(200, http.post("/tasks/" + done1 + "/reopen", "{}"));
    JsonNode after = expect(200, http.get("/tasks/stats")).body().path("stats");
    assertEquals(1, after.path("completed_count").asInt());
    assertEquals(1, after.path("by_status").path("completed").asInt());
    assertEquals(4, after.path("by_status").path("pending").asInt());
    assertEquals(seconds(c2), after.path("avg_completion_seconds").asDouble(), 0.0011);
  }

  private static double seconds(JsonNode completedTask) {
    return Duration.between(Instant.parse(completedTask.path("created_at").asText()),
        Instant.parse(completedTask.path("completed_at").asText())).toMillis() / 1000.0;
  }

  private static Set<String> fieldNames(JsonNode n) {
    Set<String> out = new java.util.HashSet<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  // ---- task detail and actors ---------------------------------------------------------------

  @Test
  void getEmbedsMessagesInCreationOrder() throws Exception {
    long id = create("threaded");
    Http worker = http.as("agent", "worker-1", "Worker One");
    Http human = http.as("human", "jo", "Jo");
    String[] bodies = {
        "{\"parts\":[{\"type\":\"text\",\"content\":\"first\"}]}",
        "{\"parts\":[{\"type\":\"data\",\"content\":\"{\\\"k\\\":1}\"},{\"type\":\"file\",\"url\":\"http://x/y\",\"extra\":[1,2]}]}",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"third\"}]}",
    };
    Http[] actors = {http, worker, human};
    List<Long> messageIds = new ArrayList<>();
    for (int i = 0; i < bodies.length; i++) {
      messageIds.add(expect(201, actors[i].post("/tasks/" + id + "/messages", bodies[i]))
          .body().path("message").path("id").asLong());
    }
    JsonNode task = expect(200, http.get("/tasks/" + id)).task();
    JsonNode messages = task.path("messages");
    assertEquals(3, messages.size(), task.toString());
    String[] names = {"Ada Dispatch", "Worker One", "Jo"};
    String[] types = {"agent", "agent", "human"};
    for (int i = 0; i < 3; i++) {
      JsonNode m = messages.get(i);
      assertEquals(messageIds.get(i), m.path("id").asLong());
      assertEquals(id, m.path("task_id").asLong());
      assertEquals(names[i], m.path("actor_name").asText());
      assertEquals(types[i], m.path("actor_type").asText());
      assertEquals(Http.JSON.readTree(bodies[i]).path("parts"), m.path("parts"), "parts verbatim");
      Instant.parse(m.path("created_at").asText());
    }
    assertTrue(messageIds.get(0) < messageIds.get(1) && messageIds.get(1) < messageIds.get(2));
    assertEquals(messages, expect(200, http.get("/tasks/" + id + "/messages")).body().path("messages"));
    // Lists carry the task fields without threads.
    JsonNode listed = http.get("/tasks").body().path("tasks").get(0);
    assertEquals(id, listed.path("id").asLong());
  }

  @Test
  void latin1ActorNameArrivesIntact() throws Exception {
    byte[] body = "{\"title\":\"latin-1 actor\",\"channel\":\"default\"}".getBytes(StandardCharsets.UTF_8);
    // "X-Actor-Name: René" with é as the single ISO-8859-1 byte 0xE9, as Node's fetch sends it.
    RawHttp.Response r = RawHttp.exchange("127.0.0.1", server.port(), "POST /tasks HTTP/1.1", body,
        "Content-Type: application/json", "X-Actor-Type: human", "X-Actor-ID: rene",
        "X-Actor-Name: Ren\u00e9");
    assertEquals(201, r.status(), r.bodyText());
    JsonNode created = Http.JSON.readTree(r.body()).path("task");
    assertEquals("Ren\u00e9", created.path("source_name").asText());
    long id = created.path("id").asLong();
    assertEquals("Ren\u00e9", expect(200, http.get("/tasks/" + id)).task().path("source_name").asText());

    RawHttp.Response claim = RawHttp.exchange("127.0.0.1", server.port(),
        "POST /tasks/" + id + "/claim HTTP/1.1", new byte[0], "Content-Type: application/json",
        "X-Actor-Type: agent", "X-Actor-ID: zoe", "X-Actor-Name: Zo\u00eb M\u00fcller");
    assertEquals(200, claim.status(), claim.bodyText());
    assertEquals("Zo\u00eb M\u00fcller",
        expect(200, http.get("/tasks/" + id)).task().path("assignee_name").asText());
  }

  @Test
  void missingActorHeadersMeanSystemAnonymous() {
    Http anonymous = new Http(server.url(), null, null, null);
    JsonNode t = expect(201, anonymous.post("/tasks", "{\"title\":\"from the dashboard\"}")).task();
    assertEquals("system", t.path("source_type").asText());
    assertEquals("anonymous", t.path("source_id").asText());
    assertEquals("anonymous", t.path("source_name").asText());
    long id = t.path("id").asLong();
    JsonNode claimed = expect(200, anonymous.post("/tasks/" + id + "/claim", "{}")).task();
    assertEquals("system", claimed.path("assignee_type").asText());
    assertEquals("anonymous", claimed.path("assignee_id").asText());
    assertEquals("anonymous", claimed.path("assignee_name").asText());
    JsonNode m = expect(201, anonymous.post("/tasks/" + id + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"hi\"}]}")).body().path("message");
    assertEquals("anonymous", m.path("actor_name").asText());
    // Reads work without headers (the dashboard sends none).
    assertEquals(List.of(id), ids(anonymous.get("/tasks?limit=10&status=in_progress")));
    expect(200, anonymous.get("/tasks/stats"));
    expect(200, anonymous.get("/health"));
    expect(200, anonymous.get("/tasks/" + id));
    assertEquals(TaskStatus.IN_PROGRESS.wire(),
        anonymous.get("/tasks/" + id).task().path("status").asText());
  }
}
