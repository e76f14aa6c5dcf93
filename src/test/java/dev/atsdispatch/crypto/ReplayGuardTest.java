package dev.atsdispatch.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Seen (sender, nonce) pairs: refused on another task, accepted again on the same task, across restarts. */
final class ReplayGuardTest {
  @TempDir Path dir;

  @Test
  void aPairIsAcceptedOncePerTaskAndSurvivesARestart() {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertTrue(g.accept("alice", "nonce-1", 10));
      assertTrue(g.accept("alice", "nonce-1", 10), "the same task opened again (deferred, restarted)");
      assertFalse(g.accept("alice", "nonce-1", 11), "the envelope replayed on another task");
      assertTrue(g.accept("bob", "nonce-1", 11), "another sender's nonce is another pair");
    }
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(2, g.size());
      assertFalse(g.accept("alice", "nonce-1", 12));
      assertTrue(g.accept("alice", "nonce-1", 10));
      assertFalse(g.accept("bob", "nonce-1", 10));
    }
  }

  @Test
  void theRecordIsOwnerOnlyAndATornLastLineIsCutOff() throws Exception {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      g.accept("alice", "n1", 1);
    }
    Path f = dir.resolve(ReplayGuard.FILE);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    Files.writeString(f, "{\"sender\":\"alice\",\"nonce\":\"n2\",\"ta", StandardOpenOption.APPEND);
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(1, g.size());
      assertTrue(g.accept("alice", "n3", 3));
    }
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertEquals(2, g.size());
      assertFalse(g.accept("alice", "n3", 4));
    }
    assertEquals(2, Files.readAllLines(f, StandardCharsets.UTF_8).size());
  }

  @Test
  void namesWithAnyCharactersDoNotCollide() {
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertTrue(g.accept("a\nb", "c", 1));
      assertTrue(g.accept("a", "b\nc", 2));
    }
    try (ReplayGuard g = new ReplayGuard(dir)) {
      assertFalse(g.accept("a\nb", "c", 3));
      assertFalse(g.accept("a", "b\nc", 3));
    }
  }

  @Test
  void tensOfThousandsOfEntriesLoadQuickly() throws Exception {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 50_000; i++) {
      b.append("{\"sender\":\"k").append(i % 50).append("\",\"nonce\":\"").append(i).append("\",\"task\":")
          .append(i).append("}\n");
    }
    Files.writeString(dir.resolve(ReplayGuard.FILE), b);
    long t0 = System.nanoTime();
    try (ReplayGuard g = new ReplayGuard(dir)) {
      long loadMs = (System.nanoTime() - t0) / 1_000_000;
      assertEquals(50_000, g.size());
      assertTrue(loadMs < 3000, "load took " + loadMs + " ms");
      assertFalse(g.accept("k7", "49957", 1));
      assertTrue(g.accept("k7", "49957", 49957));
      long t1 = System.nanoTime();
      for (int i = 0; i < 20; i++) assertTrue(g.accept("new", "n" + i, 100_000 + i));
      long perAcceptMs = (System.nanoTime() - t1) / 1_000_000 / 20;
      assertTrue(perAcceptMs < 100, "accept took " + perAcceptMs + " ms");
    }
  }
}
