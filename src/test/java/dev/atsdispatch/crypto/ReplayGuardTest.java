package dev.atsdispatch.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seen (sender, nonce) pairs: refused on another task, accepted again on the same task, across
 * restarts; one owner-only file per pair; legacy seen.jsonl records still count; memory bounded.
 */
final class ReplayGuardTest {
  @TempDir Path dir;

  @Test
  void aPairIsAcceptedOncePerTaskAndSurvivesARestart() {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertTrue(g.accept("alice", "nonce-1", "ats:10"));
      assertTrue(g.accept("alice", "nonce-1", "ats:10"), "the same task opened again (deferred, restarted)");
      assertFalse(g.accept("alice", "nonce-1", "ats:11"), "the envelope replayed on another task");
      assertFalse(g.accept("alice", "nonce-1", "other:10"), "the same id from another source is another task");
      assertTrue(g.accept("bob", "nonce-1", "ats:11"), "another sender's nonce is another pair");
    }
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(0, g.cached(), "nothing is loaded at start-up");
      assertEquals(2, g.size());
      assertFalse(g.accept("alice", "nonce-1", "ats:12"));
      assertTrue(g.accept("alice", "nonce-1", "ats:10"));
      assertFalse(g.accept("bob", "nonce-1", "ats:10"));
    }
  }

  @Test
  void eachPairIsOneOwnerOnlyFileInAShardedIndex() throws Exception {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      g.accept("alice", "n1", "ats:1");
    }
    List<Path> files = entries();
    assertEquals(1, files.size());
    Path f = files.get(0);
    String name = f.getFileName().toString();
    assertTrue(name.matches("[0-9a-f]{64}"), name);
    assertEquals(dir.resolve(ReplayGuard.INDEX).resolve(name.substring(0, 2)), f.getParent());
    assertEquals("ats:1\n", Files.readString(f));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    for (Path d = f.getParent(); !d.equals(dir); d = d.getParent()) {
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(d)), d.toString());
    }
  }

  @Test
  void anEntryTornByACrashIsNotARecord() throws Exception {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      g.accept("alice", "n1", "ats:123");
    }
    Path f = entries().get(0);
    Files.writeString(f, "ats:12"); // the crash came before the newline: that accept never returned
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(0, g.size());
      assertTrue(g.accept("alice", "n1", "ats:123"));
      assertFalse(g.accept("alice", "n1", "ats:12"));
    }
    assertEquals("ats:123\n", Files.readString(f));
  }

  @Test
  void namesWithAnyCharactersDoNotCollide() {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertTrue(g.accept("a\nb", "c", "ats:1"));
      assertTrue(g.accept("a", "b\nc", "ats:2"));
    }
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertFalse(g.accept("a\nb", "c", "ats:3"));
      assertFalse(g.accept("a", "b\nc", "ats:3"));
    }
  }

  @Test
  void legacyRecordsAreImportedOnceAndStillRefuseReplays() throws Exception {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 200; i++) {
      b.append("{\"sender\":\"k").append(i % 50).append("\",\"nonce\":\"").append(i).append("\",\"task\":")
          .append(i).append("}\n");
    }
    b.append("{\"sender\":\"k7\",\"nonce\":\"7\",\"task\":999}\n"); // a later duplicate: the first one counts
    b.append("{\"sender\":\"torn\",\"nonce\":\"x\",\"ta"); // the crash of the current release mid-append
    Files.writeString(dir.resolve(ReplayGuard.LEGACY), b);
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertFalse(Files.exists(dir.resolve(ReplayGuard.LEGACY)));
      assertTrue(Files.exists(dir.resolve(ReplayGuard.LEGACY + ".migrated")));
      assertEquals(200, g.size());
      assertFalse(g.accept("k7", "157", "ats:1"));
      assertTrue(g.accept("k7", "157", "ats:157"), "a legacy task number is the ats task");
      assertTrue(g.accept("k7", "7", "ats:7"));
      assertTrue(g.accept("torn", "x", "ats:1"), "the torn line was never accepted");
    }
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(201, g.size());
      assertFalse(g.accept("k9", "159", "ats:1"));
      assertTrue(g.accept("k9", "159", "ats:159"));
    }
  }

  @Test
  void anImportCutShortIsRedoneWithoutChangingWhatWasImported() throws Exception {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      g.accept("k1", "1", "ats:1"); // imported before the crash
    }
    Files.writeString(dir.resolve(ReplayGuard.LEGACY),
        "{\"sender\":\"k1\",\"nonce\":\"1\",\"task\":1}\n{\"sender\":\"k2\",\"nonce\":\"2\",\"task\":2}\n");
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(2, g.size());
      assertTrue(g.accept("k1", "1", "ats:1"));
      assertFalse(g.accept("k2", "2", "ats:1"));
    }
  }

  @Test
  void aCorruptLegacyFileIsReportedAndKept() throws Exception {
    Path legacy = dir.resolve(ReplayGuard.LEGACY);
    Files.writeString(legacy, "{\"sender\":\"k1\",\"nonce\":\"1\",\"task\":1}\n{oops\n{\"sender\":\"k2\",\"nonce\":\"2\",\"task\":2}\n");
    UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> new ReplayGuard(dir));
    assertTrue(e.getMessage().contains(legacy + " is corrupt"), e.getMessage());
    assertTrue(Files.exists(legacy), "not renamed: its records would be lost");
  }

  @Test
  void memoryIsBoundedWhateverTheHistory() {
    try (ReplayGuard g = new ReplayGuard(dir, 16)) {
      for (int i = 0; i < 100; i++) assertTrue(g.accept("k", "n" + i, "ats:" + i));
      assertTrue(g.cached() <= 16, "cached " + g.cached());
      for (int i = 0; i < 100; i++) assertFalse(g.accept("k", "n" + i, "ats:x"), "n" + i + " is still refused");
      assertTrue(g.cached() <= 16, "cached " + g.cached());
    }
  }

  @Test
  void concurrentAcceptsOfOnePairLetOneTaskWin() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (ReplayGuard g = new ReplayGuard(dir)) {
      List<Future<Boolean>> won = IntStream.range(0, 32)
          .mapToObj(i -> pool.submit(() -> g.accept("alice", "n", "ats:" + i))).toList();
      int winners = 0;
      for (Future<Boolean> f : won) if (f.get()) winners++;
      assertEquals(1, winners);
    } finally {
      pool.shutdownNow();
    }
  }

  List<Path> entries() throws Exception {
    try (Stream<Path> s = Files.walk(dir.resolve(ReplayGuard.INDEX))) {
      return s.filter(Files::isRegularFile).toList();
    }
  }
}
