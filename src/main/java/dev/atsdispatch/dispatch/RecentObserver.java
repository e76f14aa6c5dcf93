package dev.atsdispatch.dispatch;

import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.status.Recent;

/**
 * Passes every notice on to the service's observer and counts completions and failures for the
 * dashboard ({@link Recent}); an encrypted task's title is not kept. Called on engine threads.
 */
final class RecentObserver implements TaskObserver {
  private final TaskObserver next;
  private final Recent recent;

  RecentObserver(TaskObserver next, Recent recent) {
    this.next = next;
    this.recent = recent;
  }

  @Override
  public void pickedUp(TaskView view, int attempt) {
    next.pickedUp(view, attempt);
  }

  @Override
  public void completed(TaskView view, int attempt, String result) {
    recent.completed();
    next.completed(view, attempt, result);
  }

  @Override
  public void failed(TaskView view, int attempt, Failure why, String reason) {
    if (view != null) recent.failed(view.key(), view.encrypted() ? null : view.title(), why.metric(), reason, attempt);
    next.failed(view, attempt, why, reason);
  }

  @Override
  public void questionAsked(TaskView view, int number, String text) {
    next.questionAsked(view, number, text);
  }

  @Override
  public void registrationRequested(String fingerprint, String publicKey, TaskKey key) {
    next.registrationRequested(fingerprint, publicKey, key);
  }

  @Override
  public void registrationInvalid(TaskKey key, String detail) {
    next.registrationInvalid(key, detail);
  }

  @Override
  public void registrationRefused(TaskKey key, String reason) {
    next.registrationRefused(key, reason);
  }

  @Override
  public void close() {
    next.close();
  }
}
