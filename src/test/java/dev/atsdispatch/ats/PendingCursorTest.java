package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import dev.atsdispatch.source.TaskStatus;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** {@link PendingCursor} over an in-memory list with the dev server's order, changed between pages. */
class PendingCursorTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00.000Z");

  /** Pending tasks of one channel; list() answers like the dev server and first runs a hook. */
  static final class FakeAts implements AtsClient {
    final TreeMap<Long, Task> pending = new TreeMap<>();
    final List<TaskQuery> queries = new ArrayList<>();
    Consumer<FakeAts> beforeList = f -> {};
    boolean ignoreSort;
    long nextId = 1;
    /** Bytes each task weighs in an answer; with any set, answers tell their size. */
    final java.util.Map<Long, Long> weight = new java.util.HashMap<>();
    /** An answer heavier than this fails as too large (as the cli's stdout cap, or a timeout mid-answer). */
    long maxAnswerBytes = Long.MAX_VALUE;

    long add(Instant createdAt) {
      long id = nextId++;
      pending.put(id, new Task(id, "t" + id, "d", TaskStatus.PENDING, 5, "task", "ch", null, null,
          null, null, null, null, null, createdAt, createdAt));
      return id;
    }

    @Override
    public TaskPage list(TaskQuery q) {
      queries.add(q);
      beforeList.accept(this);
      Comparator<Task> order = Comparator.comparing(Task::createdAt).thenComparingLong(Task::id);
      List<Task> all = pending.values().stream()
          .filter(t -> q.channel() == null || q.channel().equals(t.channel()))
          .filter(t -> q.createdAfter() == null || !t.createdAt().isBefore(q.createdAfter()))
          .sorted(ignoreSort ? order.reversed() : order)
          .toList();
      int from = Math.min(q.offset() == null ? 0 : q.offset(), all.size());
      int to = q.limit() == null ? all.size() : Math.min(all.size(), from + q.limit());
      List<Task> page = all.subList(from, to).stream().map(t -> q.light() ? t.toLight() : t).toList();
      if (weight.isEmpty()) return new TaskPage(page, all.size());
      long bytes = 2 + page.stream().mapToLong(t -> weight.getOrDefault(t.id(), 100L)).sum();
      if (bytes > maxAnswerBytes) {
        throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, "answer of " + bytes + " bytes").tooLarge();
      }
      return new TaskPage(page, all.size(), bytes);
    }

    @Override public String transport() { return "fake"; }
    @Override public Task get(long id) { throw new UnsupportedOperationException(); }
    @Override public Task create(NewTask task) { throw new UnsupportedOperationException(); }
    @Override public Task claim(long id, Duration lease) { throw new UnsupportedOperationException(); }
    @Override public void complete(long id, List<JsonNode> outputs) { throw new UnsupportedOperationException(); }
    @Override public void fail(long id, String reason) { throw new UnsupportedOperationException(); }
    @Override public void release(long id) { throw new UnsupportedOperationException(); }
    @Override public void addMessage(long id, List<JsonNode> parts) { throw new UnsupportedOperationException(); }
    @Override public java.util.List<com.fasterxml.jackson.databind.JsonNode> messages(long id) { return java.util.List.of(); }
    @Override public void health() {}
    @Override public void close() {}
  }

  private static List<Long> walk(PendingCursor c) {
    List<Long> out = new ArrayList<>();
    c.forEachRemaining(t -> out.add(t.id()));
    return out;
  }

  @Test
  void oldestFirstLightAndPagesAsAsked() {
    FakeAts ats = new FakeAts();
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 250; i++) ids.add(ats.add(T0.plusMillis(i)));
    PendingCursor c = new PendingCursor(ats, "ch");
    List<Task> seen = new ArrayList<>();
    c.forEachRemaining(seen::add);
    assertEquals(ids, seen.stream().map(Task::id).toList());
    assertTrue(seen.stream().allMatch(t -> t.light() && t.description() == null));
    assertEquals(3, c.pages());
    TaskQuery q = ats.queries.get(1);
    assertEquals(Set.of(TaskStatus.PENDING), q.statuses());
    assertEquals("ch", q.channel());
    assertEquals("created_at", q.sortBy());
    assertEquals("asc", q.sortDir());
    assertEquals(PendingCursor.DEFAULT_PAGE, q.limit());
    // Each page starts at the last task already returned, at its own created_at.
    assertEquals(T0.plusMillis(99), q.createdAfter());
    assertEquals(0, q.offset());
  }

  @Test
  void aPageFullOfOneTimestampStillAdvances() {
    FakeAts ats = new FakeAts();
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 95; i++) ids.add(ats.add(T0));
    ids.add(ats.add(T0.plusMillis(1)));
    PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch"), 10);
    assertEquals(ids, walk(c));
    assertEquals(11, c.pages());
    assertEquals(T0, ats.queries.get(3).createdAfter());
    assertEquals(27, ats.queries.get(3).offset());
    assertEquals(0, c.rereads());
  }

  @Test
  void claimsAtTheCurrentTimestampDoNotMakeItSkip() {
    // 30 tasks in one millisecond; before every page, the tasks returned so far are claimed (as
    // the service does). Offset = "number returned at that timestamp" would then skip the next ones.
    FakeAts ats = new FakeAts();
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 30; i++) ids.add(ats.add(T0));
    Set<Long> returned = new HashSet<>();
    ats.beforeList = f -> returned.forEach(f.pending::remove);
    PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch"), 7);
    List<Long> out = new ArrayList<>();
    c.forEachRemaining(t -> {
      out.add(t.id());
      returned.add(t.id());
    });
    assertEquals(ids, out);
    assertTrue(c.rereads() > 0);
  }

  @Test
  void randomChangesNeverSkipATaskThatStaysPending() {
    for (int seed = 0; seed < 300; seed++) {
      Random rnd = new Random(seed);
      FakeAts ats = new FakeAts();
      int n = 20 + rnd.nextInt(200);
      Instant t = T0;
      for (int i = 0; i < n; i++) {
        if (rnd.nextInt(3) == 0) t = t.plusMillis(1 + rnd.nextInt(3));
        ats.add(t);
      }
      Set<Long> removed = new HashSet<>();
      Instant[] latest = {t};
      ats.beforeList = f -> {
        for (int k = rnd.nextInt(6); k > 0 && !f.pending.isEmpty(); k--) {
          long victim = new ArrayList<>(f.pending.keySet()).get(rnd.nextInt(f.pending.size()));
          f.pending.remove(victim);
          removed.add(victim);
        }
        for (int k = rnd.nextInt(3); k > 0; k--) {
          if (rnd.nextBoolean()) latest[0] = latest[0].plusMillis(1);
          f.add(latest[0]);
        }
      };
      Set<Long> initial = new HashSet<>(ats.pending.keySet());
      PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch"), 2 + rnd.nextInt(12));
      List<Long> out = walk(c);
      Set<Long> stayed = new HashSet<>(initial);
      stayed.removeAll(removed);
      assertTrue(out.containsAll(stayed), "seed " + seed + ": skipped " + missing(stayed, out));
      assertEquals(out.size(), new HashSet<>(out).size(), "seed " + seed + ": duplicates");
      assertTrue(c.pages() < 10 * n, "seed " + seed + ": " + c.pages() + " pages");
    }
  }

  private static Set<Long> missing(Set<Long> want, List<Long> got) {
    Set<Long> m = new HashSet<>(want);
    got.forEach(m::remove);
    return m;
  }

  @Test
  void startsAtTheFiltersCreatedAfterAndEndsOnAnEmptyList() {
    FakeAts ats = new FakeAts();
    ats.add(T0);
    long b = ats.add(T0.plusMillis(5));
    assertEquals(List.of(b), walk(new PendingCursor(ats,
        TaskQuery.pending("ch").withCreatedAfter(T0.plusMillis(5)), 10)));
    assertFalse(new PendingCursor(new FakeAts(), "ch").hasNext());
  }

  @Test
  void aServerThatIgnoresTheSortIsAnError() {
    FakeAts ats = new FakeAts();
    for (int i = 0; i < 5; i++) ats.add(T0.plusMillis(i));
    ats.ignoreSort = true;
    AtsException e = assertThrows(AtsException.class, () -> walk(new PendingCursor(ats, "ch")));
    assertTrue(e.getMessage().contains("not in created_at order"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new PendingCursor(ats, TaskQuery.pending("ch"), 1));
  }

  @Test
  void pagesOfLargeTasksAreSizedByWeightAndStillReturnEveryTaskOnce() {
    FakeAts ats = new FakeAts();
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 250; i++) {
      long id = ats.add(T0.plusMillis(i));
      ids.add(id);
      ats.weight.put(id, i < 150 ? 7L << 20 : 200L); // 150 tasks of 7 MiB, then small ones
    }
    PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch").withLight(true), 100, 100, 32L << 20);
    assertEquals(ids, walk(c));
    List<Integer> limits = ats.queries.stream().map(TaskQuery::limit).toList();
    assertEquals(100, limits.get(0)); // nothing known yet: the page size
    assertEquals(4, limits.get(1), limits.toString()); // 32 MiB at 7 MiB a task
    assertTrue(limits.subList(1, 15).stream().allMatch(l -> l == 4), limits.toString()); // the large ones
    assertTrue(limits.size() < 60, limits.toString());
    // the last page had small tasks only: the next walk may start at the full page size again
    assertEquals(100, c.pageLimit());
  }

  @Test
  void anAnswerTooLargeIsAskedAgainAtHalfTheSize() {
    FakeAts ats = new FakeAts();
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      long id = ats.add(T0.plusMillis(i));
      ids.add(id);
      ats.weight.put(id, 7L << 20);
    }
    ats.maxAnswerBytes = 64L << 20; // nine tasks at most
    PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch").withLight(true), 100, 100, 32L << 20);
    assertEquals(ids, walk(c));
    List<Integer> limits = ats.queries.stream().map(TaskQuery::limit).toList();
    assertEquals(List.of(100, 50, 25, 12, 6), limits.subList(0, 5)); // refused four times, then fits
    assertTrue(limits.subList(5, limits.size()).stream().allMatch(l -> l == 4), limits.toString());
    assertEquals(4, c.pageLimit());
  }

  @Test
  void aSingleTaskTooLargeForAnyPageIsAnError() {
    FakeAts ats = new FakeAts();
    ats.weight.put(ats.add(T0), 100L << 20);
    ats.maxAnswerBytes = 64L << 20;
    PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch").withLight(true), 100, 2, 32L << 20);
    AtsException e = assertThrows(AtsException.class, c::hasNext);
    assertTrue(e.isTooLarge());
    assertEquals(1, ats.queries.size()); // at 2 it does not shrink further: the error goes to the caller
  }

  @Test
  void anErrorNotAboutSizeIsNotRetried() {
    FakeAts ats = new FakeAts();
    ats.add(T0);
    ats.beforeList = f -> {
      throw new AtsException(AtsException.Kind.UNAVAILABLE, 503, "HTTP 503");
    };
    PendingCursor c = new PendingCursor(ats, TaskQuery.pending("ch").withLight(true), 100);
    assertThrows(AtsException.class, c::hasNext);
    assertEquals(1, ats.queries.size());
  }
}
