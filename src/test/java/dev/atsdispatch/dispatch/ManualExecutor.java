package dev.atsdispatch.dispatch;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Executor;

/** An executor that only queues; the test runs what is queued, on its own thread, when it says so. */
final class ManualExecutor implements Executor {
  private final Deque<Runnable> queue = new ArrayDeque<>();
  int mostQueued;

  @Override
  public synchronized void execute(Runnable r) {
    queue.add(r);
    mostQueued = Math.max(mostQueued, queue.size());
  }

  synchronized int queued() {
    return queue.size();
  }

  /** Runs the oldest queued task; false if there was none. */
  boolean runOne() {
    Runnable r;
    synchronized (this) {
      r = queue.poll();
    }
    if (r == null) return false;
    r.run();
    return true;
  }

  /** Runs queued tasks, and what they queue, until none is left. */
  int runAll() {
    int n = 0;
    while (runOne()) n++;
    return n;
  }
}
