package dev.atsdispatch.crypto;

import com.fasterxml.jackson.databind.node.LongNode;
import dev.atsdispatch.source.SourceTask;
import dev.atsdispatch.source.TaskKey;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.atsdispatch.dispatch.Intake;
import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.dispatch.TaskObserver;
import dev.atsdispatch.dispatch.TaskView;
import java.nio.file.Path;

/**
 * The engine's intake with the encryption policy of the keys directory: plaintext tasks (unless
 * require_encryption), encrypted envelopes opened in memory with the replay record under
 * {@code <state>/replay}, registrations through the {@link Registrar}. Made once per service start.
 */
public final class CryptoIntake implements Intake {
  private final TaskOpener opener;
  private final Registrar registrar;
  private final ReplayGuard replay;
  private final Keyring keyring;

  public CryptoIntake(Keyring keyring, ReplayGuard replay) {
    this(keyring, replay, dev.atsdispatch.time.Clock.SYSTEM);
  }

  /** With the clock the registration rate is measured by. */
  public CryptoIntake(Keyring keyring, ReplayGuard replay, dev.atsdispatch.time.Clock clock) {
    this.replay = replay;
    this.keyring = keyring;
    this.opener = new TaskOpener(keyring, replay);
    this.registrar = new Registrar(keyring, clock);
  }

  /** The intake of a service whose keys live in {@code keysDir}. */
  public static CryptoIntake forState(Path keysDir, StateDir state) {
    return new CryptoIntake(new Keyring(keysDir), new ReplayGuard(state.root().resolve("replay")));
  }

  @Override
  public String logKey() {
    try {
      return keyring.dispatchKeyPair().map(KeyPair::publicKey).orElse(null);
    } catch (KeyringException e) {
      return null; // the logs of this attempt are not kept; the task itself reports the broken key file
    }
  }

  @Override
  public void close() {
    replay.close();
  }

  @Override
  public Opened open(SourceTask raw) {
    dev.atsdispatch.crypto.Opened o = opener.open(raw);
    if (o instanceof dev.atsdispatch.crypto.Opened.Plain p) {
      return new Run(new TaskView(raw.key(), p.title(), p.description(), p.payload(), null, null));
    }
    if (o instanceof dev.atsdispatch.crypto.Opened.Registration r) return new Register(r.pubkey());
    if (o instanceof dev.atsdispatch.crypto.Opened.Encrypted e) {
      return new Run(new TaskView(raw.key(), e.title(), e.description(), e.innerPayload(), e.senderName(),
          response -> opener.sealResponse(response, e)));
    }
    dev.atsdispatch.crypto.Opened.Rejected r = (dev.atsdispatch.crypto.Opened.Rejected) o;
    return new Reject(r.reason(), r.sendCallback() ? TaskObserver.Failure.DECRYPTION
        : TaskObserver.Failure.PLAINTEXT_REJECTED);
  }

  @Override
  public Registration register(TaskKey key, String publicKey) {
    Registrar.Result r = registrar.handle(publicKey,
        key.numericId() >= 0 ? LongNode.valueOf(key.numericId()) : TextNode.valueOf(key.toString()));
    if (r instanceof Registrar.Invalid i) return new Refused(i.reason(), true);
    if (r instanceof Registrar.AlreadyRegistered a) return new Registered(a.outputs(), null);
    if (r instanceof Registrar.PendingApproval p) return new Registered(p.outputs(), p.notifyAdmin() ? p.fingerprint() : null);
    return new Refused(((Registrar.Refused) r).reason(), false);
  }
}
