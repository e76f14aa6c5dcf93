package dev.atsdispatch.status;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * What the dashboard shows of the last hour: tasks completed and failed per minute (sixty
 * one-minute buckets) and the newest failures with their reasons. Bounded whatever the load.
 * Written from attempt threads, read from HTTP threads; this object is the lock.
 */
public final class Recent {
  /** Minutes counted. */
  public static final int MINUTES = 60;
  /** Failures kept (the newest). */
  public static final int FAILURES = 100;

  /** One failure: which task, what it was called (null for an encrypted task), why, when. */
  public record Failure(TaskKey key, String title, String kind, String reason, int attempt, Instant at) {
    public ObjectNode json() {
      ObjectNode o = JsonNodeFactory.instance.objectNode().put("task", key.toString()).put("id", key.id())
          .put("source", key.source()).put("kind", kind).put("reason", reason).put("attempt", attempt)
          .put("at", at.toString());
      if (title != null) o.put("title", title);
      return o;
    }
  }

  private final Clock clock;
  private final long[] minute = new long[MINUTES]; // the epoch minute each bucket counts
  private final int[] completed = new int[MINUTES];
  private final int[] failed = new int[MINUTES];
  private final ArrayDeque<Failure> failures = new ArrayDeque<>();

  public Recent(Clock clock) {
    this.clock = clock;
  }

  public synchronized void completed() {
    completed[bucket(clock.now())]++;
  }

  /** A failure; {@code title} null when the task's content may not be shown. */
  public synchronized void failed(TaskKey key, String title, String kind, String reason, int attempt) {
    Instant now = clock.now();
    failed[bucket(now)]++;
    failures.addFirst(new Failure(key, title, kind, reason == null ? "" : reason, attempt, now));
    if (failures.size() > FAILURES) failures.removeLast();
  }

  /** The bucket for {@code at}'s minute, emptied first if it last counted another minute. */
  private int bucket(Instant at) {
    long m = Math.floorDiv(at.getEpochSecond(), 60);
    int i = (int) Math.floorMod(m, MINUTES);
    if (minute[i] != m) {
      minute[i] = m;
      completed[i] = 0;
      failed[i] = 0;
    }
    return i;
  }

  /** Completed and failed per minute, the oldest of the last {@link #MINUTES} first. */
  public synchronized long[][] perMinute() {
    long now = Math.floorDiv(clock.now().getEpochSecond(), 60);
    long[][] out = new long[MINUTES][3];
    for (int k = 0; k < MINUTES; k++) {
      long m = now - (MINUTES - 1) + k;
      int i = (int) Math.floorMod(m, MINUTES);
      out[k][0] = m;
      if (minute[i] == m) {
        out[k][1] = completed[i];
        out[k][2] = failed[i];
      }
    }
    return out;
  }

  public synchronized List<Failure> failures() {
    return new ArrayList<>(failures);
  }

  /** Adds several routes' per-minute counts into one series (the same minutes). */
  public static ArrayNode series(List<Recent> all) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    long[][] sum = null;
    for (Recent r : all) {
      long[][] p = r.perMinute();
      if (sum == null) {
        sum = p;
      } else {
        for (int k = 0; k < MINUTES; k++) {
          sum[k][1] += p[k][1];
          sum[k][2] += p[k][2];
        }
      }
    }
    if (sum == null) return a;
    for (long[] m : sum) {
      a.addObject().put("minute", Instant.ofEpochSecond(m[0] * 60).toString()).put("completed", m[1]).put("failed", m[2]);
    }
    return a;
  }
}
