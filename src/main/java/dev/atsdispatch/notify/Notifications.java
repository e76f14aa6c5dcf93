package dev.atsdispatch.notify;

import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chat notifications the service sends (reference §1.8), as Telegram HTML: the texts of the
 * JavaScript version with their emoji prefixes, every interpolated value escaped and cut to a
 * bounded length. Per-task messages honour {@code quiet}; for an encrypted task no title, response
 * or reason goes out, only its id. Every method hands the text to a {@link MessageSender} and
 * returns at once; none throws. One instance per process; {@link #close()} at shutdown.
 */
public final class Notifications implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Notifications.class);
  static final int SNIPPET = 200;

  private final MessageSender sender;

  public Notifications(MessageSender sender) {
    this.sender = sender;
  }

  /** Telegram if token and chat id are configured, else nothing (said once, here). */
  public static Notifications create(NotifyConfig cfg) {
    if (cfg.telegramEnabled()) return new Notifications(new Telegram(cfg));
    if (!cfg.telegramToken().isEmpty() || !cfg.telegramChatId().isEmpty()) {
      log.warn("Telegram is off: telegram.token and telegram.chat_id must both be set");
    } else {
      log.info("Telegram is off (no telegram.token configured)");
    }
    return new Notifications(MessageSender.NONE);
  }

  public void pickedUp(TaskRef t) {
    if (t.quiet()) return;
    send(t.encrypted()
        ? "🎯 Ada picked up: encrypted task (ID: " + t.id() + ")"
        : "🎯 Ada picked up: " + name(t) + " (ID: " + t.id() + ")");
  }

  public void completed(TaskRef t, String response) {
    if (t.quiet()) return;
    send(t.encrypted()
        ? "✅ Done: encrypted task #" + t.id() + " completed"
        : "✅ Done: " + name(t) + dash(response));
  }

  /** The agent asked a question; the task waits for its answer (on its thread, or ats-dispatch answer). */
  public void question(TaskRef t, int number, String text) {
    if (t.quiet()) return;
    send(t.encrypted() || text == null
        ? "❓ Question " + number + ": encrypted task #" + t.id() + " waits for an answer"
        : "❓ Question " + number + ": " + name(t) + dash(text));
  }

  public void failed(TaskRef t, String reason) {
    if (t.quiet()) return;
    send(t.encrypted()
        ? "❌ Failed: encrypted task #" + t.id()
        : "❌ Failed: " + name(t) + dash(reason));
  }

  public void poisoned(TaskRef t, int attempts) {
    if (t.quiet()) return;
    send("❌ Failed: " + name(t) + " — exceeded max retries (" + attempts + " attempts)");
  }

  public void blocked(TaskRef t, String reasons) {
    if (t.quiet()) return;
    send(t.encrypted()
        ? "🚫 Blocked: " + name(t) + " — a dependency failed"
        : "🚫 Blocked: " + name(t) + " — dependency " + snippet(reasons) + " failed");
  }

  public void decryptionFailed(TaskRef t, String error) {
    if (t.quiet()) return;
    String who = t.encrypted() || t.title().isBlank() ? "#" + t.id() : snippet(t.title());
    send("🔒 Rejected encrypted task: " + who + " — " + snippet(error));
  }

  public void plaintextRejected(TaskRef t) {
    send("🚫 <b>Task rejected</b> — encryption required\n"
        + "Task: " + name(t) + " (ID: " + t.id() + ")\n"
        + "Plaintext tasks are not accepted here: encrypt it with encrypt-task.js and submit it again.");
  }

  public void registrationRequested(String fingerprint, String pubkey, String taskId) {
    String key = pubkey == null ? "" : pubkey;
    send("🔑 <b>New registration request</b>\n"
        + "Fingerprint: <code>" + snippet(fingerprint) + "</code>\n"
        + "Key: <code>" + escape(cut(key, 24)) + (key.length() > 24 ? "…" : "") + "</code>\n"
        + "Task: " + snippet(taskId) + "\n"
        + "Approve: <code>ats-dispatch approve " + snippet(fingerprint) + " NAME</code>");
  }

  public void registrationInvalid(String taskId, String detail) {
    send("⚠️ Registration REJECTED — invalid key format\n"
        + "Task: " + snippet(taskId) + "\n"
        + snippet(detail));
  }

  public void registrationRefused(String taskId, String reason) {
    send("🚫 Registration refused\n"
        + "Task: " + snippet(taskId) + "\n"
        + snippet(reason));
  }

  /**
   * Many registration events in one message: the new requests (the first {@code listed} by
   * fingerprint and task, then how many more), the invalid ones (task ids), and the refusals
   * counted by reason.
   */
  public void registrationDigest(List<String[]> requests, int requestCount, List<String> invalidTasks,
      int invalidCount, Map<String, Integer> refused, java.time.Duration window) {
    int refusedCount = refused.values().stream().mapToInt(Integer::intValue).sum();
    StringBuilder b = new StringBuilder("🔑 <b>Registration requests in the last ")
        .append(window.toMinutes()).append(" minutes</b>: ").append(requestCount).append(" new, ")
        .append(invalidCount).append(" invalid, ").append(refusedCount).append(" refused");
    if (requestCount > 0) {
      b.append("\nNew (fingerprint, task):");
      for (String[] r : requests) b.append("\n<code>").append(snippet(r[0])).append("</code> ").append(snippet(r[1]));
      if (requestCount > requests.size()) b.append("\n… and ").append(requestCount - requests.size()).append(" more");
      b.append("\nReview: <code>ats-dispatch pending</code>; approve: <code>ats-dispatch approve FINGERPRINT NAME</code>");
    }
    if (invalidCount > 0) {
      b.append("\nInvalid key format, tasks: ").append(snippet(String.join(", ", invalidTasks)));
      if (invalidCount > invalidTasks.size()) b.append(" … and ").append(invalidCount - invalidTasks.size()).append(" more");
    }
    refused.forEach((reason, n) -> b.append("\nRefused ").append(n).append("×: ").append(snippet(reason)));
    send(b.toString());
  }

  public void registrationApproved(String name, String fingerprint, String dispatcherPublicKey) {
    send("✅ <b>Registration approved</b>\n"
        + "Name: " + snippet(name) + "\n"
        + "Fingerprint: <code>" + snippet(fingerprint) + "</code>\n"
        + "Dispatcher public key: <code>" + snippet(dispatcherPublicKey) + "</code>");
  }

  public void registrationRejected(String fingerprint, String reason) {
    send("❌ <b>Registration rejected</b>\n"
        + "Fingerprint: <code>" + snippet(fingerprint) + "</code>\n"
        + "Reason: " + snippet(reason == null || reason.isBlank() ? "Not approved" : reason));
  }

  /** Stops the sender; queued messages get a short chance to go out. */
  @Override
  public void close() {
    try {
      sender.close();
    } catch (RuntimeException e) {
      log.warn("notifications: closing the sender failed: {}", e.toString());
    }
  }

  private void send(String html) {
    try {
      sender.send(html);
    } catch (RuntimeException e) {
      log.warn("notifications: message not queued: {}", e.toString());
    }
  }

  /** How a task is named: its escaped title, or only its id when encrypted or untitled. */
  private static String name(TaskRef t) {
    if (t.encrypted()) return "encrypted task #" + t.id();
    if (t.title().isBlank()) return "task #" + t.id();
    return snippet(t.title());
  }

  private static String dash(String text) {
    return text == null || text.isBlank() ? "" : " — " + snippet(text.strip());
  }

  private static String snippet(String s) {
    if (s == null) return "";
    String c = cut(s, SNIPPET);
    return escape(c) + (c.length() < s.length() ? "…" : "");
  }

  /** The first {@code max} characters (code points: a surrogate pair is never split). */
  static String cut(String s, int max) {
    if (s.codePointCount(0, s.length()) <= max) return s;
    return s.substring(0, s.offsetByCodePoints(0, max));
  }

  /** Telegram HTML: &amp;, &lt;, &gt; and &quot; are the entities it knows. */
  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}
