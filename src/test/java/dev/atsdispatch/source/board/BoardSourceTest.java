package dev.atsdispatch.source.board;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.testing.FakeClock;
import dev.atsdispatch.testing.Wait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The board source on real files, with the lease maths on a fake clock: claims are moves under
 * the file's lock that a second service cannot repeat, an expired lease brings the card back,
 * results follow artificer's documented rules and comment texts, and a malformed file is refused
 * and never written.
 */
@Timeout(30)
final class BoardSourceTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  final List<BoardSource> sources = new ArrayList<>();

  @AfterEach
  void close() {
    sources.forEach(BoardSource::close);
  }

  Path board(int cards) throws Exception {
    ObjectNode b = M.createObjectNode();
    var todo = b.putObject("queues").putArray("Todo");
    for (int i = 1; i <= cards; i++) {
      todo.addObject().put("id", Integer.toString(i)).put("name", "card " + i).put("description", "do " + i)
          .putArray("labels").add("x");
    }
    ((ObjectNode) b.get("queues")).putArray("In Progress");
    ((ObjectNode) b.get("queues")).putArray("Done");
    Path f = dir.resolve("board.json");
    Files.writeString(f, b.toPrettyString());
    return f;
  }

  BoardSource source(Path f, String owner, int maxRetries, String dlq) {
    BoardSource s = new BoardSource("board", new BoardSettings(f, "Todo", "In Progress", "Done", dlq, maxRetries,
        Duration.ofMillis(200)), clock, owner);
    sources.add(s);
    return s;
  }

  static JsonNode read(Path f) throws Exception {
    return M.readTree(f.toFile());
  }

  static List<String> ids(JsonNode board, String queue) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : board.path("queues").path(queue)) out.add(c.path("id").asText());
    return out;
  }

  static List<String> comments(JsonNode board, String queue, String id) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : board.path("queues").path(queue)) {
      if (c.path("id").asText().equals(id)) for (JsonNode m : c.path("comments")) out.add(m.path("text").asText());
    }
    return out;
  }

  @Test
  void aClaimIsAMoveWithALeaseThatASecondServiceCannotRepeat() throws Exception {
    Path f = board(2);
    BoardSource a = source(f, "host:a", 0, null);
    BoardSource b = source(f, "host:b", 0, null);
    TaskKey one = new TaskKey("board", "1");
    Lease l = a.claim(one, Duration.ofMinutes(1));
    assertEquals("card 1", l.task().title());
    assertEquals("do 1", l.task().description());
    assertEquals("x", l.task().payload().path("labels").get(0).asText());
    JsonNode now = read(f);
    assertEquals(List.of("2"), ids(now, "Todo"));
    assertEquals(List.of("1"), ids(now, "In Progress"));
    assertEquals("host:a", now.path("queues").path("In Progress").get(0).path("ats_dispatch").path("owner").asText());
    SourceException e = assertThrows(SourceException.class, () -> b.claim(one, Duration.ofMinutes(1)));
    assertEquals(SourceException.Kind.CONFLICT, e.kind());
    assertEquals(TaskStatus.IN_PROGRESS, b.status(one));
    // another service's lease is not this one's to renew or complete
    assertThrows(SourceException.class, () -> b.held(one).complete(List.of(M.createObjectNode().put("response", "x"))));

    l.renew(Duration.ofMinutes(5));
    l.complete(List.of(M.createObjectNode().put("response", "all done")));
    now = read(f);
    assertEquals(List.of("1"), ids(now, "Done"));
    assertEquals(List.of("all done"), comments(now, "Done", "1"));
    assertFalse(now.path("queues").path("Done").get(0).has("ats_dispatch"), "the lease mark stays behind");
    assertEquals(TaskStatus.COMPLETED, a.status(one));
  }

  @Test
  void aCardWhoseLeaseRanOutComesBackAndIsOfferedAgain() throws Exception {
    Path f = board(1);
    BoardSource dead = source(f, "host:dead", 0, null);
    dead.claim(new TaskKey("board", "1"), Duration.ofSeconds(30)); // then it dies: never renewed
    BoardSource alive = source(f, "host:alive", 0, null);
    List<SourceEvent> events = Collections.synchronizedList(new ArrayList<>());
    alive.start(events::add);
    Wait.until("the board read", Duration.ofSeconds(5), () -> alive.connected());
    assertTrue(ids(read(f), "In Progress").contains("1"), "taken back before its lease ran out");
    clock.advance(Duration.ofSeconds(31));
    Wait.until("the card back in Todo and offered", Duration.ofSeconds(5), () -> {
      synchronized (events) {
        return events.stream().anyMatch(e -> e instanceof SourceEvent.Offered o && o.task().key().id().equals("1"));
      }
    });
    JsonNode now = read(f);
    assertEquals(List.of("1"), ids(now, "Todo"));
    assertTrue(comments(now, "Todo", "1").get(0).startsWith("The lease of host:dead ran out"), now.toString());
    alive.claim(new TaskKey("board", "1"), Duration.ofSeconds(30));
  }

  @Test
  void failuresAreRetriedThroughTheQueueThenGoToTheDeadLetterQueueWithArtificersComments() throws Exception {
    Path f = board(1);
    BoardSource s = source(f, "host:a", 2, "Failed");
    TaskKey k = new TaskKey("board", "1");
    s.claim(k, Duration.ofMinutes(1)).fail("Agent timed out after 10m (killed)");
    s.claim(k, Duration.ofMinutes(1)).fail("Agent exited with code 1");
    s.claim(k, Duration.ofMinutes(1)).fail("Agent exited with code 2");
    JsonNode now = read(f);
    assertEquals(List.of("1"), ids(now, "Failed"));
    assertEquals(List.of("Retry 1/2: Agent timed out after 10m (killed). Moving back to source queue for retry.",
        "Retry 2/2: Agent exited with code 1. Moving back to source queue for retry.",
        "Max retries (2) exhausted. Moving to dead-letter queue."), comments(now, "Failed", "1"));
    assertEquals(2, now.path("queues").path("Failed").get(0).path("retry_count").asInt());
    assertEquals(TaskStatus.FAILED, s.status(k));
  }

  @Test
  void withoutADeadLetterQueueAnExhaustedCardStaysInProgressAndIsNeverTakenBack() throws Exception {
    Path f = board(1);
    BoardSource s = source(f, "host:a", 0, null);
    TaskKey k = new TaskKey("board", "1");
    s.claim(k, Duration.ofSeconds(30)).fail("Agent exited with code 1");
    JsonNode now = read(f);
    assertEquals(List.of("1"), ids(now, "In Progress"));
    assertEquals(List.of("Max retries (0) exhausted. No dead-letter queue configured; leaving in place."),
        comments(now, "In Progress", "1"));
    List<SourceEvent> events = Collections.synchronizedList(new ArrayList<>());
    clock.advance(Duration.ofMinutes(5));
    s.start(events::add);
    Wait.until("the board read", Duration.ofSeconds(5), () -> s.connected());
    // a new card, offered only by a scan after the clock moved on: then card 1 was looked at too
    new BoardFile(f, Duration.ofSeconds(5)).update(b -> ((com.fasterxml.jackson.databind.node.ArrayNode) b.get("queues")
        .get("Todo")).addObject().put("id", "2").put("name", "later"));
    Wait.until("the new card offered", Duration.ofSeconds(5), () -> {
      synchronized (events) {
        return events.stream().anyMatch(e -> e instanceof SourceEvent.Offered o && o.task().key().id().equals("2"));
      }
    });
    assertEquals(List.of("1"), ids(read(f), "In Progress"), "a card left in place was taken back");
  }

  @Test
  void aMalformedBoardIsReportedAndNeverWritten() throws Exception {
    Path f = dir.resolve("board.json");
    String broken = "{\"queues\": {\"Todo\": [{\"id\": \"1\", \"name\": \"x\"}], \"In Progress\": [";
    Files.writeString(f, broken);
    BoardSource s = source(f, "host:a", 0, null);
    SourceException e = assertThrows(SourceException.class, s::health);
    assertTrue(e.getMessage().contains("is not JSON"), e.getMessage());
    assertThrows(SourceException.class, () -> s.claim(new TaskKey("board", "1"), Duration.ofMinutes(1)));
    assertEquals(broken, Files.readString(f), "a malformed board was written");
    Files.writeString(f, "{\"queues\": {\"Todo\": {}}}");
    e = assertThrows(SourceException.class, s::health);
    assertTrue(e.getMessage().contains("queue \"Todo\"") && e.getMessage().contains("is not a list"), e.getMessage());
  }
}
