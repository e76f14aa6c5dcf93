package dev.atsdispatch.exec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The fields of {@code /proc/<pid>/stat} the service needs: state, parent, process group and
 * session. Linux only; {@link #of} answers null where /proc cannot tell (no such process, no
 * /proc). Stateless, any thread.
 */
public record ProcStat(char state, long ppid, long pgrp, long session) {
  /** The process's stat, or null. */
  public static ProcStat of(long pid) {
    String stat;
    try {
      stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    } catch (IOException | RuntimeException e) {
      return null;
    }
    // pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses
    int close = stat.lastIndexOf(')');
    if (close < 0 || close + 2 >= stat.length()) return null;
    String[] f = stat.substring(close + 2).split(" ");
    if (f.length < 4) return null;
    try {
      return new ProcStat(f[0].charAt(0), Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]));
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** A zombie (or dead) process: it runs nothing and holds nothing. */
  public boolean zombie() {
    return state == 'Z' || state == 'X';
  }
}
