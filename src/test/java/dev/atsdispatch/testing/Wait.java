package dev.atsdispatch.testing;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** Bounded waits for a condition (never a fixed sleep), and waits for a thread to reach a frame. */
public final class Wait {
  private Wait() {}

  public static final Duration LONG = Duration.ofSeconds(10);

  public static void until(String what, BooleanSupplier cond) {
    until(what, LONG, cond);
  }

  public static void until(String what, Duration d, BooleanSupplier cond) {
    long end = System.nanoTime() + d.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() - end > 0) throw new AssertionError("timed out after " + d.toMillis() + " ms waiting for " + what);
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }

  /** Whether some live thread whose name starts with {@code prefix} is waiting inside {@code frame} (Class.method). */
  public static boolean threadIn(String prefix, String frame) {
    return threadInOrNull(prefix, frame) != null;
  }

  public static String threadInOrNull(String prefix, String frame) {
    for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
      Thread t = e.getKey();
      if (!t.getName().startsWith(prefix)) continue;
      Thread.State s = t.getState();
      if (s != Thread.State.WAITING && s != Thread.State.TIMED_WAITING && s != Thread.State.BLOCKED) continue;
      if (Arrays.stream(e.getValue()).anyMatch(f -> frame.equals(simple(f.getClassName()) + "." + f.getMethodName()))) {
        return t.getName();
      }
    }
    return null;
  }

  /** Waits until the named thread is parked in a pool's queue (it finished whatever it was running). */
  public static void idle(String threadName) {
    until(threadName + " to be idle", () -> {
      for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
        if (!e.getKey().getName().equals(threadName)) continue;
        Thread.State s = e.getKey().getState();
        return (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING)
            && Arrays.stream(e.getValue()).anyMatch(f -> f.getMethodName().equals("getTask"));
      }
      return true; // gone: it finished too
    });
  }

  private static String simple(String className) {
    String s = className.substring(className.lastIndexOf('.') + 1);
    int dollar = s.indexOf('$');
    return dollar < 0 ? s : s.substring(0, dollar);
  }
}
