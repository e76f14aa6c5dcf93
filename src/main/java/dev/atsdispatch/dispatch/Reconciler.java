package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskSource;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reconcile walk: lists the source's pending tasks page by page (a stable cursor, light
 * tasks) and hands each page to the loop, so events missed while disconnected are found. Runs on
 * its own thread; a request while a walk runs makes it run once more, never twice in parallel.
 */
final class Reconciler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Reconciler.class);

  private final TaskSource source;
  private final int page;
  private final BooleanSupplier accepting;
  private final Consumer<List<SourceTask>> onPage;
  private final Runnable onDone;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "dispatch-reconcile");
    t.setDaemon(true);
    return t;
  });
  /** 0 idle, 1 running, 2 running and asked again: a request during a run is not lost. */
  private final AtomicInteger state = new AtomicInteger();

  Reconciler(TaskSource source, int page, BooleanSupplier accepting, Consumer<List<SourceTask>> onPage, Runnable onDone) {
    this.source = source;
    this.page = page;
    this.accepting = accepting;
    this.onPage = onPage;
    this.onDone = onDone;
  }

  void request() {
    if (state.getAndUpdate(v -> Math.min(v + 1, 2)) != 0) return;
    try {
      thread.execute(() -> {
        do {
          walk();
        } while (accepting.getAsBoolean() && state.getAndUpdate(v -> v - 1) == 2);
        state.set(0);
      });
    } catch (RejectedExecutionException x) {
      state.set(0);
    }
  }

  private void walk() {
    int seen = 0;
    try {
      var pages = source.listPending(page);
      while (accepting.getAsBoolean() && pages.hasNext()) {
        List<SourceTask> batch = pages.next();
        onPage.accept(batch);
        seen += batch.size();
      }
      onDone.run();
      log.debug("reconcile listed {} pending tasks", seen);
    } catch (SourceException e) {
      log.warn("reconcile failed: {}", e.getMessage());
    } catch (RuntimeException e) {
      log.error("reconcile failed", e);
    }
  }

  @Override
  public void close() {
    thread.shutdownNow();
  }
}
