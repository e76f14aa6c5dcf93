package dev.atsdispatch.source;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A task's identity across the service: the name of the source it came from and the source's own
 * id for it ({@code ats:123}). It keys the state directory, ledgers, outbox entries, replay
 * records, callbacks and metrics, so two sources may use the same ids without meeting.
 */
public record TaskKey(String source, String id) implements Comparable<TaskKey> {
  private static final Pattern SOURCE = Pattern.compile("[a-z][a-z0-9_-]{0,31}");
  private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

  public TaskKey {
    if (source == null || !SOURCE.matcher(source).matches()) {
      throw new IllegalArgumentException("bad source name: " + source);
    }
    if (id == null || id.isEmpty() || id.length() > 512 || id.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("bad task id for source " + source);
    }
  }

  public static TaskKey of(String source, long id) {
    return new TaskKey(source, Long.toString(id));
  }

  /** Reads {@code source:id}, the form {@link #toString()} writes. */
  public static TaskKey parse(String s) {
    int colon = s == null ? -1 : s.indexOf(':');
    if (colon <= 0) throw new IllegalArgumentException("not a task key (source:id): " + s);
    return new TaskKey(s.substring(0, colon), s.substring(colon + 1));
  }

  /** The id as a number, when the source's ids are whole numbers (ATS); else -1. */
  public long numericId() {
    if (id.length() > 18 || !id.chars().allMatch(c -> c >= '0' && c <= '9')) return -1;
    return Long.parseLong(id);
  }

  /**
   * A file name for this task's directory under its source's: the id itself when it is a plain
   * name, else a hash of it (ids from a board or a message bus may hold any character).
   */
  public String fileName() {
    if (SAFE_ID.matcher(id).matches()) return id;
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
      return "h-" + HexFormat.of().formatHex(h, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** How people see it in logs and messages: {@code #123} for ATS, {@code board:abc} otherwise. */
  public String display() {
    return numericId() >= 0 ? "#" + id : toString();
  }

  @Override
  public int compareTo(TaskKey o) {
    int c = source.compareTo(o.source);
    if (c != 0) return c;
    long a = numericId();
    long b = o.numericId();
    if (a >= 0 && b >= 0) return Long.compare(a, b);
    return id.compareTo(o.id);
  }

  @Override
  public String toString() {
    return source + ":" + id;
  }
}
