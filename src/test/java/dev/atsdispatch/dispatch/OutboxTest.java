package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bad entry does not block the outbox; temp files are never entries; size() reads no entry. */
final class OutboxTest {
  static final ObjectMapper M = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void anUnparsableEntryIsMovedAsideAndTheOthersAreReturned() throws Exception {
    Outbox o = new Outbox(dir);
    o.put("a", M.createObjectNode().put("n", 1));
    o.put("c", M.createObjectNode().put("n", 3));
    byte[] garbage = "{\"n\":2,".getBytes(StandardCharsets.UTF_8);
    Files.write(dir.resolve("b.json"), garbage);
    Files.write(dir.resolve("d.json"), "[1,2]".getBytes(StandardCharsets.UTF_8));

    assertEquals(java.util.List.of("a", "c"), o.pending().stream().map(Outbox.Entry::key).toList());
    assertFalse(Files.exists(dir.resolve("b.json")));
    assertArrayEquals(garbage, Files.readAllBytes(dir.resolve("bad/b.json")), "kept as it was");
    assertTrue(Files.exists(dir.resolve("bad/d.json")), "a non-object is not an entry either");
    assertEquals(2, o.size());

    Files.write(dir.resolve("b.json"), garbage);
    assertEquals(2, o.pending().size());
    try (var s = Files.list(dir.resolve("bad"))) {
      assertEquals(3, s.count(), "a second bad file of the same name does not replace the first");
    }
  }

  @Test
  void tornTempFilesAreNeverParsedAndStaleOnesAreCleanedUp() throws Exception {
    Outbox o = new Outbox(dir);
    o.put("a", M.createObjectNode().put("n", 1));
    Path stale = dir.resolve(".b.json1234567.tmp");
    Path fresh = dir.resolve(".c.json7654321.tmp");
    Files.writeString(stale, "{\"n\":");
    Files.writeString(fresh, "{\"n\":");
    Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(2, ChronoUnit.HOURS)));

    assertEquals(java.util.List.of("a"), o.pending().stream().map(Outbox.Entry::key).toList());
    assertFalse(Files.exists(stale), "a crash's leftover is removed");
    assertTrue(Files.exists(fresh), "a temp file that may be a write in progress is left alone");
    assertFalse(Files.exists(dir.resolve("bad")));
  }

  @Test
  void sizeCountsEntriesWithoutReadingThem() throws Exception {
    Outbox o = new Outbox(dir);
    assertEquals(0, o.size());
    o.put("a", M.createObjectNode().put("n", 1));
    Files.writeString(dir.resolve("b.json"), "not json");
    Files.writeString(dir.resolve(".c.json99.tmp"), "{");
    Files.createDirectories(dir.resolve("bad"));
    assertEquals(2, o.size());
    assertTrue(Files.exists(dir.resolve("b.json")), "size() moves nothing");
  }
}
