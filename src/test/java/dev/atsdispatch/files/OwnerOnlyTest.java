package dev.atsdispatch.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.dispatch.StateDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which existing state or keys directories are refused, with what fix, and that none is changed. */
final class OwnerOnlyTest {
  @TempDir Path dir;

  Path withMode(String name, int mode) throws Exception {
    Path d = Files.createDirectory(dir.resolve(name));
    Files.setAttribute(d, "unix:mode", mode);
    return d;
  }

  static int mode(Path p) throws Exception {
    return (int) Files.getAttribute(p, "unix:mode") & 07777;
  }

  @Test
  void missingAndPrivateDirectoriesPass() throws Exception {
    assertNull(OwnerOnly.problem(dir.resolve("missing")));
    assertNull(OwnerOnly.problem(withMode("private", 0700)));
    assertNull(OwnerOnly.problem(withMode("read-only", 0500)));
  }

  @Test
  void groupOrOtherBitsAreRefusedWithTheChmod() throws Exception {
    for (int m : new int[] {0755, 0750, 0701, 0710, 0770}) {
      Path d = withMode("d" + Integer.toOctalString(m), m);
      String p = OwnerOnly.problem(d);
      assertEquals(d + " is mode " + String.format("%04o", m) + " (" + PosixFilePermissions.toString(
          Files.getPosixFilePermissions(d)) + "): group or others can reach it; run chmod 700 " + d
          + ", or choose another directory (a missing one is created 0700)", p);
      assertEquals(m, mode(d));
    }
  }

  @Test
  void aSharedDirectoryGetsNoChmodAdvice() throws Exception {
    for (int m : new int[] {01777, 0777, 01700, 0703}) {
      Path d = withMode("s" + Integer.toOctalString(m), m);
      String p = OwnerOnly.problem(d);
      assertTrue(p.startsWith(d + " is mode " + String.format("%04o", m) + " (") && p.contains("shared with other users")
          && p.endsWith("never chmod a shared directory") && !p.contains("chmod 700"), p);
    }
  }

  @Test
  void aFileOrAnotherUsersDirectoryIsRefused() throws Exception {
    Path f = Files.writeString(dir.resolve("f"), "x");
    assertEquals(f + " is not a directory", OwnerOnly.problem(f));
    Path other = withMode("other", 0700);
    int me = (int) Files.getAttribute(dir, "unix:uid");
    Files.setAttribute(other, "unix:uid", me + 1); // the tests run as root: chown works
    assertEquals(other + " belongs to uid " + (me + 1) + ", not to this service's uid " + me
        + ": choose another directory (a missing one is created 0700)", OwnerOnly.problem(other));
  }

  @Test
  void theStateDirectoryLockRefusesAnOpenDirectoryInsteadOfChangingIt() throws Exception {
    Path tmpLike = withMode("tmp", 01777);
    StateDir s = new StateDir(tmpLike);
    IllegalStateException e = assertThrows(IllegalStateException.class, s::lock);
    assertTrue(e.getMessage().startsWith("state directory: " + tmpLike + " is mode 1777"), e.getMessage());
    assertEquals(01777, mode(tmpLike), "the old release chmod'ed it to 0700");
    assertTrue(!Files.exists(tmpLike.resolve("service.lock")));
    Path open = withMode("open", 0755);
    assertThrows(IllegalStateException.class, new StateDir(open)::lock);
    assertEquals(0755, mode(open));
  }

  @Test
  void createdDirectoriesAndFilesAreOwnerOnlyParentsIncluded() throws Exception {
    Path deep = dir.resolve("a/b/c");
    assertEquals(3, OwnerOnly.createDirectories(deep).size());
    for (Path d = deep; !d.equals(dir); d = d.getParent()) assertEquals(0700, mode(d), d.toString());
    OwnerOnly.newOutputStream(deep.resolve("log")).close();
    OwnerOnly.open(deep.resolve("lock"), java.nio.file.StandardOpenOption.WRITE).close();
    assertEquals(0600, mode(deep.resolve("log")));
    assertEquals(0600, mode(deep.resolve("lock")));
  }
}
