package dev.atsdispatch.devserver;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Reads one request body without holding a thread while the client is slow: it takes what has
 * arrived and asks Jetty to call back when more does, up to a byte limit and within a deadline
 * for the whole body (a client that trickles a byte at a time is never idle, so the connector's
 * idle timeout alone would not end it). The result is handed on exactly once: on the thread that
 * delivered the last bytes or a failure (a Jetty pool thread, or the request's own thread when the
 * body had already arrived), or on Jetty's scheduler thread when the deadline passes.
 */
final class BodyReader implements Runnable {
  /** A body: its bytes, or why there are none; {@code complete} if the whole body was read. */
  record Body(byte[] bytes, ApiException error, boolean complete) {
    static final Body EMPTY = new Body(new byte[0], null, true);
  }

  private final Request request;
  private final int maxBytes;
  private final Duration limit;
  private final Consumer<Body> done;
  private byte[] buf;
  private int size;
  private boolean finished;
  private Scheduler.Task deadline;

  private BodyReader(Request request, int maxBytes, Duration limit, Consumer<Body> done) {
    this.request = request;
    this.maxBytes = maxBytes;
    this.limit = limit;
    this.done = done;
  }

  /** Reads {@code request}'s body and gives it to {@code done}; returns at once. */
  static void read(Request request, int maxBytes, Duration limit, Consumer<Body> done) {
    long declared = request.getLength();
    if (declared == 0) {
      done.accept(Body.EMPTY);
      return;
    }
    if (declared > maxBytes) {
      done.accept(new Body(null, tooLarge(maxBytes), false));
      return;
    }
    BodyReader r = new BodyReader(request, maxBytes, limit, done);
    r.buf = new byte[declared > 0 ? (int) declared : 0];
    synchronized (r) {
      r.deadline = request.getComponents().getScheduler()
          .schedule(r::expire, limit.toMillis(), TimeUnit.MILLISECONDS);
    }
    r.run();
  }

  static ApiException tooLarge(int maxBytes) {
    return new ApiException(413, "Request body too large (limit " + maxBytes + " bytes)");
  }

  /** Reads what has arrived; Jetty calls it again when more does (never two at once). */
  @Override
  public void run() {
    while (true) {
      if (isFinished()) return;
      Content.Chunk chunk = request.read();
      if (chunk == null) {
        request.demand(this);
        return;
      }
      if (Content.Chunk.isFailure(chunk)) {
        Throwable f = chunk.getFailure();
        // Jetty's idle timeout arrives as a (transient) TimeoutException: answered like the deadline.
        finish(f instanceof TimeoutException ? timedOut()
            : new Body(null, ApiException.badRequest("Cannot read request body: "
                + (f.getMessage() == null ? f.getClass().getSimpleName() : f.getMessage())), false));
        return;
      }
      ByteBuffer b = chunk.getByteBuffer();
      int n = b.remaining();
      if ((long) size + n > maxBytes) {
        chunk.release();
        finish(new Body(null, tooLarge(maxBytes), false));
        return;
      }
      if (size + n > buf.length) buf = Arrays.copyOf(buf, Math.max(size + n, buf.length * 2));
      b.get(buf, size, n);
      size += n;
      boolean last = chunk.isLast();
      chunk.release();
      if (last) {
        finish(new Body(size == buf.length ? buf : Arrays.copyOf(buf, size), null, true));
        return;
      }
    }
  }

  private Body timedOut() {
    return new Body(null, new ApiException(408,
        "Request body not received within " + limit.toSeconds() + " s"), false);
  }

  private synchronized boolean isFinished() {
    return finished;
  }

  private void finish(Body body) {
    synchronized (this) {
      if (finished) return;
      finished = true;
      if (deadline != null) deadline.cancel();
    }
    buf = null;
    done.accept(body);
  }

  /**
   * The deadline passed. Failing the request wakes a pending demand (whose read then sees the
   * failure and stops); this is done under the monitor, while nothing has been answered, so the
   * request cannot have completed and been replaced by the connection's next one.
   */
  private void expire() {
    synchronized (this) {
      if (finished) return;
      finished = true;
      request.fail(new TimeoutException("request body not received within " + limit));
    }
    done.accept(timedOut());
  }
}
