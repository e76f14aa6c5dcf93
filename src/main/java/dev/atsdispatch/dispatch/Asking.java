package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.log.Scrubbed;
import dev.atsdispatch.source.Lease;
import dev.atsdispatch.source.SourceException;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.source.TaskSource;
import dev.atsdispatch.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Questions to humans (issue 16), the engine's side: an attempt that ends with a question records
 * it (ledger, {@link Questions}), tells people (the source: the task's thread, or NATS's result
 * subject; the observer: Telegram), and parks the task without a strike and without a lease
 * ({@link Lease#park}). Answers come from the thread ({@link #said}), the command line (a file the
 * {@link #tick} takes in) or a reopen; each wakes the task ({@link TaskSource#unpark}), whose next
 * attempt is given the answer ({@link #answerFor}, {@link #delivered}). A wait longer than
 * {@code questions.answer_timeout} fails the task (through admission, once the task is offered).
 *
 * <p>Threads: {@link #park} on an attempt's runner thread; {@link #tick} on a timer; thread reads
 * and wake-ups on the source-call pool; admission's look-ups on the intake thread. State is in
 * {@link Questions} (thread-safe) and the ledgers.
 */
final class Asking {
  private static final Logger log = LoggerFactory.getLogger(Asking.class);
  private static final ObjectMapper M = new ObjectMapper();

  private final ServiceConfig cfg;
  private final TaskSource source;
  private final StateDir state;
  private final Questions questions;
  private final Clock clock;
  private final TaskObserver observer;
  private final Executor calls;

  Asking(ServiceConfig cfg, TaskSource source, StateDir state, Questions questions, Clock clock, TaskObserver observer,
      Executor calls) {
    this.cfg = cfg;
    this.source = source;
    this.state = state;
    this.questions = questions;
    this.clock = clock;
    this.observer = observer;
    this.calls = calls;
  }

  Questions questions() {
    return questions;
  }

  /** How many of this source's tasks wait for an answer now (any thread). */
  int awaiting() {
    return questions.awaiting(source.name());
  }

  /**
   * The question an attempt ended with: one asked through the agent API ({@code viaApi}, put in
   * the mailbox now), else the lowest unanswered {@code NNN.question} in the work directory; null
   * when none.
   */
  Questions.Asked found(TaskKey key, String viaApi) {
    if (viaApi != null && !viaApi.isBlank()) return Questions.post(state.workDir(key), viaApi);
    return Questions.pending(state.workDir(key));
  }

  static String parkReason(int number) {
    return Lease.PARK_REASON_PREFIX + number + ": reply on the task's thread (or ats-dispatch answer)";
  }

  /**
   * The attempt ended with question {@code q}: recorded (before the lease goes), told, and the
   * task parked. No strike; no report. Returns how the claim ended for the loop.
   */
  AttemptRunner.End park(Tracked t, Claim c, Lease lease, LeaseKeeper keeper, TaskView view, int attempt, Questions.Asked q) {
    TaskLedger ledger = state.ledger(t.key);
    Instant now = clock.now();
    ObjectNode rec = M.createObjectNode().put("question", q.number()).put("attempt", attempt);
    if (!view.encrypted()) rec.put("text", q.text()); // an encrypted task's stays in its work directory only
    ledger.append("question_asked", rec, now);
    questions.ask(t.key, q, view.encrypted(), now);
    observer.questionAsked(view, q.number(), view.encrypted() ? null : q.text());
    keeper.close(cfg.grace().plusSeconds(5));
    Claim.Stop s = c.stopped();
    if (s == Claim.Stop.CANCELLED || s == Claim.Stop.FINISHED_ELSEWHERE || s == Claim.Stop.LEASE_LOST) {
      log.info("task {}: asked question {}, but {}; nothing parked", t.key, q.number(), c.stopDetail());
      if (s != Claim.Stop.LEASE_LOST) questions.close(t.key);
      return s == Claim.Stop.CANCELLED ? AttemptRunner.End.DONE : AttemptRunner.End.FORGET;
    }
    tell(t.key, view, q);
    try {
      lease.park(parkReason(q.number()), cfg.questionRecheck());
      ledger.append("parked", M.createObjectNode().put("question", q.number()), clock.now());
      log.info("task {}: attempt {} asked question {}; the task waits for the answer (no lease held)", t.key, attempt, q.number());
    } catch (SourceException x) {
      log.warn("task {}: asked question {}, but it could not be parked ({}); it is parked when offered again",
          t.key, q.number(), x.getMessage());
    }
    return AttemptRunner.End.FORGET;
  }

  /** Puts the question where people read it; a failure is logged (the thread can be read at {@code questions}). */
  private void tell(TaskKey key, TaskView view, Questions.Asked q) {
    JsonNode sealed = null;
    if (view.encrypted()) {
      try {
        sealed = view.seal().apply(M.createObjectNode().put("task", key.toString()).put("question", q.number())
            .put("text", q.text()).toString());
      } catch (RuntimeException x) {
        log.warn("task {}: the question cannot be sealed to its sender ({}); it is not shown", key, Scrubbed.name(x));
      }
    }
    try {
      source.asked(key, q.number(), view.encrypted() ? null : q.text(), sealed);
    } catch (RuntimeException x) {
      log.warn("task {}: question {} not posted: {}", key, q.number(), x.getMessage());
    }
  }

  /** An offer of a parked task that still waits (not answered, not expired): claimed and parked again. */
  boolean repark(Tracked t, Questions.Open q) {
    Lease l;
    try {
      l = source.claim(t.key, cfg.lease());
    } catch (SourceException x) {
      log.info("task {}: not claimed to park it again: {}", t.key, x.getMessage());
      return false;
    }
    try {
      l.park(parkReason(q.number()), recheck(q));
    } catch (SourceException x) {
      log.warn("task {}: could not be parked again ({}); its lease runs out and it comes back", t.key, x.getMessage());
    }
    return true;
  }

  /** Until the next offer of a waiting task: questionRecheck (a minute), or what is left of its wait. */
  private Duration recheck(Questions.Open q) {
    Duration left = Duration.between(clock.now(), q.askedAt().plus(cfg.answerTimeout()));
    if (left.compareTo(Duration.ofSeconds(1)) < 0) return Duration.ofSeconds(1);
    return left.compareTo(cfg.questionRecheck()) < 0 ? left : cfg.questionRecheck();
  }

  /**
   * Whether an offer of a task that still waits is claimed and parked again (a source with threads,
   * where it was pending only because parking failed; a source that redelivers, which would offer
   * it again at once), rather than left where it is (a board: it stays in its queue).
   */
  boolean parksOnOffer() {
    return source.capabilities().threads() || source.capabilities().deliveryCount();
  }

  /** The first reply on the task's thread after its question, or null (none, or the thread cannot be read). */
  String replyNow(Questions.Open q) {
    try {
      List<String> r = source.replies(q.key(), q.number(), q.askedAt());
      return r.isEmpty() ? null : r.get(0);
    } catch (SourceException x) {
      log.debug("task {}: cannot read its thread for an answer: {}", q.key(), x.getMessage());
      return null;
    }
  }

  /** Whether the question's wait has run out unanswered. */
  boolean expired(Questions.Open q) {
    return !q.answered() && !clock.now().isBefore(q.askedAt().plus(cfg.answerTimeout()));
  }

  String timeoutReason(Questions.Open q) {
    return "No answer to question " + q.number() + " within " + Reasons.human(cfg.answerTimeout());
  }

  /** The wait ran out: the question is closed (the mailbox says so) and the task is to fail. */
  void expire(Questions.Open q) {
    state.ledger(q.key()).append("question_expired", M.createObjectNode().put("question", q.number()), clock.now());
    Questions.answered(state.workDir(q.key()), q.number(), "(no answer within " + Reasons.human(cfg.answerTimeout()) + ")");
    questions.close(q.key());
  }

  /** Records an answer (the first wins); returns it, or null when the task waited for none. */
  Questions.Open answer(TaskKey key, String text, String by) {
    Questions.Open a = questions.answer(key, text, by, clock.now());
    if (a == null) return null;
    ObjectNode rec = M.createObjectNode().put("question", a.number()).put("by", by);
    if (text == null) rec.put("without_answer", true);
    state.ledger(key).append("question_answered", rec, clock.now());
    log.info("task {}: question {} answered ({})", key, a.number(), by);
    return a;
  }

  // ---- answers arriving ----------------------------------------------------------------------

  /** Someone wrote on a task's thread: if it waits here for an answer, read the thread (source-call pool). */
  void said(TaskKey key) {
    Questions.Open q = questions.get(key);
    if (q != null && !q.answered()) later(() -> look(key));
  }

  /** Reads every waiting task's thread (after a reconnect or a restart: a message may have been missed). */
  void lookAll() {
    if (!source.capabilities().threads()) return;
    for (Questions.Open q : questions.of(source.name())) if (!q.answered()) later(() -> look(q.key()));
  }

  private void look(TaskKey key) {
    Questions.Open q = questions.get(key);
    if (q == null || q.answered()) return;
    List<String> replies;
    try {
      replies = source.replies(key, q.number(), q.askedAt());
    } catch (SourceException x) {
      log.debug("task {}: cannot read its thread for an answer: {}", key, x.getMessage());
      return;
    }
    if (replies.isEmpty()) return;
    if (answer(key, replies.get(0), "thread") != null) wake(key);
  }

  /** Answers from the command line, wake-ups that failed before, waits that ran out (a timer). */
  void tick() {
    for (Questions.Open a : questions.collect(source.name(), clock.now())) {
      state.ledger(a.key()).append("question_answered", M.createObjectNode().put("question", a.number())
          .put("by", a.answeredBy()), clock.now());
      if (source.capabilities().threads() && !a.encrypted()) {
        later(() -> note(a.key(), "Answer to question " + a.number() + " (" + a.answeredBy() + "):\n\n" + a.answer()));
      }
    }
    for (Questions.Open q : questions.of(source.name())) {
      if (!q.woken() && (q.answered() || expired(q))) later(() -> wake(q.key()));
    }
  }

  /** Tells the source to offer the task again (once; retried by the next tick when the source is down). */
  private void wake(TaskKey key) {
    Questions.Open q = questions.get(key);
    if (q == null || q.woken()) return;
    try {
      source.unpark(key, q.answered() ? "Answer to question " + q.number() + " given"
          : "The wait for an answer to question " + q.number() + " ran out");
      questions.woken(key);
    } catch (SourceException x) {
      if (x.kind() == SourceException.Kind.UNAVAILABLE) {
        log.debug("task {}: not woken yet: {}", key, x.getMessage());
        return;
      }
      log.info("task {}: not reopened ({}); it is taken as offered", key, x.getMessage());
      questions.woken(key); // not parked as this service left it: offered, or finished by someone
    }
  }

  private void note(TaskKey key, String text) {
    try {
      source.note(key, text, null, false);
    } catch (RuntimeException x) {
      log.debug("task {}: note not posted: {}", key, x.getMessage());
    }
  }

  private void later(Runnable r) {
    try {
      calls.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException x) {
          log.warn("questions: {}", Scrubbed.name(x));
        }
      });
    } catch (RejectedExecutionException x) {
      log.debug("questions: dropped a call, the engine is stopping");
    }
  }

  // ---- the next attempt ----------------------------------------------------------------------

  /** The answered question the task's next attempt is to be given, or null. */
  Questions.Open answerFor(TaskKey key) {
    Questions.Open q = questions.get(key);
    return q != null && q.answered() ? q : null;
  }

  /** The attempt that was given the answer started: the answer is in the mailbox and the question done with. */
  void delivered(TaskKey key, Questions.Open q, int attempt) {
    try {
      Questions.answered(state.workDir(key), q.number(), q.answer());
      state.ledger(key).append("answer_delivered", M.createObjectNode().put("question", q.number()).put("attempt", attempt),
          clock.now());
      questions.close(key);
    } catch (RuntimeException x) {
      log.warn("task {}: {}", key, x.getMessage()); // kept: the next attempt is given it again
    }
  }

  /** The prompt that resumes a session with the answer. */
  static String continuation(Questions.Open q, String question) {
    StringBuilder b = new StringBuilder();
    b.append("You asked a question (question ").append(q.number()).append(") and ended your run to wait for the answer.");
    if (question != null) b.append("\n\nYour question:\n").append(question);
    if (q.answer() != null) {
      b.append("\n\nThe answer:\n").append(q.answer());
    } else {
      b.append("\n\nNo answer was given: the task was started again without one. Use your best judgement.");
    }
    b.append("\n\nContinue the task with this; end with your final answer.");
    return b.toString();
  }
}
