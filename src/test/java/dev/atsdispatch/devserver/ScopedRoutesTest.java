package dev.atsdispatch.devserver;

import static dev.atsdispatch.testing.ApiChecks.expect;
import static dev.atsdispatch.testing.ApiChecks.expectError;
import static dev.atsdispatch.testing.ApiChecks.expectErrorExactly;
import static dev.atsdispatch.testing.ApiChecks.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.Http.Resp;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Project-scoped task routes {@code /orgs/{org}/projects/{project}/tasks...} and the orgs and
 * projects endpoints as the CLI calls them (ats-protocol.md §1.3, §2.2, §2.10, §7.2, §9 Q8).
 */
class ScopedRoutesTest {
  private static final String MAIN = "/orgs/default/projects/main/tasks";
  private static final String WEB = "/orgs/acme/projects/web/tasks";
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

  /** What {@code ats project create o/p} sends (§2.2): GET the org, POST it on any error, POST the project. */
  private static JsonNode projectCreate(String org, String project) {
    if (http.get("/orgs/" + org).status() != 200) {
      Resp o = expect(201, http.post("/orgs",
          "{\"slug\":" + Http.json(org) + ",\"name\":" + Http.json(org) + "}"));
      assertEquals(org, o.body().path("organization").path("slug").asText());
    }
    Resp p = expect(201, http.post("/orgs/" + org + "/projects",
        "{\"slug\":" + Http.json(project) + ",\"name\":" + Http.json(project) + "}"));
    assertEquals(project, p.body().path("project").path("slug").asText());
    return p.body().path("project");
  }

  private static long create(String base, String title) {
    Resp r = expect(201, http.post(base,
        "{\"title\":" + Http.json(title) + ",\"type\":\"task\",\"channel\":\"default\",\"priority\":5}"));
    return r.task().path("id").asLong();
  }

  private static List<String> slugs(JsonNode array) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : array) out.add(n.path("slug").asText());
    return out;
  }

  @Test
  void defaultMainExistsAtStart() {
    Resp orgs = expect(200, http.get("/orgs"));
    assertEquals(List.of("default"), slugs(orgs.body().path("organizations")));
    expect(200, http.get("/orgs/default"));
    Resp projects = expect(200, http.get("/orgs/default/projects"));
    assertEquals(List.of("main"), slugs(projects.body().path("projects")));
    Resp main = expect(200, http.get("/orgs/default/projects/main"));
    assertEquals("main", main.body().path("project").path("slug").asText());
    assertTrue(main.body().path("project").path("name").isTextual(), main.text());
    assertTrue(main.body().path("project").has("description"), main.text());
    Resp list = expect(200, http.get(MAIN));
    assertEquals(0, list.body().path("count").asInt());
  }

  @Test
  void projectCreateAsTheCliDoesIt() {
    expectErrorExactly(404, "Organization not found", http.get("/orgs/acme"));
    projectCreate("acme", "web");
    // A second project in the now-existing org skips POST /orgs.
    projectCreate("acme", "api");
    expect(200, http.get("/orgs/acme"));
    expect(200, http.get("/orgs/acme/projects/web"));
    assertEquals(List.of("default", "acme"),
        slugs(expect(200, http.get("/orgs")).body().path("organizations")));
    assertEquals(List.of("web", "api"),
        slugs(expect(200, http.get("/orgs/acme/projects")).body().path("projects")));
    // project create again: the org exists and the project conflicts.
    expectError(409, "already exists", http.post("/orgs/acme/projects", "{\"slug\":\"web\"}"));
    expectError(409, "already exists", http.post("/orgs", "{\"slug\":\"acme\",\"name\":\"acme\"}"));
    expectErrorExactly(404, "Organization not found",
        http.post("/orgs/nope/projects", "{\"slug\":\"x\",\"name\":\"x\"}"));
    expectError(400, "slug", http.post("/orgs", "{\"name\":\"no slug\"}"));
    expectError(400, "slug", http.post("/orgs/acme/projects", "{\"slug\":\"bad slug/x\"}"));
  }

  @Test
  void scopedAndUnscopedListsAndCreates() {
    long projectId = projectCreate("acme", "web").path("id").asLong();
    long mainId = expect(200, http.get("/orgs/default/projects/main")).body()
        .path("project").path("id").asLong();
    long w1 = create(WEB, "web one");
    long u1 = create("/tasks", "unscoped one");
    long m1 = create(MAIN, "main one");
    long w2 = create(WEB, "web two");

    assertEquals(projectId, expect(200, http.get(WEB + "/" + w1)).task().path("project_id").asLong());
    assertEquals(mainId, expect(200, http.get("/tasks/" + u1)).task().path("project_id").asLong());
    assertEquals(List.of(w2, w1), ids(http.get(WEB)));
    assertEquals(2, http.get(WEB).body().path("count").asInt());
    // Unscoped creates go into default/main; unscoped lists span every project.
    assertEquals(List.of(m1, u1), ids(http.get(MAIN)));
    assertEquals(List.of(w2, m1, u1, w1), ids(http.get("/tasks")));
    assertEquals(List.of(w2, w1), ids(http.get("/tasks?project_id=" + projectId)));
    // Scoped lists still take the ordinary filters.
    assertEquals(List.of(w1), ids(http.get(WEB + "?search=one")));
  }

  @Test
  void idsAreGlobalAcrossProjects() {
    projectCreate("acme", "web");
    projectCreate("beta", "web");
    List<Long> all = new ArrayList<>();
    for (String base : List.of(WEB, "/orgs/beta/projects/web/tasks", MAIN, "/tasks", WEB)) {
      all.add(create(base, "t"));
    }
    Set<Long> unique = new HashSet<>(all);
    assertEquals(all.size(), unique.size(), "duplicate ids: " + all);
    for (int i = 1; i < all.size(); i++) {
      assertTrue(all.get(i) > all.get(i - 1), "ids not increasing: " + all);
    }
    // Every id resolves unscoped, whatever project it is in.
    for (long id : all) expect(200, http.get("/tasks/" + id));
  }

  @Test
  void anotherProjectsTaskIsNotFoundThroughAScope() {
    projectCreate("acme", "web");
    long inMain = create("/tasks", "main task");
    long inWeb = create(WEB, "web task");
    String other = WEB + "/" + inMain;
    expectErrorExactly(404, "Task not found", http.get(other));
    expectErrorExactly(404, "Task not found", http.patch(other, "{\"priority\":9}"));
    expectErrorExactly(404, "Task not found", http.post(other + "/claim", "{}"));
    expectErrorExactly(404, "Task not found", http.post(other + "/complete", "{}"));
    expectErrorExactly(404, "Task not found", http.post(other + "/cancel", (String) null));
    expectErrorExactly(404, "Task not found", http.get(other + "/messages"));
    expectErrorExactly(404, "Task not found", http.post(other + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"x\"}]}"));
    expectErrorExactly(404, "Task not found", http.get(MAIN + "/" + inWeb));
    // Nothing happened to the main task.
    JsonNode t = expect(200, http.get("/tasks/" + inMain)).task();
    assertEquals("pending", t.path("status").asText());
    assertEquals(5, t.path("priority").asInt());
    assertEquals(0, t.path("messages").size());
  }

  @Test
  void unknownOrgOrProjectIs404() {
    projectCreate("acme", "web");
    long id = create(WEB, "t");
    expectErrorExactly(404, "Project not found", http.get("/orgs/acme/projects/nope/tasks"));
    expectErrorExactly(404, "Project not found", http.get("/orgs/nope/projects/web/tasks"));
    expectErrorExactly(404, "Project not found",
        http.post("/orgs/acme/projects/nope/tasks", "{\"title\":\"t\"}"));
    expectErrorExactly(404, "Project not found",
        http.post("/orgs/acme/projects/nope/tasks/" + id + "/claim", "{}"));
    expectErrorExactly(404, "Project not found", http.get("/orgs/acme/projects/nope"));
    expectErrorExactly(404, "Organization not found", http.get("/orgs/nope"));
    expectErrorExactly(404, "Organization not found", http.get("/orgs/nope/projects"));
    assertEquals(1, http.get("/tasks").body().path("count").asInt());
    assertEquals("pending", http.get("/tasks/" + id).task().path("status").asText());
  }

  @Test
  void countsPerProject() {
    projectCreate("acme", "web");
    long a = create(WEB, "a");
    create(WEB, "b");
    long c = create(WEB, "c");
    long d = create(WEB, "d");
    create("/tasks", "main");
    expect(200, http.post(WEB + "/" + a + "/claim", "{}"));
    expect(200, http.post(WEB + "/" + c + "/complete", "{}"));
    expect(200, http.post(WEB + "/" + d + "/cancel", (String) null));

    JsonNode projects = expect(200, http.get("/orgs/acme/projects?counts=true")).body().path("projects");
    assertEquals(1, projects.size());
    JsonNode web = projects.get(0);
    assertEquals(1, web.path("pending_count").asInt(), web.toString());
    assertEquals(1, web.path("in_progress_count").asInt(), web.toString());
    assertEquals(4, web.path("total_count").asInt(), web.toString());
    JsonNode one = expect(200, http.get("/orgs/acme/projects/web?counts=true")).body().path("project");
    assertEquals(4, one.path("total_count").asInt(), one.toString());
    JsonNode main = expect(200, http.get("/orgs/default/projects?counts=true")).body()
        .path("projects").get(0);
    assertEquals(1, main.path("pending_count").asInt(), main.toString());
    assertEquals(0, main.path("in_progress_count").asInt(), main.toString());
    assertEquals(1, main.path("total_count").asInt(), main.toString());
    // Without counts=true the counts are not computed.
    assertTrue(!expect(200, http.get("/orgs/acme/projects")).body().path("projects").get(0)
        .has("total_count"));
  }

  @Test
  void renameOrgAndProject() {
    projectCreate("acme", "web");
    long id = create(WEB, "t");
    // ats project rename: PATCH the org's slug, then the project under the new org slug.
    Resp org = expect(200, http.patch("/orgs/acme", "{\"slug\":\"acme2\"}"));
    assertEquals("acme2", org.body().path("organization").path("slug").asText());
    expectErrorExactly(404, "Organization not found", http.get("/orgs/acme"));
    Resp proj = expect(200,
        http.patch("/orgs/acme2/projects/web", "{\"slug\":\"site\",\"name\":\"Site\"}"));
    assertEquals("site", proj.body().path("project").path("slug").asText());
    assertEquals("Site", proj.body().path("project").path("name").asText());
    expectErrorExactly(404, "Project not found", http.get("/orgs/acme2/projects/web"));
    expectErrorExactly(404, "Project not found", http.get(WEB + "/" + id));
    assertEquals(List.of(id), ids(http.get("/orgs/acme2/projects/site/tasks")));
    expect(200, http.post("/orgs/acme2/projects/site/tasks/" + id + "/claim", "{}"));
    // Renaming onto an existing slug conflicts; an unknown one is 404.
    expectError(409, "already exists", http.patch("/orgs/acme2", "{\"slug\":\"default\"}"));
    projectCreate("acme2", "other");
    expectError(409, "already exists",
        http.patch("/orgs/acme2/projects/other", "{\"slug\":\"site\"}"));
    expectErrorExactly(404, "Organization not found", http.patch("/orgs/nope", "{\"slug\":\"x\"}"));
    expectErrorExactly(404, "Project not found",
        http.patch("/orgs/acme2/projects/nope", "{\"name\":\"x\"}"));
  }

  @Test
  void duplicateSlashesAreTolerated() {
    projectCreate("acme", "web");
    long id = create("//orgs/acme/projects/web//tasks", "slashes");
    assertEquals(List.of(id), ids(http.get("//tasks")));
    assertEquals(List.of(id), ids(http.get("//orgs/acme/projects/web/tasks")));
    expect(200, http.get("//tasks/" + id));
    expect(200, http.post("//orgs/acme/projects/web/tasks//" + id + "/claim", "{}"));
    expect(200, http.get("//health"));
    expect(200, http.get("//tasks/stats"));
  }

  @Test
  void scopedLifecycleAndMessages() throws Exception {
    projectCreate("acme", "web");
    long id = create(WEB, "scoped");
    Resp claim = expect(200, http.post(WEB + "/" + id + "/claim", "{\"lease_duration\":60000}"));
    assertEquals("in_progress", claim.task().path("status").asText());
    assertEquals("Ada Dispatch", claim.task().path("assignee_name").asText());
    Resp msg = expect(201, http.post(WEB + "/" + id + "/messages",
        "{\"parts\":[{\"type\":\"text\",\"content\":\"working\"}]}"));
    assertEquals(id, msg.body().path("message").path("task_id").asLong());
    JsonNode msgs = expect(200, http.get(WEB + "/" + id + "/messages")).body().path("messages");
    assertEquals(1, msgs.size());
    assertEquals("working", msgs.get(0).path("parts").get(0).path("content").asText());
    Resp done = expect(200, http.post(WEB + "/" + id + "/complete",
        "{\"outputs\":[{\"response\":\"ok\"}]}"));
    assertEquals("completed", done.task().path("status").asText());
    assertEquals(Http.JSON.readTree("[{\"response\":\"ok\"}]"), done.task().path("outputs"));
    expectErrorExactly(409, "Cannot claim task in completed status",
        http.post(WEB + "/" + id + "/claim", "{}"));
    expect(200, http.post(WEB + "/" + id + "/reopen", "{\"reason\":\"again\"}"));
    expect(200, http.post(WEB + "/" + id + "/fail", "{\"reason\":\"x\"}"));
    Resp patched = expect(200, http.patch(WEB + "/" + id, "{\"priority\":8,\"title\":\"renamed\"}"));
    assertEquals(8, patched.task().path("priority").asInt());
    JsonNode viaUnscoped = expect(200, http.get("/tasks/" + id)).task();
    assertEquals("failed", viaUnscoped.path("status").asText());
    assertEquals("renamed", viaUnscoped.path("title").asText());
    assertEquals(1, viaUnscoped.path("messages").size());
    // stats is always unscoped and counts this project's task.
    assertEquals(1, expect(200, http.get("/tasks/stats")).body().path("stats")
        .path("by_status").path("failed").asInt());
  }
}
