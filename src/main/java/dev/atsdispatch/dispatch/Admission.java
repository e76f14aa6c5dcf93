package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.source.SourceEvent;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides what an offer is to the engine (design.md §1): a task whose result is still on its way,
 * a task it finished that someone reopened, a registration, a refusal, a task that used up its
 * attempts, or one to run. Only a reopen event, or a task seen pending after this service's
 * report was acknowledged, resets the strike count. Runs on the engine's intake thread, off the
 * loop, because it reads and writes ledgers (fsync) and the intake may decrypt and record a
 * nonce; the loop has already dropped offers of tasks it holds.
 */
final class Admission {
  private static final Logger log = LoggerFactory.getLogger(Admission.class);
  private static final ObjectMapper M = new ObjectMapper();

  /** What to do with an offer. */
  sealed interface Decision {}

  /** Nothing: it is held here already, or not for us. */
  record Ignore(String why) implements Decision {}

  /** It was finished here: only a fresh status read can tell a reopen from a stale listing. */
  record Confirm() implements Decision {}

  /**
   * A redelivery (the source counts deliveries) of a task whose result this service reported: its
   * delivery is acknowledged, nothing runs. Such a source has no reopen: a report went out.
   */
  record Settle() implements Decision {}

  /** The intake cannot open it now (e.g. a key file being edited): leave it pending for later. */
  record Later(String why) implements Decision {}

  /** Run it (through the dependency gate and the queue). */
  record Accept(Tracked task) implements Decision {}

  record Register(Tracked task, String publicKey) implements Decision {}

  record Refuse(Tracked task, String reason, TaskObserver.Failure why) implements Decision {}

  /** It waits for people's answer to a question: claim it and park it again ({@link Asking#repark}). */
  record Park(Tracked task, Questions.Open question) implements Decision {}

  /** It used up its attempts: claim it and fail it. */
  record Poison(Tracked task, int strikes) implements Decision {}

  private final StateDir state;
  private final Intake intake;
  private final ResultReporter reporter;
  private final Clock clock;
  private final int maxAttempts;
  private final String noLookups; // the source's name when it cannot look tasks up by id, else null
  private final Asking asking; // null: no questions

  Admission(StateDir state, Intake intake, ResultReporter reporter, Clock clock, int maxAttempts, String noLookups) {
    this(state, intake, reporter, clock, maxAttempts, noLookups, null);
  }

  Admission(StateDir state, Intake intake, ResultReporter reporter, Clock clock, int maxAttempts, String noLookups,
      Asking asking) {
    this.asking = asking;
    this.noLookups = noLookups;
    this.state = state;
    this.intake = intake;
    this.reporter = reporter;
    this.clock = clock;
    this.maxAttempts = maxAttempts;
  }

  /** An offer of a task the engine does not hold now. */
  Decision admit(SourceTask t, SourceEvent.Why why) {
    if (t.status() != TaskStatus.PENDING) return new Ignore("not pending");
    Questions.Open q = asking == null ? null : asking.questions().get(t.key());
    if (q != null) {
      Decision d = awaiting(t, why, q);
      return d != null ? d : classify(t, why); // answered: it runs on, its strike count kept
    }
    TaskLedger ledger = state.ledger(t.key());
    TaskLedger.Summary sum = ledger.summary();
    if (sum.resultPending() || reporter.holds(t.key())) return new Ignore("its result is on its way");
    if (why == SourceEvent.Why.REOPENED) {
      if (sum.attempts() > 0) {
        ledger.append("reset", M.createObjectNode().put("why", "reopened"), clock.now());
        log.info("task {}: reopened; its strike count starts again", t.key());
      }
    } else if (sum.reported()) {
      return t.deliveries() != null ? new Settle() : new Confirm();
    }
    return classify(t, why);
  }

  /**
   * An offer of a task with an open question: failed when its wait ran out; run (null) when it is
   * answered, or when someone reopened it (their reply on the thread is the answer, else it runs
   * without one); else parked again, or left alone where the source would not offer it at once.
   */
  private Decision awaiting(SourceTask t, SourceEvent.Why why, Questions.Open q) {
    Tracked e = new Tracked(t.lighten(), why);
    e.view = TaskView.empty(e.key); // nothing of its content is needed to park or fail it
    if (asking.expired(q)) {
      asking.expire(q);
      log.info("task {}: {}", t.key(), asking.timeoutReason(q));
      return new Refuse(e, asking.timeoutReason(q), TaskObserver.Failure.AGENT);
    }
    if (q.answered()) return null;
    if (why == SourceEvent.Why.REOPENED) {
      String reply = asking.replyNow(q);
      asking.answer(t.key(), reply, reply != null ? "thread" : "reopened");
      return null;
    }
    return asking.parksOnOffer() ? new Park(e, q) : new Ignore("it waits for the answer to question " + q.number());
  }

  /** A fresh read showed a task this service had finished pending again: it was reopened. */
  Decision reopened(SourceTask t) {
    state.ledger(t.key()).append("reset", M.createObjectNode().put("why", "pending after its report"), clock.now());
    log.info("task {}: pending again after its result was reported; taken as reopened", t.key());
    return classify(t, SourceEvent.Why.REOPENED);
  }

  private Decision classify(SourceTask t, SourceEvent.Why why) {
    Tracked e = new Tracked(t.lighten(), why);
    Intake.Opened opened;
    try {
      opened = intake.open(e.offer);
    } catch (RuntimeException x) {
      return new Later(x.getMessage() == null ? x.getClass().getSimpleName() : x.getMessage());
    }
    if (opened instanceof Intake.Register r) {
      e.view = TaskView.empty(e.key);
      return new Register(e, r.publicKey());
    }
    if (opened instanceof Intake.Reject r) {
      e.view = TaskView.empty(e.key); // nothing untrusted reaches a notice
      return new Refuse(e, r.reason(), r.why());
    }
    e.view = ((Intake.Run) opened).view();
    e.deps = Dependencies.parse(e.view.payload().get("depends_on"), e.key.source());
    if (noLookups != null && !e.deps.isEmpty()) {
      // it could never start: nothing here can tell when the tasks it names are done
      return new Refuse(e, "depends_on cannot be honoured: source " + noLookups + " cannot look tasks up by id",
          TaskObserver.Failure.BLOCKED);
    }
    int strikes = state.ledger(e.key).summary().strikes();
    if (t.deliveries() != null) strikes = Math.max(strikes, t.deliveries() - 1);
    if (strikes >= maxAttempts) return new Poison(e, strikes);
    return new Accept(e);
  }
}
