package dev.atsdispatch.ats;

import dev.atsdispatch.time.WireTime;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * Walks a task list (by default: the pending tasks of one channel, light) oldest first, a page at a
 * time, by a stable cursor instead of a plain offset. A plain offset over a pending set that
 * shrinks while it is read (tasks claimed meanwhile) skips tasks; this does not.
 *
 * <p>Each page asks for {@code created_after = T} (inclusive), {@code sort_by=created_at&sort_dir=asc}
 * and {@code offset} = the position, among the tasks created at exactly {@code T}, of the last task
 * already returned; {@code T} is the created_at of that task. So a page that is all one timestamp
 * still advances, and each page starts with one task read before. If that first task is not one
 * already returned (or the page is empty), tasks at {@code T} we had returned have left the list
 * and shifted the rest towards the front past the offset: the cursor reads timestamp {@code T} again
 * from offset 0, skipping ids it has returned. Hence:
 * <ul>
 *   <li>every task that stays in the list for the whole walk is returned, exactly once, whatever
 *       is claimed, released or created meanwhile (those tasks may or may not be returned);
 *   <li>the walk ends at the first short page; every full page moves (T, offset) forward, and a
 *       re-read happens only when the list changed at T, so the walk terminates unless tasks are
 *       added (or come back) faster than pages are read.
 * </ul>
 * This relies on the server ordering tasks of equal created_at the same way on every request (the
 * dev server: by id); a server that does not keep to created_at ascending is an
 * {@link AtsException}. Memory: one page plus the ids returned at the current timestamp.
 *
 * <p>Pages are sized by what they weigh, not only by count: the protocol has no way to leave the
 * description out of a list, so a page of 100 tasks of 7 MiB is a 700 MiB answer (one that takes
 * longer than a call may, and that a transport reading it whole cannot hold). After each page
 * whose size the transport tells ({@link TaskPage#bytes()}) the next asks for as many tasks as fit
 * in {@link #PAGE_BYTES} at that page's bytes per task (at least 2, at most the page size); an
 * answer that failed because of its size ({@link AtsException#isTooLarge()}) is asked again at half
 * the size, down to 2. {@link #pageLimit()} is what it came to, for the next walk to start at.
  *
 * <p>Not thread-safe: one thread walks it (the {@link AtsClient} it reads through may be shared).
 */
public final class PendingCursor implements Iterator<Task> {
  public static final int DEFAULT_PAGE = 100;
  /** What one page should weigh at most, as far as its tasks' sizes allow. */
  public static final long PAGE_BYTES = 32L << 20;

  private final AtsClient ats;
  private final TaskQuery filter;
  private final int pageSize;
  private final long pageBytes;
  /** Tasks asked for by the next page. */
  private int limit;
  private final ArrayDeque<Task> ready = new ArrayDeque<>();
  /** Ids returned whose created_at is {@link #at}. */
  private final Set<Long> returnedAt = new HashSet<>();
  private Instant at;
  /** How many tasks created at {@link #at} precede the end of the last page read. */
  private int position;
  private boolean done;
  private int pages;
  private int rereads;

  /** The pending tasks of {@code channel}, light, in pages of {@link #DEFAULT_PAGE}. */
  public PendingCursor(AtsClient ats, String channel) {
    this(ats, TaskQuery.pending(channel).withLight(true), DEFAULT_PAGE);
  }

  /**
   * The tasks matching {@code filter}'s statuses, channel and light flag, from its
   * {@code createdAfter} on (null: from the oldest); its limit, offset and sort are replaced.
   */
  public PendingCursor(AtsClient ats, TaskQuery filter, int pageSize) {
    this(ats, filter, pageSize, pageSize, PAGE_BYTES);
  }

  /**
   * As above; the first page asks for {@code startLimit} tasks (clamped to 2..pageSize), and
   * pages are kept to about {@code pageBytes}.
   */
  public PendingCursor(AtsClient ats, TaskQuery filter, int pageSize, int startLimit, long pageBytes) {
    if (pageSize < 2) throw new IllegalArgumentException("pageSize must be at least 2, got " + pageSize);
    this.ats = ats;
    this.filter = filter.oldestFirst();
    this.pageSize = pageSize;
    this.pageBytes = pageBytes;
    this.limit = Math.max(2, Math.min(pageSize, startLimit));
    this.at = filter.createdAfter();
  }

  @Override
  public boolean hasNext() {
    while (ready.isEmpty() && !done) fetch();
    return !ready.isEmpty();
  }

  @Override
  public Task next() {
    if (!hasNext()) throw new NoSuchElementException();
    return ready.poll();
  }

  /** List calls made so far. */
  public int pages() {
    return pages;
  }

  /** Tasks read and not yet returned: {@link #next()} returns them without another call. */
  public int buffered() {
    return ready.size();
  }

  /** Tasks the next page asks for (the page size, or fewer where tasks are large). */
  public int pageLimit() {
    return limit;
  }

  /** Times a timestamp was read again from its start because the list changed under the cursor. */
  public int rereads() {
    return rereads;
  }

  private void fetch() {
    int offset = Math.max(0, position - 1);
    int asked = limit;
    TaskPage answer;
    try {
      answer = ats.list(filter.withCreatedAfter(at).page(asked, offset));
    } catch (AtsException e) {
      if (!e.isTooLarge() || asked <= 2) throw e;
      limit = Math.max(2, asked / 2); // the same page again, smaller; nothing else has moved
      return;
    } finally {
      pages++;
    }
    List<Task> page = answer.tasks();
    if (answer.bytes() > 0 && !page.isEmpty()) {
      long perTask = Math.max(1, answer.bytes() / page.size());
      limit = (int) Math.max(2, Math.min(pageSize, pageBytes / perTask));
    }
    if (offset > 0 && (page.isEmpty() || !returnedAt.contains(page.get(0).id()))) {
      rereads++;
      position = 0;
      return;
    }
    position = offset;
    for (Task t : page) {
      Instant c = t.createdAt();
      if (c == null) {
        throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, "task " + t.id()
            + " has no created_at: cannot page by cursor");
      }
      if (at != null && c.isBefore(at)) {
        throw new AtsException(AtsException.Kind.UNAVAILABLE, 0, "list is not in created_at order"
            + " (task " + t.id() + " at " + WireTime.format(c) + " after " + WireTime.format(at) + ")");
      }
      if (!c.equals(at)) {
        at = c;
        returnedAt.clear();
        position = 0;
      }
      position++;
      if (returnedAt.add(t.id())) ready.add(t);
    }
    if (page.size() < asked) done = true;
  }
}
