package dev.atsdispatch.dispatch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import dev.atsdispatch.files.OwnerOnly;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;

/**
 * Crash-safe file helpers: whole-file writes that are never seen half-done (temp file, fsync,
 * rename, fsync the directory), directory creation (0700, {@link OwnerOnly}) and syncs, and cutting
 * the torn last line of a file of lines.
 */
public final class AtomicFiles {
  public static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  private AtomicFiles() {}

  public static void write(Path target, byte[] bytes, Set<PosixFilePermission> perms) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    OwnerOnly.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp",
        PosixFilePermissions.asFileAttribute(perms == null ? OwnerOnly.FILE : perms));
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(bytes));
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      syncDirectory(dir);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Creates the missing directories of {@code dir}, each 0700, returning those created, deepest
   * first: the caller syncs the parent of each (and {@code dir} itself) to make new entries in them
   * durable.
   */
  public static List<Path> createDirectories(Path dir) throws IOException {
    return OwnerOnly.createDirectories(dir);
  }

  /**
   * Truncates the unterminated last line of an append-only file of lines (one torn by a crash
   * mid-append) and returns the file's new length. The channel must be readable and writable.
   */
  public static long cutTornLine(FileChannel ch) throws IOException {
    long end = ch.size();
    ByteBuffer b = ByteBuffer.allocate(4096);
    while (end > 0) {
      b.clear().limit((int) Math.min(b.capacity(), end));
      long from = end - b.limit();
      while (b.hasRemaining()) {
        if (ch.read(b, from + b.position()) < 0) throw new IOException("file shrank while being read");
      }
      int i = b.limit() - 1;
      while (i >= 0 && b.get(i) != '\n') i--;
      if (i >= 0) {
        end = from + i + 1;
        break;
      }
      end = from;
    }
    if (end < ch.size()) {
      ch.truncate(end);
      ch.force(false);
    }
    return end;
  }

  public static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // some file systems cannot sync a directory; the rename itself is still atomic
    }
  }
}
