package dev.atsdispatch.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.testing.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Registration notices: one at once after a quiet window, then at most one summary per window. */
final class RegistrationDigestTest {
  static final Duration W = Duration.ofMinutes(10);
  final List<String> sent = new ArrayList<>();
  final FakeClock clock = new FakeClock();
  final List<Duration> delays = new ArrayList<>();
  final List<Runnable> due = new ArrayList<>();
  boolean timerClosed;
  final RegistrationDigest.Timer timer = new RegistrationDigest.Timer() {
    @Override
    public void after(Duration delay, Runnable task) {
      delays.add(delay);
      due.add(task);
    }

    @Override
    public void close() {
      timerClosed = true;
    }
  };
  final RegistrationDigest d = new RegistrationDigest(new Notifications(sent::add), clock, W, timer);

  /** Advances the clock by {@code by} and runs what the timer holds (as its thread would). */
  void elapse(Duration by) {
    clock.advance(by);
    List<Runnable> run = new ArrayList<>(due);
    due.clear();
    run.forEach(Runnable::run);
  }

  @Test
  void aLoneRequestGoesOutAtOnceInTheFormerWording() {
    d.requested("51643eac9777b63a", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "77");
    assertEquals(1, sent.size());
    assertTrue(sent.get(0).startsWith("🔑 <b>New registration request</b>\nFingerprint: <code>51643eac9777b63a</code>"),
        sent.get(0));
    assertEquals(List.of(), delays, "nothing waits");
  }

  /** Issue 12, finding 6: a hundred requests in a minute send the admin two messages, not a hundred. */
  @Test
  void aFloodIsOneMessageAtOnceAndOneSummaryAtTheEndOfTheWindow() {
    d.requested("fp00", "key0", "100");
    clock.advance(Duration.ofMinutes(1));
    for (int i = 1; i < 13; i++) d.requested("fp" + String.format("%02d", i), "key" + i, Integer.toString(100 + i));
    for (int i = 0; i < 12; i++) d.invalid(Integer.toString(200 + i), "not valid base64");
    for (int i = 0; i < 75; i++) d.refused(Integer.toString(300 + i), "Registration refused: too many <new> requests");
    d.refused("400", "Registration refused: this is the dispatcher's own public key");
    assertEquals(1, sent.size(), "only the first went out");
    assertEquals(List.of(W.minusMinutes(1)), delays, "one summary, due when the window that began with the first ends");
    elapse(W.minusMinutes(1));
    assertEquals(2, sent.size());
    String s = sent.get(1);
    assertTrue(s.startsWith("🔑 <b>Registration requests in the last 10 minutes</b>: 12 new, 12 invalid, 76 refused\n"
        + "New (fingerprint, task):\n<code>fp01</code> task 101\n"), s);
    assertTrue(s.contains("<code>fp10</code> task 110\n… and 2 more\n") && !s.contains("fp11"), s);
    assertTrue(s.contains("\nInvalid key format, tasks: 200, 201, 202, 203, 204, 205, 206, 207, 208, 209 … and 2 more"), s);
    assertTrue(s.contains("\nRefused 75×: Registration refused: too many &lt;new&gt; requests"), s);
    assertTrue(s.endsWith("\nRefused 1×: Registration refused: this is the dispatcher's own public key"), s);
    assertTrue(s.length() < 4096, "one Telegram message: " + s.length());
  }

  @Test
  void afterASummaryTheNextOneWaitsAWholeWindowAndAQuietWindowSendsAtOnceAgain() {
    d.invalid("1", "x");
    d.invalid("2", "x");
    d.invalid("3", "x");
    elapse(W);
    assertEquals(2, sent.size());
    d.invalid("4", "x");
    d.invalid("5", "x");
    assertEquals(2, sent.size(), "the summary just went out: these wait");
    assertEquals(W, delays.get(1));
    elapse(W);
    assertEquals(3, sent.size());
    assertTrue(sent.get(2).contains("2 invalid") && sent.get(2).contains("tasks: 4, 5"), sent.get(2));
    elapse(W);
    d.refused("6", "Registration refused: this is the dispatcher's own public key");
    assertEquals(4, sent.size(), "a quiet window: at once");
    assertEquals("🚫 Registration refused\nTask: 6\nRegistration refused: this is the dispatcher's own public key",
        sent.get(3));
  }

  @Test
  void oneEventLeftForTheWindowsEndKeepsItsSingleForm() {
    d.requested("fpA", "keyA", "1");
    d.invalid("2", "expected 32 bytes, got 3");
    elapse(W);
    assertEquals(List.of("⚠️ Registration REJECTED — invalid key format\nTask: 2\nexpected 32 bytes, got 3"),
        sent.subList(1, 2));
  }

  @Test
  void closeSendsWhatIsGatheredAndThenNothingMore() {
    d.requested("fpA", "keyA", "1");
    d.requested("fpB", "keyB", "2");
    d.requested("fpC", "keyC", "3");
    d.close();
    assertEquals(2, sent.size());
    assertTrue(sent.get(1).contains("2 new, 0 invalid, 0 refused"), sent.get(1));
    assertTrue(timerClosed);
    d.requested("fpD", "keyD", "4");
    elapse(W);
    assertEquals(2, sent.size());
  }
}
