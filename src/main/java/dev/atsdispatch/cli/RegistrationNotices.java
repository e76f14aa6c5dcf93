package dev.atsdispatch.cli;

/**
 * The hook through which {@code approve} and {@code reject} tell the admin channel (Telegram in the
 * JavaScript version, §1.8: "Registration approved" / "Registration rejected"). The commands call
 * it after the key files are changed; a failure to notify is reported as a warning and does not
 * undo the change. {@link Main#commandLine()} wires the implementation through {@link Factory}.
 */
public interface RegistrationNotices {
  void approved(String name, String fingerprint, String publicKey, String dispatchPublicKey);

  void rejected(String fingerprint, String reason);

  RegistrationNotices NONE = new RegistrationNotices() {
    @Override
    public void approved(String name, String fingerprint, String publicKey, String dispatchPublicKey) {}

    @Override
    public void rejected(String fingerprint, String reason) {}
  };

  /** Makes the notifier from the effective settings (where the Telegram token and chat id live). */
  interface Factory {
    RegistrationNotices open(Settings settings);

    Factory NONE = settings -> RegistrationNotices.NONE;

    /** Telegram per the settings (off without a token); each notice is flushed before returning. */
    Factory TELEGRAM = settings -> new RegistrationNotices() {
      @Override
      public void approved(String name, String fingerprint, String publicKey, String dispatchPublicKey) {
        var n = dev.atsdispatch.notify.Notifications.create(settings.notifyConfig());
        n.registrationApproved(name, fingerprint, dispatchPublicKey);
        n.close();
      }

      @Override
      public void rejected(String fingerprint, String reason) {
        var n = dev.atsdispatch.notify.Notifications.create(settings.notifyConfig());
        n.registrationRejected(fingerprint, reason);
        n.close();
      }
    };
  }
}
