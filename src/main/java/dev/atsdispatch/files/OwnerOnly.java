package dev.atsdispatch.files;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Files and directories only their owner can reach, whatever the process umask: everything the
 * service creates under its state and keys directories is made here, directories 0700 and files
 * 0600, the mode given to the mkdir or open call itself (a umask can only take bits away, and there
 * is no moment with a wider mode). {@link #problem} checks a state or keys directory that exists
 * already; nothing here ever changes the mode of an existing file or directory. Stateless; any
 * thread.
 */
public final class OwnerOnly {
  public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
  public static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("rwx------");
  private static final FileAttribute<Set<PosixFilePermission>> FILE_ATTR = PosixFilePermissions.asFileAttribute(FILE);
  private static final FileAttribute<Set<PosixFilePermission>> DIR_ATTR = PosixFilePermissions.asFileAttribute(DIR);

  private OwnerOnly() {}

  /** The attribute that creates a file 0600. */
  public static FileAttribute<Set<PosixFilePermission>> fileAttribute() {
    return FILE_ATTR;
  }

  /**
   * Creates the missing directories of {@code dir}, each 0700 (parents included), and returns
   * those created, deepest first, for the caller to sync their parents.
   */
  public static List<Path> createDirectories(Path dir) throws IOException {
    Deque<Path> missing = new ArrayDeque<>();
    for (Path d = dir.toAbsolutePath(); d != null && !Files.isDirectory(d); d = d.getParent()) missing.push(d);
    List<Path> created = new ArrayList<>();
    for (Path d : missing) {
      try {
        Files.createDirectory(d, DIR_ATTR);
        created.add(0, d);
      } catch (FileAlreadyExistsException e) {
        if (!Files.isDirectory(d)) throw e;
      }
    }
    return created;
  }

  /** {@link FileChannel#open} with {@code CREATE} added: a file it creates is 0600. */
  public static FileChannel open(Path f, OpenOption... options) throws IOException {
    Set<OpenOption> o = new HashSet<>(List.of(options));
    o.add(StandardOpenOption.CREATE);
    return FileChannel.open(f, o, FILE_ATTR);
  }

  /** A new or truncated file to write, 0600 if it is created. */
  public static OutputStream newOutputStream(Path f) throws IOException {
    return Channels.newOutputStream(open(f, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING));
  }

  /**
   * Why {@code dir} cannot be the state or keys directory, with the fix; null when it is missing
   * (it will be created 0700) or a directory of this user that only this user can reach. Too open
   * is any group or other permission bit; a shared directory (world-writable, or sticky like
   * {@code /tmp}) is never to be chmod'ed, so the fix offered then is another directory.
   */
  public static String problem(Path dir) {
    if (!Files.exists(dir)) return null;
    if (!Files.isDirectory(dir)) return dir + " is not a directory";
    int mode;
    try {
      mode = ((Integer) Files.getAttribute(dir, "unix:mode")) & 07777;
    } catch (IOException e) {
      return "cannot read the mode of " + dir + ": " + e.getMessage();
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return null; // not a POSIX file system: nothing to check
    }
    String shown = String.format("%04o", mode) + " (" + PosixFilePermissions.toString(perms(mode)) + ")";
    String elsewhere = "choose another directory (a missing one is created 0700)";
    if ((mode & 01002) != 0) {
      return dir + " is mode " + shown + ", a directory shared with other users: " + elsewhere
          + "; never chmod a shared directory";
    }
    if ((mode & 077) != 0) {
      return dir + " is mode " + shown + ": group or others can reach it; run chmod 700 " + dir + ", or " + elsewhere;
    }
    Integer owner = uid(dir);
    Integer me = currentUid();
    if (owner != null && me != null && !owner.equals(me)) {
      return dir + " belongs to uid " + owner + ", not to this service's uid " + me + ": " + elsewhere;
    }
    return null;
  }

  private static Set<PosixFilePermission> perms(int mode) {
    Set<PosixFilePermission> out = new HashSet<>();
    PosixFilePermission[] all = PosixFilePermission.values(); // OWNER_READ ... OTHERS_EXECUTE
    for (int i = 0; i < all.length; i++) if ((mode & (0400 >> i)) != 0) out.add(all[i]);
    return out;
  }

  private static Integer uid(Path p) {
    try {
      return (Integer) Files.getAttribute(p, "unix:uid");
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The process's effective uid (Linux: the owner of {@code /proc/self}), or null if unknown. */
  private static Integer currentUid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
