package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.Keyring;
import dev.atsdispatch.testing.OldBotKeys;
import dev.atsdispatch.crypto.NaclBox;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The key admin commands through {@link Main#commandLine}: output, exit codes and the files they leave. */
final class KeyCommandsTest {
  static final ObjectMapper M = new ObjectMapper();

  @TempDir Path dir;
  final List<String> notices = new ArrayList<>();
  RuntimeException noticeFailure;

  record Result(int code, String out, String err) {}

  Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    RegistrationNotices recorder = new RegistrationNotices() {
      @Override
      public void approved(String name, String fingerprint, String publicKey, String dispatchPublicKey) {
        if (noticeFailure != null) throw noticeFailure;
        notices.add("approved " + name + " " + fingerprint + " " + publicKey + " " + dispatchPublicKey);
      }

      @Override
      public void rejected(String fingerprint, String reason) {
        if (noticeFailure != null) throw noticeFailure;
        notices.add("rejected " + fingerprint + " " + reason);
      }
    };
    CommandLine cl = Main.commandLine(settings -> recorder);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    all.add("--keys-dir");
    all.add(keys().toString());
    int code = cl.execute(all.toArray(String[]::new));
    return new Result(code, out.toString(), err.toString());
  }

  Path keys() {
    return dir.resolve("keys");
  }

  Keyring keyring() {
    return new Keyring(keys());
  }

  OldBotKeys old;

  /** The old bot's key files, made fresh by tweetnacl, in the keys directory. */
  void fixtures() throws Exception {
    Files.createDirectories(keys());
    old = OldBotKeys.write(dir.resolve("js-keys"));
    for (String f : List.of(Keyring.DISPATCH_KEYS, Keyring.TRUSTED_KEYS, Keyring.PENDING, Keyring.CONFIG)) {
      Files.copy(old.file(f), keys().resolve(f));
    }
  }

  @Test
  void keygenCreatesAPrivateKeyFileAndReplacesItOnlyWithForce() throws Exception {
    Result r = run("keygen");
    assertEquals(0, r.code(), r.err());
    KeyPair kp = keyring().dispatchKeyPair().orElseThrow();
    Path file = keys().resolve("dispatch-keys.json");
    assertEquals("Generated new dispatch keypair.\nPublic key: " + kp.publicKey() + "\nFingerprint: " + kp.fingerprint()
        + "\nSaved to: " + file + "\n\nShare your public key with task submitters so they can encrypt tasks for you.\n",
        r.out());
    assertFalse(r.out().contains(kp.secretKey()));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));

    String before = Files.readString(file);
    Result refused = run("keygen");
    assertEquals(1, refused.code());
    assertEquals("", refused.out());
    assertTrue(refused.err().startsWith(file + " already holds a dispatch keypair (fingerprint " + kp.fingerprint()
        + "); use --force"), refused.err());
    assertEquals(1, refused.err().lines().count());
    assertEquals(before, Files.readString(file));

    Result forced = run("keygen", "--force");
    assertEquals(0, forced.code(), forced.err());
    assertTrue(forced.out().startsWith("Backed up the old keypair to " + keys().resolve("dispatch-keys.json.")), forced.out());
    assertTrue(forced.err().contains("Every registered sender needs the new public key"), forced.err());
    assertNotEquals(kp, keyring().dispatchKeyPair().orElseThrow());
    Path backup = Path.of(forced.out().lines().findFirst().orElseThrow().substring("Backed up the old keypair to ".length()));
    assertEquals(before, Files.readString(backup));
  }

  @Test
  void addListAndRemoveKeys() throws Exception {
    KeyPair alice = NaclBox.generateKeyPair();
    Result add = run("add-key", "alice", alice.publicKey());
    assertEquals(0, add.code(), add.err());
    assertEquals("Added trusted key for \"alice\".\nFingerprint: " + alice.fingerprint() + "\nSaved to: "
        + keys().resolve("trusted-keys.json") + "\n", add.out());

    Result shortKey = run("add-key", "bob", NaclBox.b64(new byte[16]));
    assertEquals(1, shortKey.code());
    assertEquals("Error: Invalid public key length: expected 32 bytes, got 16\n", shortKey.err());
    Result notB64 = run("add-key", "bob", "hello world");
    assertEquals(1, notB64.code());
    assertEquals("Error: Invalid public key: not valid base64\n", notB64.err());
    assertEquals(2, run("add-key", "bob").code(), "missing argument is a usage error");
    assertEquals(List.of("alice"), new ArrayList<>(keyring().trustedKeys().keySet()));

    Result list = run("list-keys");
    assertEquals(0, list.code());
    String added = keyring().trusted("alice").orElseThrow().addedAt();
    assertEquals("Trusted entities:\n  alice: " + alice.publicKey() + " (fp: " + alice.fingerprint() + ", added " + added
        + ")\n\nNo dispatch keypair found. Run: ats-dispatch keygen\n", list.out());

    assertEquals(0, run("remove-key", "alice").code());
    Result again = run("remove-key", "alice");
    assertEquals(1, again.code());
    assertEquals("No trusted key found for \"alice\".\n", again.err());
    assertEquals("No trusted keys registered.\n", run("list-keys").out().lines().findFirst().orElseThrow() + "\n");
  }

  @Test
  void listKeysAndPendingShowTheOldBotsFiles() throws Exception {
    fixtures();
    Result list = run("list-keys");
    assertEquals("""
        Trusted entities:
          alice: %s (fp: %s, added 2025-03-01T10:15:30.123Z)
          bob the builder: %s (fp: %s, added 2025-03-02T08:00:00.000Z)

        Dispatch public key: %s
        Dispatch fingerprint: %s

        Pending registrations:
          %s: requested 2025-03-03T09:00:00.000Z (task 4711)
          %s: requested 2025-03-03T09:05:00.000Z (task 4712)
        """.formatted(old.alice().publicKey(), old.alice().fingerprint(), old.bob().publicKey(),
        old.bob().fingerprint(), old.ada().publicKey(), old.ada().fingerprint(), old.pending1().fingerprint(),
        old.pending2().fingerprint()), list.out());
    assertFalse(list.out().contains(keyring().dispatchKeyPair().orElseThrow().secretKey()));

    JsonNode json = M.readTree(run("list-keys", "--json").out());
    assertEquals(old.bob().fingerprint(), json.get("trusted").get(1).get("fingerprint").asText());
    assertEquals(old.ada().publicKey(), json.get("dispatch").get("publicKey").asText());
    assertFalse(json.toString().contains("secretKey"));
    assertEquals(4711, json.get("pending").get(0).get("taskId").asInt());
    assertEquals(List.of(), HelpTextTest.undocumented(json, "list-keys"));

    assertEquals("""
        Pending registrations:
          Fingerprint: %s
          Public key:  %s
          Requested:   2025-03-03T09:00:00.000Z
          Task ID:     4711

          Fingerprint: %s
          Public key:  %s
          Requested:   2025-03-03T09:05:00.000Z
          Task ID:     4712

        """.formatted(old.pending1().fingerprint(), old.pending1().publicKey(), old.pending2().fingerprint(),
        old.pending2().publicKey()), run("pending").out());
    JsonNode pending = M.readTree(run("pending", "--json").out());
    assertEquals("4712", pending.get(1).get("taskId").asText());
    assertTrue(pending.get(1).get("taskId").isTextual());
    assertEquals(List.of(), HelpTextTest.undocumented(pending, "pending"));
  }

  @Test
  void approveAndRejectByPrefixTellTheAdmin() throws Exception {
    fixtures();
    String ada = keyring().dispatchKeyPair().orElseThrow().publicKey();
    String fp1 = old.pending1().fingerprint();
    String key1 = old.pending1().publicKey();
    String fp2 = old.pending2().fingerprint();
    String prefix1 = fp1.substring(0, 4);
    Result ok = run("approve", prefix1, "carol");
    assertEquals(0, ok.code(), ok.err());
    assertEquals("Approved registration for \"carol\".\nFingerprint: " + fp1 + "\n"
        + "Public key: " + key1 + "\nAda's public key: " + ada + "\n", ok.out());
    assertEquals(List.of("approved carol " + fp1 + " " + key1 + " " + ada), notices);
    assertTrue(keyring().trusted("carol").isPresent());
    assertFalse(keyring().pending().containsKey(fp1));

    Result missing = run("approve", prefix1, "carol");
    assertEquals(1, missing.code());
    assertEquals("No pending registration found for fingerprint: " + prefix1 + "\n", missing.err());

    Result rejected = run("reject", fp2, "not", "known", "here");
    assertEquals(0, rejected.code(), rejected.err());
    assertEquals("Rejected registration for fingerprint: " + fp2 + "\n", rejected.out());
    assertEquals("rejected " + fp2 + " not known here", notices.get(1));
    assertTrue(keyring().pending().isEmpty());
    assertEquals(1, run("reject", fp2.substring(0, 4)).code());
  }

  @Test
  void ambiguousPrefixIsAnErrorListingTheMatchesAndAFailedNoticeOnlyWarns() throws Exception {
    Keyring k = keyring();
    KeyPair first = NaclBox.generateKeyPair();
    KeyPair second;
    do {
      second = NaclBox.generateKeyPair();
    } while (second.fingerprint().charAt(0) != first.fingerprint().charAt(0));
    k.addPending(first.publicKey(), M.getNodeFactory().numberNode(1));
    k.addPending(second.publicKey(), M.getNodeFactory().numberNode(2));
    Result amb = run("approve", first.fingerprint().substring(0, 1), "x");
    assertEquals(1, amb.code());
    assertTrue(amb.err().contains("is ambiguous") && amb.err().contains(first.fingerprint())
        && amb.err().contains(second.fingerprint()), amb.err());
    assertTrue(keyring().trustedKeys().isEmpty());

    noticeFailure = new IllegalStateException("telegram is down");
    Result r = run("reject", first.fingerprint());
    assertEquals(0, r.code());
    assertEquals("Warning: the admin notice was not sent: telegram is down\n", r.err());
    assertEquals(1, keyring().pending().size());
  }

  @Test
  void configReadsSetsAndUnsetsKnownKeysOnly() throws Exception {
    Result all = run("config");
    assertEquals(0, all.code(), all.err());
    assertEquals("{\n  \"require_encryption\": false,\n  \"max_pending_registrations\": 100,\n"
        + "  \"max_registrations_per_hour\": 10\n}\n", all.out());
    Result set = run("config", "require_encryption", "true");
    assertEquals(0, set.code(), set.err());
    assertEquals("Set require_encryption = true\n", set.out());
    assertEquals("{\n  \"require_encryption\": true\n}\n", Files.readString(keys().resolve("config.json")));
    assertEquals("true\n", run("config", "require_encryption").out());
    assertEquals("Set max_pending_registrations = 20\n", run("config", "max_pending_registrations", "20").out());

    Result unknown = run("config", "colour", "red");
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().contains("unknown config key \"colour\""), unknown.err());
    assertEquals(2, run("config", "colour").code());
    Result bad = run("config", "require_encryption", "yes");
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("require_encryption must be true or false"), bad.err());

    Result unset = run("config", "--unset", "require_encryption");
    assertEquals(0, unset.code(), unset.err());
    assertEquals("Unset require_encryption (default: false)\n", unset.out());
    assertEquals("false\n", run("config", "require_encryption").out());
    assertEquals(2, run("config", "--unset", "colour").code());
  }

  @Test
  void aCorruptFileIsOneLineNamingIt() throws Exception {
    Files.createDirectories(keys());
    Files.writeString(keys().resolve("trusted-keys.json"), "{\"alice\":");
    for (String[] args : List.of(new String[] {"list-keys"}, new String[] {"add-key", "a",
        NaclBox.generateKeyPair().publicKey()}, new String[] {"remove-key", "a"})) {
      Result r = run(args);
      assertEquals(1, r.code(), String.join(" ", args));
      assertEquals(1, r.err().lines().count(), r.err());
      assertTrue(r.err().startsWith(keys().resolve("trusted-keys.json") + " is not valid JSON"), r.err());
    }
  }
}
