package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** What {@link TaskOpener#open} made of a task: run it as plaintext or decrypted, register, or refuse. */
public sealed interface Opened permits Opened.Plain, Opened.Registration, Opened.Encrypted, Opened.Rejected {

  /** A plaintext task, accepted by policy; the task's own fields. */
  record Plain(String title, String description, ObjectNode payload) implements Opened {}

  /** A registration request ({@code register} with {@code payload.pubkey}), for {@link Registrar}. */
  record Registration(String pubkey) implements Opened {}

  /**
   * A decrypted task from a trusted sender. Title and description are the inner ones, else the
   * outer ones; {@code innerPayload} is only what was sealed, so {@code callback_url},
   * {@code quiet} and {@code depends_on} can only come from the sender (defect 3). The response
   * must go back through {@link TaskOpener#sealResponse}. {@link #toString()} shows no plaintext.
   */
  record Encrypted(String title, String description, ObjectNode innerPayload, String senderName,
      String senderPublicKey) implements Opened {
    @Override
    public String toString() {
      return "Encrypted[sender=" + senderName + ", fingerprint=" + Fingerprint.of(senderPublicKey) + "]";
    }
  }

  /**
   * Refused before any agent runs: the task is to be claimed and failed with {@code reason}. The
   * reason holds no plaintext and no key material. {@code sendCallback} follows §1.6: true for
   * decryption failures, false for the plaintext policy.
   */
  record Rejected(String reason, boolean sendCallback) implements Opened {}
}
