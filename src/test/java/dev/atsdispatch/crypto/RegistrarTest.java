package dev.atsdispatch.crypto;

import static dev.atsdispatch.crypto.InteropTest.assertInstance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.file.Path;
import dev.atsdispatch.testing.FakeClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The §1.5 registration outcomes, with no duplicate entry or notice for a repeated request. */
final class RegistrarTest {
  @TempDir Path dir;

  @Test
  void newKeyIsPendingAndAnnouncedOnce() throws Exception {
    Keyring k = new Keyring(dir);
    Registrar r = new Registrar(k);
    KeyPair alice = NaclBox.generateKeyPair();
    Registrar.PendingApproval p = assertInstance(Registrar.PendingApproval.class, r.handle(alice.publicKey(), IntNode.valueOf(12)));
    assertEquals("{\"status\":\"pending_approval\",\"fingerprint\":\"" + alice.fingerprint() + "\",\"message\":"
        + "\"Registration request submitted. Admin has been notified. You will be approved shortly.\"}",
        p.outputs().toString());
    assertTrue(p.notifyAdmin());
    assertEquals(IntNode.valueOf(12), k.pending().get(alice.fingerprint()).taskId());

    Registrar.PendingApproval again = assertInstance(Registrar.PendingApproval.class,
        r.handle(alice.publicKey(), TextNode.valueOf("13")));
    assertFalse(again.notifyAdmin());
    assertEquals(p.outputs(), again.outputs());
    assertEquals(1, k.pending().size());
  }

  @Test
  void trustedKeyGetsTheDispatchKey() throws Exception {
    Keyring k = new Keyring(dir);
    KeyPair ada = k.ensureDispatchKeyPair();
    KeyPair alice = NaclBox.generateKeyPair();
    k.addTrusted("alice", alice.publicKey());
    Registrar.AlreadyRegistered a = assertInstance(Registrar.AlreadyRegistered.class,
        new Registrar(k).handle(alice.publicKey(), IntNode.valueOf(1)));
    assertEquals("{\"status\":\"already_registered\",\"name\":\"alice\",\"ada_public_key\":\"" + ada.publicKey()
        + "\",\"message\":\"Key already registered as \\\"alice\\\".\"}", a.outputs().toString());
    assertTrue(k.pending().isEmpty());
  }

  @Test
  void invalidKeysAndAFullQueueAreRefused() throws Exception {
    Keyring k = new Keyring(dir);
    Registrar r = new Registrar(k);
    Registrar.Invalid i = assertInstance(Registrar.Invalid.class, r.handle(NaclBox.b64(new byte[31]), IntNode.valueOf(1)));
    assertEquals("Invalid public key: expected 32 bytes, got 31", i.reason());
    assertEquals("Invalid public key: not valid base64",
        assertInstance(Registrar.Invalid.class, r.handle("%%%", IntNode.valueOf(1))).reason());
    assertEquals(Fingerprint.of("%%%"), assertInstance(Registrar.Invalid.class, r.handle("%%%", IntNode.valueOf(1))).fingerprint());
    assertTrue(k.pending().isEmpty());

    k.setConfig("max_pending_registrations", "1");
    assertInstance(Registrar.PendingApproval.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(2)));
    Registrar.Refused full = assertInstance(Registrar.Refused.class,
        r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(3)));
    assertEquals("Registration refused: 1 registrations are already waiting for approval; try again later", full.reason());
    assertEquals(1, k.pending().size());
  }

  static final String RATE = "Registration refused: too many new registration requests (at most %d an hour); try again later";

  @Test
  void theDispatchersOwnKeyIsRefusedAndNotQueued() throws Exception {
    Keyring k = new Keyring(dir);
    KeyPair ada = k.ensureDispatchKeyPair();
    Registrar.Refused r = assertInstance(Registrar.Refused.class, new Registrar(k).handle(ada.publicKey(), IntNode.valueOf(1)));
    assertEquals("Registration refused: this is the dispatcher's own public key", r.reason());
    assertTrue(k.pending().isEmpty());
  }

  @Test
  void newKeysOverTheRateAreRefusedWhileRepeatsAndTrustedKeysAreStillAnswered() throws Exception {
    Keyring k = new Keyring(dir);
    k.setConfig("max_registrations_per_hour", "3");
    KeyPair alice = NaclBox.generateKeyPair();
    k.addTrusted("alice", alice.publicKey());
    FakeClock clock = new FakeClock();
    Registrar r = new Registrar(k, clock);
    KeyPair first = NaclBox.generateKeyPair();
    assertInstance(Registrar.PendingApproval.class, r.handle(first.publicKey(), IntNode.valueOf(1)));
    for (int i = 2; i <= 3; i++) assertInstance(Registrar.PendingApproval.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(i)));
    Registrar.Refused over = assertInstance(Registrar.Refused.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(4)));
    assertEquals(String.format(RATE, 3), over.reason());
    assertEquals(3, k.pending().size());
    // the bucket is empty, yet a key already waiting and a trusted key are answered as before
    Registrar.PendingApproval again = assertInstance(Registrar.PendingApproval.class, r.handle(first.publicKey(), IntNode.valueOf(5)));
    assertFalse(again.notifyAdmin());
    assertInstance(Registrar.AlreadyRegistered.class, r.handle(alice.publicKey(), IntNode.valueOf(6)));
    // 3 an hour: one token every 20 minutes
    clock.advance(java.time.Duration.ofMinutes(19));
    assertInstance(Registrar.Refused.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(7)));
    clock.advance(java.time.Duration.ofMinutes(1));
    assertInstance(Registrar.PendingApproval.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(8)));
    assertInstance(Registrar.Refused.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(9)));
    // a quiet day refills the bucket to 3, no more
    clock.advance(java.time.Duration.ofDays(1));
    for (int i = 0; i < 3; i++) assertInstance(Registrar.PendingApproval.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(10 + i)));
    assertInstance(Registrar.Refused.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(13)));
  }

  /** Issue 12, finding 6: 100 keys at once no longer fill the list; a real sender gets in a few minutes later. */
  @Test
  void aFloodIsStoppedBeforeItFillsThePendingList() throws Exception {
    Keyring k = new Keyring(dir);
    FakeClock clock = new FakeClock();
    Registrar r = new Registrar(k, clock);
    int announced = 0;
    int refused = 0;
    for (int i = 0; i < 100; i++) {
      Registrar.Result res = r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(i));
      if (res instanceof Registrar.PendingApproval p && p.notifyAdmin()) announced++;
      if (res instanceof Registrar.Refused f && f.reason().equals(String.format(RATE, 10))) refused++;
    }
    assertEquals(10, announced, "max_registrations_per_hour defaults to 10");
    assertEquals(90, refused);
    assertEquals(10, k.pending().size(), "max_pending_registrations (100) is far off");
    clock.advance(java.time.Duration.ofMinutes(6));
    KeyPair real = NaclBox.generateKeyPair();
    assertInstance(Registrar.PendingApproval.class, r.handle(real.publicKey(), IntNode.valueOf(200)));
    assertTrue(k.pending().containsKey(real.fingerprint()));
  }

  @Test
  void aRequestRefusedBecauseTheListIsFullCostsNoToken() throws Exception {
    Keyring k = new Keyring(dir);
    k.setConfig("max_pending_registrations", "1");
    k.setConfig("max_registrations_per_hour", "2");
    Registrar r = new Registrar(k, new FakeClock());
    KeyPair first = NaclBox.generateKeyPair();
    assertInstance(Registrar.PendingApproval.class, r.handle(first.publicKey(), IntNode.valueOf(1)));
    for (int i = 0; i < 3; i++) {
      Registrar.Refused full = assertInstance(Registrar.Refused.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(2)));
      assertTrue(full.reason().contains("already waiting for approval"), full.reason());
    }
    k.reject(first.fingerprint());
    assertInstance(Registrar.PendingApproval.class, r.handle(NaclBox.generateKeyPair().publicKey(), IntNode.valueOf(3)));
  }
}
