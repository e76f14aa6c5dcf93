package dev.atsdispatch.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The message texts (reference §1.8): escaping, truncation, quiet, and no plaintext of encrypted tasks. */
final class NotificationsTest {
  final List<String> sent = new ArrayList<>();
  final Notifications n = new Notifications(sent::add);

  static final TaskRef PLAIN = new TaskRef(42, "Fix <b>bold</b> & \"quotes\"", false, false);
  static final TaskRef QUIET = new TaskRef(43, "shh", false, true);
  static final TaskRef SECRET = new TaskRef(44, "merger with ACME", true, false);

  @Test
  void perTaskTextsKeepTheJavaScriptWordingWithEveryValueEscaped() {
    n.pickedUp(PLAIN);
    n.completed(PLAIN, "  <script>alert(1)</script> & done\n");
    n.failed(PLAIN, "Agent exited with code 2: a<b");
    n.poisoned(PLAIN, 3);
    n.blocked(PLAIN, "#7 (failed), #8 (not found)");
    n.decryptionFailed(new TaskRef(45, "", true, false), "sender <eve> not trusted");
    String t = "Fix &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot;";
    assertEquals(List.of(
        "🎯 Ada picked up: " + t + " (ID: 42)",
        "✅ Done: " + t + " — &lt;script&gt;alert(1)&lt;/script&gt; &amp; done",
        "❌ Failed: " + t + " — Agent exited with code 2: a&lt;b",
        "❌ Failed: " + t + " — exceeded max retries (3 attempts)",
        "🚫 Blocked: " + t + " — dependency #7 (failed), #8 (not found) failed",
        "🔒 Rejected encrypted task: #45 — sender &lt;eve&gt; not trusted"), sent);
  }

  @Test
  void responsesAndReasonsAreCutTo200CharactersWithoutSplittingAPair() {
    String response = "😀".repeat(150) + "x".repeat(100) + "TAIL";
    n.completed(PLAIN, response);
    String text = sent.get(0);
    String snippet = text.substring(text.indexOf(" — ") + 3);
    assertEquals("😀".repeat(150) + "x".repeat(50) + "…", snippet);
    n.failed(new TaskRef(1, "&".repeat(300), false, false), "r");
    assertTrue(sent.get(1).startsWith("❌ Failed: " + "&amp;".repeat(200) + "… — r"), sent.get(1));
  }

  @Test
  void quietSilencesThePerTaskMessagesButNotRejectionsOrRegistrations() {
    n.pickedUp(QUIET);
    n.completed(QUIET, "r");
    n.failed(QUIET, "r");
    n.poisoned(QUIET, 3);
    n.blocked(QUIET, "#1 (failed)");
    n.decryptionFailed(new TaskRef(43, "", true, true), "x");
    assertEquals(List.of(), sent);
    n.plaintextRejected(QUIET);
    assertEquals(1, sent.size());
    assertTrue(sent.get(0).startsWith("🚫 <b>Task rejected</b> — encryption required\nTask: shh (ID: 43)"), sent.get(0));
    assertTrue(sent.get(0).contains("encrypt-task.js"));
  }

  @Test
  void anEncryptedTaskIsNamedByIdOnlyAndNoContentOfItGoesOut() {
    n.pickedUp(SECRET);
    n.completed(SECRET, "the secret response");
    n.failed(SECRET, "Agent exited with code 1: secret stderr");
    n.poisoned(SECRET, 3);
    n.blocked(SECRET, "#99 (failed)");
    n.decryptionFailed(SECRET, "box did not open");
    assertEquals(List.of(
        "🎯 Ada picked up: encrypted task (ID: 44)",
        "✅ Done: encrypted task #44 completed",
        "❌ Failed: encrypted task #44",
        "❌ Failed: encrypted task #44 — exceeded max retries (3 attempts)",
        "🚫 Blocked: encrypted task #44 — a dependency failed",
        "🔒 Rejected encrypted task: #44 — box did not open"), sent);
    for (String s : sent) {
      assertFalse(s.contains("ACME") || s.contains("secret") || s.contains("#99"), s);
    }
  }

  @Test
  void registrationMessages() {
    String key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    n.registrationRequested("51643eac9777b63a", key, "77");
    n.registrationInvalid("78", "expected 32 bytes, got <3>");
    n.registrationApproved("alice & bob", "51643eac9777b63a", key);
    n.registrationRejected("51643eac9777b63a", null);
    assertEquals(List.of(
        "🔑 <b>New registration request</b>\nFingerprint: <code>51643eac9777b63a</code>\n"
            + "Key: <code>AAAAAAAAAAAAAAAAAAAAAAAA…</code>\nTask: 77\n"
            + "Approve: <code>ats-dispatch approve 51643eac9777b63a NAME</code>",
        "⚠️ Registration REJECTED — invalid key format\nTask: 78\nexpected 32 bytes, got &lt;3&gt;",
        "✅ <b>Registration approved</b>\nName: alice &amp; bob\nFingerprint: <code>51643eac9777b63a</code>\n"
            + "Dispatcher public key: <code>" + key + "</code>",
        "❌ <b>Registration rejected</b>\nFingerprint: <code>51643eac9777b63a</code>\nReason: Not approved"), sent);
  }

  @Test
  void aFailingSenderNeverReachesTheCaller() {
    Notifications broken = new Notifications(html -> {
      throw new IllegalStateException("boom");
    });
    broken.pickedUp(PLAIN);
    broken.completed(PLAIN, "r");
    broken.registrationApproved("a", "b", "c");
    broken.close();
  }
}
