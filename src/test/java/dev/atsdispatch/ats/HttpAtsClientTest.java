package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import dev.atsdispatch.source.TaskStatus;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import okhttp3.HttpUrl;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.Test;

/** The {@link AtsClientContract} over the http transport, and its streaming light list. */
final class HttpAtsClientTest extends AtsClientContract {
  @Override
  AtsClient newClient(AtsSettings settings) {
    return new HttpAtsClient(settings, Duration.ofSeconds(30));
  }

  @Override
  boolean fullLargeResponses() {
    return true;
  }

  @Test
  void lightListKeepsOnlyTheQueueFieldsAndSendsTheCursorParameters() throws Exception {
    try (MockWebServer mock = new MockWebServer();
        HttpAtsClient c = new HttpAtsClient(settings(mock.url("/").toString()), Duration.ofSeconds(10))) {
      mock.enqueue(new MockResponse().setBody("{\"before\":{\"a\":[1,{\"b\":[2]}]},\"tasks\":["
          + "{\"id\":7,\"title\":\"t\",\"description\":\"d\",\"status\":\"in_progress\",\"priority\":3,"
          + "\"type\":\"task\",\"channel\":\"ch\",\"payload\":{\"depends_on\":[1,2]},"
          + "\"outputs\":[{\"x\":{\"y\":1}}],\"messages\":[{\"parts\":[{\"content\":\"m\"}]}],"
          + "\"reason\":\"r\",\"assignee_type\":\"agent\",\"assignee_id\":\"a1\",\"assignee_name\":\"A\","
          + "\"lease_expires\":\"2026-01-01T01:00:00.000Z\",\"created_at\":\"2026-01-01T00:00:00.000Z\","
          + "\"updated_at\":\"2026-01-01T00:00:01.000Z\",\"unknown\":null},"
          + "{\"uuid\":\"8\",\"status\":\"pending\",\"payload\":null}],\"count\":9}"));
      mock.enqueue(new MockResponse().setBody("[{\"id\":1,\"status\":\"pending\",\"title\":\"x\"}]"));
      mock.enqueue(new MockResponse().setBody("{\"tasks\":[{\"id\":1,\"status\":"));
      mock.enqueue(new MockResponse().setBody("{\"tasks\":[{\"id\":1}]}"));
      mock.enqueue(new MockResponse().setBody("{\"count\":0}"));
      mock.enqueue(new MockResponse().setResponseCode(400).setBody("{\"error\":\"Invalid sort_by\"}"));

      Instant since = Instant.parse("2026-01-01T00:00:00Z");
      TaskQuery q = TaskQuery.pending("ch").withCreatedAfter(since).oldestFirst().withLight(true).page(5, 2);
      TaskPage page = c.list(q);
      HttpUrl sent = mock.takeRequest().getRequestUrl();
      assertEquals("2026-01-01T00:00:00.000Z", sent.queryParameter("created_after"));
      assertEquals("created_at", sent.queryParameter("sort_by"));
      assertEquals("asc", sent.queryParameter("sort_dir"));
      assertEquals("5", sent.queryParameter("limit"));
      assertEquals("2", sent.queryParameter("offset"));

      assertEquals(9, page.count());
      Task t = page.tasks().get(0);
      assertTrue(t.light());
      assertEquals(7, t.id());
      assertEquals("t", t.title(), "a short title is kept (it tells a registration)");
      assertNull(t.description());
      assertEquals("r", t.reason(), "a short reason is kept (it tells a task parked for a question)");
      assertEquals(0, t.outputs().size());
      assertEquals(TaskStatus.IN_PROGRESS, t.status());
      assertEquals(3, t.priority());
      assertEquals("task", t.type());
      assertEquals("ch", t.channel());
      assertEquals(2, t.payload().path("depends_on").size());
      assertEquals("a1", t.assigneeId());
      assertEquals("A", t.assigneeName());
      assertEquals("agent", t.assigneeType());
      assertEquals(Instant.parse("2026-01-01T01:00:00Z"), t.leaseExpires());
      assertEquals(since, t.createdAt());
      assertEquals(Instant.parse("2026-01-01T00:00:01Z"), t.updatedAt());
      Task u = page.tasks().get(1);
      assertEquals(8, u.id());
      assertEquals(5, u.priority());
      assertTrue(u.payload().isObject());

      assertEquals(1, c.list(q).tasks().get(0).id(), "a bare array");
      assertEquals(AtsException.Kind.UNAVAILABLE, assertThrows(AtsException.class, () -> c.list(q)).kind());
      assertTrue(assertThrows(AtsException.class, () -> c.list(q)).getMessage().contains("unusable task"));
      assertTrue(assertThrows(AtsException.class, () -> c.list(q)).getMessage().contains("no tasks array"));
      AtsException bad = assertThrows(AtsException.class, () -> c.list(q));
      assertEquals(AtsException.Kind.BAD_REQUEST, bad.kind());
      assertEquals("Invalid sort_by", bad.getMessage());
    }
  }

  @Test
  void lightGetKeepsOnlyTheQueueFieldsOfAWrappedOrBareTask() throws Exception {
    try (MockWebServer mock = new MockWebServer();
        HttpAtsClient c = new HttpAtsClient(settings(mock.url("/").toString()), Duration.ofSeconds(10))) {
      mock.enqueue(new MockResponse().setBody("{\"task\":{\"id\":7,\"title\":\"t\",\"description\":\"d\","
          + "\"status\":\"completed\",\"priority\":3,\"payload\":{\"description\":\"kept\"},"
          + "\"outputs\":[{\"response\":\"r\"}],\"reason\":\"x\"},\"messages\":[{\"parts\":[]}]}"));
      mock.enqueue(new MockResponse().setBody("{\"id\":8,\"description\":\"d\",\"status\":\"pending\",\"reason\":\""
          + "r".repeat(Task.LIGHT_REASON + 1) + "\"}"));
      mock.enqueue(new MockResponse().setBody("[1]"));
      mock.enqueue(new MockResponse().setResponseCode(404).setBody("{\"error\":\"Task not found\"}"));

      Task t = c.getLight(7);
      assertEquals("/tasks/7", mock.takeRequest().getPath());
      assertTrue(t.light());
      assertEquals(7, t.id());
      assertEquals("t", t.title());
      assertNull(t.description());
      assertEquals("x", t.reason(), "a short reason is kept");
      assertEquals(0, t.outputs().size());
      assertEquals(TaskStatus.COMPLETED, t.status());
      assertEquals(3, t.priority());
      assertEquals("kept", t.payload().path("description").asText());

      Task bare = c.getLight(8);
      assertEquals(8, bare.id());
      assertEquals(TaskStatus.PENDING, bare.status());
      assertNull(bare.description());
      assertNull(bare.reason(), "a long reason is skipped");

      assertEquals(AtsException.Kind.UNAVAILABLE, assertThrows(AtsException.class, () -> c.getLight(9)).kind());
      assertEquals(AtsException.Kind.NOT_FOUND, assertThrows(AtsException.class, () -> c.getLight(10)).kind());
    }
  }
}
