package dev.atsdispatch.crypto;

import static dev.atsdispatch.crypto.InteropTest.assertInstance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.file.Path;
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
}
