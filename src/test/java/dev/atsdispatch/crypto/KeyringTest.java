package dev.atsdispatch.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import dev.atsdispatch.testing.OldBotKeys;
import org.junit.jupiter.api.io.TempDir;

/**
 * The key directory in the JavaScript formats: the old bot's files (fixtures written by tweetnacl
 * and JSON.stringify) load and are rewritten byte for byte, writes are atomic and owner-only, bad
 * files and bad permissions are clear errors, the registration bookkeeping, and the read cache:
 * a file is parsed again only when it changed, and every change is seen on the next read.
 */
final class KeyringTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Clock CLOCK = Clock.fixed(Instant.parse("2025-06-01T12:00:00Z"), ZoneOffset.UTC);

  static final List<String> FILES = List.of(Keyring.DISPATCH_KEYS, Keyring.TRUSTED_KEYS, Keyring.PENDING, Keyring.CONFIG);
  /** A time well past {@link Keyring#SETTLE}: the content of a file this old is cached. */
  static final FileTime LONG_AGO = FileTime.from(Instant.now().minus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS));

  @TempDir Path dir;
  @TempDir Path js;
  OldBotKeys old;

  static BasicFileAttributes attributes(Path f) throws IOException {
    return Files.readAttributes(f, BasicFileAttributes.class);
  }

  /**
   * Overwrites the file in place with '#' (not JSON) of its own size and puts its time back: size,
   * time and file key are what they were, so only parsing it again could notice.
   */
  static void garbleKeepingAttributes(Path f) throws IOException {
    BasicFileAttributes before = attributes(f);
    byte[] junk = new byte[(int) before.size()];
    Arrays.fill(junk, (byte) '#');
    Files.write(f, junk, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    Files.setLastModifiedTime(f, before.lastModifiedTime());
    BasicFileAttributes after = attributes(f);
    assertEquals(before.size(), after.size());
    assertEquals(before.lastModifiedTime(), after.lastModifiedTime());
    assertEquals(before.fileKey(), after.fileKey());
    assertTrue(Files.readString(f).startsWith("###"));
  }

  Keyring withFixtures() throws Exception {
    old = OldBotKeys.write(js);
    for (String f : List.of(Keyring.DISPATCH_KEYS, Keyring.TRUSTED_KEYS, Keyring.PENDING, Keyring.CONFIG)) {
      Files.copy(old.file(f), dir.resolve(f));
    }
    return new Keyring(dir, CLOCK);
  }

  @Test
  void oldBotKeyFilesLoadUnchanged() throws Exception {
    Keyring k = withFixtures();
    k.check();
    assertEquals(old.ada().publicKey(), k.dispatchKeyPair().orElseThrow().publicKey());
    assertEquals(List.of("alice", "bob the builder"), new ArrayList<>(k.trustedKeys().keySet()));
    Keyring.TrustedKey bob = k.trusted("bob the builder").orElseThrow();
    assertEquals(Fingerprint.of(bob.publicKey()), bob.fingerprint(), "missing fingerprint recomputed");
    String alice = old.alice().publicKey();
    assertEquals("alice", k.trustedByPublicKey(alice).orElseThrow().name());
    assertTrue(k.trustedByPublicKey(alice.substring(0, alice.length() - 1)).isEmpty(), "text compared exactly");
    assertEquals(IntNode.valueOf(4711), k.pending().get(old.pending1().fingerprint()).taskId());
    assertEquals(TextNode.valueOf("4712"), k.pending().get(old.pending2().fingerprint()).taskId());
    assertTrue(k.requireEncryption());
    assertEquals("ops@example.org", k.config().get("operator").asText());
    assertEquals(100, k.maxPending());
  }

  @Test
  void rewritesKeepEveryOtherByteAndUnknownKeys() throws Exception {
    Keyring k = withFixtures();
    // a change and its undo give back the JavaScript file exactly
    k.setConfig("require_encryption", "false");
    k.setConfig("require_encryption", "true");
    assertEquals(Files.readString(old.file("config.json")), Files.readString(dir.resolve("config.json")));

    KeyPair carl = NaclBox.generateKeyPair();
    k.addTrusted("carl", carl.publicKey());
    assertTrue(k.removeTrusted("carl"));
    assertEquals(Files.readString(old.file("trusted-keys.json")),
        Files.readString(dir.resolve("trusted-keys.json")));

    k.reject(old.pending1().fingerprint().substring(0, 4));
    String pending = Files.readString(dir.resolve("pending-registrations.json"));
    assertEquals("{\n  \"" + old.pending2().fingerprint() + "\": {\n    \"pubkey\": \"" + old.pending2().publicKey() + "\",\n"
        + "    \"requestedAt\": \"2025-03-03T09:05:00.000Z\",\n    \"taskId\": \"4712\",\n    \"via\": \"ats\"\n  }\n}\n",
        pending);
    // replacing a key keeps the entry's unknown fields
    k.addTrusted("bob the builder", carl.publicKey());
    assertTrue(Files.readString(dir.resolve("trusted-keys.json")).contains("\"note\": \"added by hand, no fingerprint\""));
    assertEquals("2025-06-01T12:00:00.000Z", k.trusted("bob the builder").orElseThrow().addedAt());
  }

  @Test
  void writesAreOwnerOnlyAtomicAndLeaveNoTempFiles() throws Exception {
    Keyring k = new Keyring(dir.resolve("keys"), CLOCK);
    k.ensureDispatchKeyPair();
    k.addTrusted("a", NaclBox.generateKeyPair().publicKey());
    k.addPending(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(1));
    k.setConfig("require_encryption", "true");
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("keys"))));
    try (Stream<Path> files = Files.list(dir.resolve("keys"))) {
      Set<String> names = files.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
      assertEquals(Set.of("dispatch-keys.json", "trusted-keys.json", "pending-registrations.json", "config.json",
          ".keyring.lock"), names);
    }
    for (String f : List.of(Keyring.DISPATCH_KEYS, Keyring.TRUSTED_KEYS, Keyring.PENDING, Keyring.CONFIG)) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("keys/" + f))), f);
      assertTrue(Files.readString(dir.resolve("keys/" + f)).endsWith("}\n"), f);
    }
    // a write replaces the file (rename), it does not rewrite it in place
    Object before = Files.readAttributes(dir.resolve("keys/config.json"),
        java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    k.setConfig("require_encryption", "false");
    Object after = Files.readAttributes(dir.resolve("keys/config.json"),
        java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    assertNotEquals(before, after);
  }

  @Test
  void anUnchangedFileIsNotParsedAgainAndAnyChangeIsSeen() throws Exception {
    Keyring k = withFixtures();
    for (String f : FILES) Files.setLastModifiedTime(dir.resolve(f), LONG_AGO);
    k.check(); // parses every file once
    for (String f : FILES) garbleKeepingAttributes(dir.resolve(f));
    // the files' attributes are unchanged, so the parsed copies answer: the garbage is never parsed
    for (int i = 0; i < 100; i++) {
      k.check();
      assertEquals(old.ada().publicKey(), k.dispatchKeyPair().orElseThrow().publicKey());
      assertEquals("alice", k.trustedByPublicKey(old.alice().publicKey()).orElseThrow().name());
      assertEquals(2, k.pending().size());
      assertTrue(k.requireEncryption());
    }
    assertTrue(new Keyring(dir).requireEncryption(), "one cache for every instance in this JVM");
    // a new time is a change: parsed again, and the corrupt file is the error it always was
    Files.setLastModifiedTime(dir.resolve(Keyring.CONFIG), FileTime.from(LONG_AGO.toInstant().plusSeconds(1)));
    KeyringException e = assertThrows(KeyringException.class, k::requireEncryption);
    assertTrue(e.getMessage().contains(dir.resolve(Keyring.CONFIG) + " is not valid JSON"), e.getMessage());
    assertThrows(KeyringException.class, k::requireEncryption, "a bad file is not cached");
  }

  @Test
  void aFileWrittenJustNowIsParsedOnEveryReadUntilItSettles() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    k.setConfig("require_encryption", "true");
    assertTrue(k.requireEncryption());
    // a second change within the time granularity would leave the attributes as they were
    garbleKeepingAttributes(dir.resolve(Keyring.CONFIG));
    assertThrows(KeyringException.class, k::requireEncryption);
  }

  @Test
  void anEditByAnotherProcessIsSeenOnTheNextRead() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    KeyPair alice = NaclBox.generateKeyPair();
    KeyPair bob = NaclBox.generateKeyPair();
    k.addTrusted("alice", alice.publicKey());
    Path f = dir.resolve(Keyring.TRUSTED_KEYS);
    Files.setLastModifiedTime(f, LONG_AGO);
    assertTrue(k.trustedByPublicKey(alice.publicKey()).isPresent());

    // an admin command elsewhere rewrites it (temp file, rename): same size, even the same time
    Path tmp = dir.resolve(".trusted-keys.json.tmp");
    Files.writeString(tmp, Files.readString(f).replace(alice.publicKey(), bob.publicKey())
        .replace(alice.fingerprint(), bob.fingerprint()));
    Files.setLastModifiedTime(tmp, LONG_AGO);
    BasicFileAttributes before = attributes(f);
    Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    assertEquals(before.size(), attributes(f).size());
    assertEquals(before.lastModifiedTime(), attributes(f).lastModifiedTime());
    assertNotEquals(before.fileKey(), attributes(f).fileKey());
    assertEquals("alice", k.trustedByPublicKey(bob.publicKey()).orElseThrow().name(), "a new inode is a change");
    assertTrue(k.trustedByPublicKey(alice.publicKey()).isEmpty());

    // an editor writing in place, to the same size: seen by the new time
    Files.setLastModifiedTime(f, LONG_AGO);
    assertEquals(List.of("alice"), new ArrayList<>(k.trustedKeys().keySet()));
    Files.writeString(f, Files.readString(f).replace("\"alice\"", "\"alica\""));
    assertEquals(List.of("alica"), new ArrayList<>(k.trustedKeys().keySet()));

    // and a file removed is gone at once
    Files.delete(f);
    assertTrue(k.trustedKeys().isEmpty());
  }

  @Test
  void concurrentWritersLoseNoUpdate() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    k.setConfig("max_pending_registrations", "1000");
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < 80; i++) {
        int n = i;
        // separate Keyring instances, as the service and an admin command would have
        fs.add(pool.submit(() -> new Keyring(dir, CLOCK).addPending(NaclBox.generateKeyPair().publicKey(),
            IntNode.valueOf(n))));
      }
      for (Future<?> f : fs) f.get();
    } finally {
      pool.shutdownNow();
    }
    assertEquals(80, k.pending().size());
  }

  @Test
  void corruptFilesAreClearErrorsNamingTheFile() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    Files.writeString(dir.resolve("trusted-keys.json"), "{\"alice\": {\"publicKey\": ");
    KeyringException e = assertThrows(KeyringException.class, k::trustedKeys);
    assertTrue(e.getMessage().contains(dir.resolve("trusted-keys.json") + " is not valid JSON (line 1"), e.getMessage());
    assertThrows(KeyringException.class, k::check);

    Files.writeString(dir.resolve("trusted-keys.json"), "{\"alice\": \"AAAA\"}\n");
    e = assertThrows(KeyringException.class, k::trustedKeys);
    assertTrue(e.getMessage().contains("entry \"alice\" has no publicKey"), e.getMessage());
    Files.writeString(dir.resolve("trusted-keys.json"), "[]\n");
    assertThrows(KeyringException.class, k::trustedKeys);
    Files.delete(dir.resolve("trusted-keys.json"));

    // the parser's message is not shown: it could quote the secret key
    Files.writeString(dir.resolve("dispatch-keys.json"), "{\"publicKey\": \"x\", \"secretKey\": SECRETSTUFF}");
    e = assertThrows(KeyringException.class, k::dispatchKeyPair);
    assertFalse(e.getMessage().contains("SECRETSTUFF"), e.getMessage());
    assertTrue(e.getMessage().contains("dispatch-keys.json"));

    KeyPair a = NaclBox.generateKeyPair();
    KeyPair b = NaclBox.generateKeyPair();
    Files.writeString(dir.resolve("dispatch-keys.json"),
        "{\"publicKey\": \"" + a.publicKey() + "\", \"secretKey\": \"" + b.secretKey() + "\"}");
    e = assertThrows(KeyringException.class, k::check);
    assertTrue(e.getMessage().contains("publicKey does not belong to secretKey"), e.getMessage());
    assertFalse(e.getMessage().contains(b.secretKey()));

    Files.delete(dir.resolve("dispatch-keys.json"));
    Files.writeString(dir.resolve("config.json"), "{\"require_encryption\": \"yes\"}");
    e = assertThrows(KeyringException.class, k::requireEncryption);
    assertTrue(e.getMessage().contains("config.json: require_encryption must be true or false"), e.getMessage());
    Files.writeString(dir.resolve("config.json"), "{\"require_encryption\": \"true\"}");
    assertTrue(k.requireEncryption());
  }

  @Test
  void secretKeyReadableByOthersIsRefusedWithTheFix() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    k.checkSecretKeyPermissions(); // no file yet
    k.ensureDispatchKeyPair();
    k.checkSecretKeyPermissions();
    for (String mode : List.of("rw-r--r--", "rw-r-----", "rw----r--", "rw--w----")) {
      Files.setPosixFilePermissions(dir.resolve("dispatch-keys.json"), PosixFilePermissions.fromString(mode));
      KeyringException e = assertThrows(KeyringException.class, k::checkSecretKeyPermissions, mode);
      assertTrue(e.getMessage().endsWith("fix: chmod 600 " + dir.resolve("dispatch-keys.json")), e.getMessage());
    }
    Files.setPosixFilePermissions(dir.resolve("dispatch-keys.json"), PosixFilePermissions.fromString("r--------"));
    k.checkSecretKeyPermissions();
  }

  @Test
  void keygenRefusesToReplaceWithoutForceAndBacksUpWithIt() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    Keyring.Generated first = k.generateDispatchKeyPair(false);
    assertNull(first.backup());
    String firstText = Files.readString(dir.resolve("dispatch-keys.json"));
    KeyringException e = assertThrows(KeyringException.class, () -> k.generateDispatchKeyPair(false));
    assertTrue(e.getMessage().contains("use --force"), e.getMessage());
    assertEquals(firstText, Files.readString(dir.resolve("dispatch-keys.json")));
    assertEquals(first.keyPair(), k.ensureDispatchKeyPair());

    Keyring.Generated second = k.generateDispatchKeyPair(true);
    assertNotEquals(first.keyPair().publicKey(), second.keyPair().publicKey());
    assertEquals(dir.resolve("dispatch-keys.json.20250601T120000Z.bak"), second.backup());
    assertEquals(firstText, Files.readString(second.backup()));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(second.backup())));
    Keyring.Generated third = k.generateDispatchKeyPair(true);
    assertEquals(dir.resolve("dispatch-keys.json.20250601T120000Z-1.bak"), third.backup());
    new Keyring(dir).check();
  }

  @Test
  void addTrustedValidatesTheKey() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    CryptoException e = assertThrows(CryptoException.class, () -> k.addTrusted("x", NaclBox.b64(new byte[16])));
    assertEquals("expected 32 bytes, got 16", e.getMessage());
    assertThrows(CryptoException.class, () -> k.addTrusted("x", "***"));
    assertThrows(IllegalArgumentException.class, () -> k.addTrusted(" ", NaclBox.generateKeyPair().publicKey()));
    assertFalse(Files.exists(dir.resolve("trusted-keys.json")));
    assertFalse(k.removeTrusted("x"));
  }

  @Test
  void pendingRegistrationsApproveRejectPrefixesAndCap() throws Exception {
    Keyring k = withFixtures();
    KeyPair eve = NaclBox.generateKeyPair();
    assertEquals(Keyring.PendingResult.ADDED, k.addPending(eve.publicKey(), IntNode.valueOf(5)));
    assertEquals(Keyring.PendingResult.REPEATED, k.addPending(eve.publicKey(), IntNode.valueOf(6)));
    assertEquals(3, k.pending().size());
    assertEquals(6, k.pending().get(eve.fingerprint()).taskId().asInt(), "a repeat overwrites its entry");

    KeyringException none = assertThrows(KeyringException.class, () -> k.findPending("ffffffffffff"));
    assertEquals("No pending registration found for fingerprint: ffffffffffff", none.getMessage());
    assertThrows(KeyringException.class, () -> k.findPending(""));

    String fp1 = old.pending1().fingerprint();
    Keyring.PendingRegistration a = k.pending().get(fp1);
    Keyring.PendingRegistration b = k.pending().get(old.pending2().fingerprint());
    assertEquals(a, k.findPending(fp1.substring(0, 4).toUpperCase(java.util.Locale.ROOT)));

    Keyring.Approval ok = k.approve(fp1.substring(0, 6), "carol");
    assertEquals(fp1, ok.fingerprint());
    assertNull(ok.replaced());
    assertEquals(a.pubkey(), k.trusted("carol").orElseThrow().publicKey());
    assertFalse(k.pending().containsKey(fp1));

    Keyring.Approval replacing = k.approve(b.fingerprint(), "alice");
    assertEquals(old.alice().fingerprint(), replacing.replaced().fingerprint());
    assertEquals(b.pubkey(), k.trusted("alice").orElseThrow().publicKey());

    assertEquals(eve.fingerprint(), k.reject(eve.fingerprint().substring(0, 6)).fingerprint());
    assertTrue(k.pending().isEmpty());

    k.setConfig("max_pending_registrations", "2");
    assertEquals(Keyring.PendingResult.ADDED, k.addPending(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(1)));
    KeyPair second = NaclBox.generateKeyPair();
    assertEquals(Keyring.PendingResult.ADDED, k.addPending(second.publicKey(), IntNode.valueOf(2)));
    assertEquals(Keyring.PendingResult.FULL, k.addPending(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(3)));
    assertEquals(Keyring.PendingResult.REPEATED, k.addPending(second.publicKey(), IntNode.valueOf(4)),
        "a key already waiting is not refused by the cap");
    assertEquals(2, k.pending().size());
  }

  @Test
  void ambiguousPrefixListsTheMatches() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    List<KeyPair> keys = new ArrayList<>();
    // find two keys whose fingerprints share a first character
    KeyPair first = NaclBox.generateKeyPair();
    KeyPair second;
    do {
      second = NaclBox.generateKeyPair();
    } while (second.fingerprint().charAt(0) != first.fingerprint().charAt(0));
    keys.add(first);
    keys.add(second);
    for (KeyPair kp : keys) k.addPending(kp.publicKey(), IntNode.valueOf(1));
    String prefix = first.fingerprint().substring(0, 1);
    KeyringException e = assertThrows(KeyringException.class, () -> k.approve(prefix, "x"));
    assertTrue(e.getMessage().startsWith("Fingerprint prefix \"" + prefix + "\" is ambiguous"), e.getMessage());
    assertTrue(e.getMessage().contains(first.fingerprint()) && e.getMessage().contains(second.fingerprint()));
    assertTrue(k.trustedKeys().isEmpty());
    assertEquals(2, k.pending().size());
  }

  @Test
  void configKnownKeysOnly() throws Exception {
    Keyring k = new Keyring(dir, CLOCK);
    assertEquals("{\"require_encryption\":false,\"max_pending_registrations\":100,\"max_registrations_per_hour\":10}",
        k.config().toString());
    assertEquals(10, k.maxRegistrationsPerHour());
    assertFalse(k.requireEncryption());
    assertEquals("true", k.setConfig("require_encryption", "true").toString());
    assertEquals("{\n  \"require_encryption\": true\n}\n", Files.readString(dir.resolve("config.json")));
    assertTrue(k.requireEncryption());
    assertThrows(IllegalArgumentException.class, () -> k.setConfig("require_encryption", "yes"));
    assertThrows(IllegalArgumentException.class, () -> k.setConfig("max_pending_registrations", "0"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> k.setConfig("colour", "red"));
    assertTrue(e.getMessage().contains("unknown config key \"colour\""), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> k.configValue("colour"));
    assertTrue(k.unsetConfig("require_encryption"));
    assertFalse(k.unsetConfig("require_encryption"));
    assertEquals("{}\n", Files.readString(dir.resolve("config.json")));
    assertFalse(k.requireEncryption());
    // a missing config.json means the defaults; the JavaScript semantics of a hand-written file
    Files.writeString(dir.resolve("config.json"), "{\"max_pending_registrations\": \"7\"}");
    assertEquals(7, k.maxPending());
    Files.writeString(dir.resolve("config.json"), "{\"max_registrations_per_hour\": 0}");
    assertEquals(dir.resolve("config.json") + ": max_registrations_per_hour must be a positive integer, not 0",
        assertThrows(KeyringException.class, k::maxRegistrationsPerHour).getMessage());
  }

  @Test
  void jsJsonMatchesJsonStringify() throws Exception {
    var n = M.readTree("{\"a\":\"q\\\"\\\\\\n\\t\\u0001/é😀\",\"b\":[1,2.5,1.0,true,null,{}],\"c\":{\"d\":[]}}");
    assertEquals("{\n  \"a\": \"q\\\"\\\\\\n\\t\\u0001/é😀\",\n  \"b\": [\n    1,\n    2.5,\n    1,\n    true,\n    null,\n"
        + "    {}\n  ],\n  \"c\": {\n    \"d\": []\n  }\n}\n", JsJson.file(n));
    assertEquals("\"x\"", JsJson.inline(TextNode.valueOf("x")));
  }
}
