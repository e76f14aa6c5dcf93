package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.crypto.CryptoException;
import dev.atsdispatch.crypto.JsJson;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.Keyring;
import dev.atsdispatch.crypto.KeyringException;
import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The key and registration admin commands (reference-behaviour.md §1.12) over the key directory:
 * {@code keygen}, {@code add-key}, {@code remove-key}, {@code list-keys}, {@code pending},
 * {@code approve}, {@code reject}. Texts are the JavaScript version's where it defines them.
 * Exit 0 on success, 1 with one line on stderr on failure, 2 for usage errors.
 */
public final class KeyCommands {
  private KeyCommands() {}

  /** Settings, logging and error handling shared by the key commands. */
  abstract static class Base implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin GlobalOptions global;
    @Mixin KeysOptions keys;

    @Override
    public final Integer call() {
      global.apply(LogSetup.Format.PLAIN);
      Settings s;
      try {
        s = keys.settings();
      } catch (Settings.InvalidSetting e) {
        err().println("ats-dispatch: invalid setting " + e.getMessage());
        return 2;
      }
      try {
        return run(s, KeysOptions.keyring(s));
      } catch (KeyringException e) {
        err().println(e.getMessage());
        return 1;
      }
    }

    abstract int run(Settings s, Keyring keyring);

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }
  }

  @Command(name = "keygen", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = {"Generate the dispatch keypair (keys_dir/dispatch-keys.json, mode 0600).",
          "An existing keypair is replaced only with --force, after a backup copy is saved next to it."})
  public static final class Keygen extends Base {
    @Option(names = "--force", description = "replace an existing keypair (every registered sender then "
        + "needs the new public key)")
    boolean force;

    @Override
    int run(Settings s, Keyring keyring) {
      Keyring.Generated g = keyring.generateDispatchKeyPair(force);
      if (g.backup() != null) out().println("Backed up the old keypair to " + g.backup());
      out().println("Generated new dispatch keypair.");
      out().println("Public key: " + g.keyPair().publicKey());
      out().println("Fingerprint: " + g.keyPair().fingerprint());
      out().println("Saved to: " + g.savedTo());
      out().println();
      out().println("Share your public key with task submitters so they can encrypt tasks for you.");
      if (g.backup() != null) {
        err().println("Warning: the keypair was replaced. Every registered sender needs the new public key; "
            + "tasks sealed to the old one will fail to open.");
      }
      return 0;
    }
  }

  @Command(name = "add-key", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Trust a sender's public key under NAME (an existing NAME is replaced).")
  public static final class AddKey extends Base {
    @Parameters(index = "0", paramLabel = "NAME", description = "the name tasks give as payload.sender")
    String name;

    @Parameters(index = "1", paramLabel = "PUBKEY", description = "base64 of the 32-byte public key")
    String pubkey;

    @Override
    int run(Settings s, Keyring keyring) {
      if (name.isBlank()) {
        err().println("Error: the name must not be empty");
        return 1;
      }
      Keyring.TrustedKey k;
      try {
        k = keyring.addTrusted(name, pubkey);
      } catch (CryptoException e) {
        err().println(e.kind() == CryptoException.Kind.BAD_KEY_LENGTH
            ? "Error: Invalid public key length: " + e.getMessage()
            : "Error: Invalid public key: " + e.getMessage());
        return 1;
      }
      out().println("Added trusted key for \"" + name + "\".");
      out().println("Fingerprint: " + k.fingerprint());
      out().println("Saved to: " + keyring.file(Keyring.TRUSTED_KEYS));
      return 0;
    }
  }

  @Command(name = "remove-key", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Stop trusting the key named NAME.")
  public static final class RemoveKey extends Base {
    @Parameters(index = "0", paramLabel = "NAME") String name;

    @Override
    int run(Settings s, Keyring keyring) {
      if (!keyring.removeTrusted(name)) {
        err().println("No trusted key found for \"" + name + "\".");
        return 1;
      }
      out().println("Removed trusted key for \"" + name + "\".");
      return 0;
    }
  }

  @Command(name = "list-keys", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "List the trusted keys, the dispatch public key and the pending registrations.")
  public static final class ListKeys extends Base {
    @Option(names = "--json", description = "print one JSON object: trusted [{name, publicKey, fingerprint, "
        + "addedAt}], dispatch {publicKey, fingerprint} or null, pending [{fingerprint, pubkey, requestedAt, taskId}]") boolean json;

    @Override
    int run(Settings s, Keyring keyring) {
      Map<String, Keyring.TrustedKey> trusted = keyring.trustedKeys();
      Optional<KeyPair> dispatch = keyring.dispatchKeyPair();
      Map<String, Keyring.PendingRegistration> pending = keyring.pending();
      if (json) {
        ObjectNode root = M.createObjectNode();
        ArrayNode t = root.putArray("trusted");
        for (Keyring.TrustedKey k : trusted.values()) {
          t.addObject().put("name", k.name()).put("publicKey", k.publicKey())
              .put("fingerprint", k.fingerprint()).put("addedAt", k.addedAt());
        }
        if (dispatch.isPresent()) {
          root.putObject("dispatch").put("publicKey", dispatch.get().publicKey())
              .put("fingerprint", dispatch.get().fingerprint());
        } else {
          root.putNull("dispatch");
        }
        pendingJson(root.putArray("pending"), pending);
        out().print(JsJson.file(root));
        out().flush();
        return 0;
      }
      if (trusted.isEmpty()) {
        out().println("No trusted keys registered.");
      } else {
        out().println("Trusted entities:");
        for (Keyring.TrustedKey k : trusted.values()) {
          out().println("  " + k.name() + ": " + k.publicKey() + " (fp: " + k.fingerprint() + ", added "
              + k.addedAt() + ")");
        }
      }
      out().println();
      if (dispatch.isPresent()) {
        out().println("Dispatch public key: " + dispatch.get().publicKey());
        out().println("Dispatch fingerprint: " + dispatch.get().fingerprint());
      } else {
        out().println("No dispatch keypair found. Run: ats-dispatch keygen");
      }
      if (!pending.isEmpty()) {
        out().println();
        out().println("Pending registrations:");
        for (Keyring.PendingRegistration p : pending.values()) {
          out().println("  " + p.fingerprint() + ": requested " + p.requestedAt() + " (task " + taskId(p) + ")");
        }
      }
      return 0;
    }
  }

  @Command(name = "pending", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "List the registration requests waiting for approve or reject.")
  public static final class Pending extends Base {
    @Option(names = "--json", description = "print one JSON array: [{fingerprint, pubkey, requestedAt, taskId}]")
    boolean json;

    @Override
    int run(Settings s, Keyring keyring) {
      Map<String, Keyring.PendingRegistration> pending = keyring.pending();
      if (json) {
        out().print(JsJson.file(pendingJson(M.createArrayNode(), pending)));
        out().flush();
        return 0;
      }
      if (pending.isEmpty()) {
        out().println("No pending registrations.");
        return 0;
      }
      out().println("Pending registrations:");
      for (Keyring.PendingRegistration p : pending.values()) {
        out().println("  Fingerprint: " + p.fingerprint());
        out().println("  Public key:  " + p.pubkey());
        out().println("  Requested:   " + p.requestedAt());
        out().println("  Task ID:     " + taskId(p));
        out().println();
      }
      return 0;
    }
  }

  /** approve and reject: tell the admin channel through {@link RegistrationNotices}. */
  abstract static class Notifying extends Base {
    private final RegistrationNotices.Factory notices;

    Notifying(RegistrationNotices.Factory notices) {
      this.notices = notices;
    }

    /** Sends a notice; the key files are already changed, so a failure is only a warning. */
    void tell(Settings s, java.util.function.Consumer<RegistrationNotices> send) {
      try {
        send.accept(notices.open(s));
      } catch (RuntimeException e) {
        err().println("Warning: the admin notice was not sent: " + e.getMessage());
      }
    }
  }

  @Command(name = "approve", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = {"Trust a pending registration's key as NAME and remove it from pending.",
          "FINGERPRINT may be a prefix if exactly one pending registration starts with it."})
  public static final class Approve extends Notifying {
    @Parameters(index = "0", paramLabel = "FINGERPRINT") String fingerprint;
    @Parameters(index = "1", paramLabel = "NAME") String name;

    public Approve() {
      this(RegistrationNotices.Factory.NONE);
    }

    public Approve(RegistrationNotices.Factory notices) {
      super(notices);
    }

    @Override
    int run(Settings s, Keyring keyring) {
      if (name.isBlank()) {
        err().println("Error: the name must not be empty");
        return 1;
      }
      Keyring.Approval a = keyring.approve(fingerprint, name);
      String dispatchKey = keyring.ensureDispatchKeyPair().publicKey();
      out().println("Approved registration for \"" + name + "\".");
      out().println("Fingerprint: " + a.fingerprint());
      out().println("Public key: " + a.trusted().publicKey());
      out().println("Ada's public key: " + dispatchKey);
      if (a.replaced() != null) {
        out().println("Replaced the previous key of \"" + name + "\" (fp: " + a.replaced().fingerprint() + ").");
      }
      tell(s, n -> n.approved(name, a.fingerprint(), a.trusted().publicKey(), dispatchKey));
      return 0;
    }
  }

  @Command(name = "reject", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = "Remove a pending registration (exact fingerprint or unique prefix).")
  public static final class Reject extends Notifying {
    @Parameters(index = "0", paramLabel = "FINGERPRINT") String fingerprint;

    @Parameters(index = "1..*", paramLabel = "REASON", description = "told to the admin channel (default: Not approved)")
    List<String> reason;

    public Reject() {
      this(RegistrationNotices.Factory.NONE);
    }

    public Reject(RegistrationNotices.Factory notices) {
      super(notices);
    }

    @Override
    int run(Settings s, Keyring keyring) {
      Keyring.PendingRegistration p = keyring.reject(fingerprint);
      String why = reason == null || reason.isEmpty() ? "Not approved" : String.join(" ", reason);
      out().println("Rejected registration for fingerprint: " + p.fingerprint());
      tell(s, n -> n.rejected(p.fingerprint(), why));
      return 0;
    }
  }

  private static final ObjectMapper M = new ObjectMapper();

  private static ArrayNode pendingJson(ArrayNode a, Map<String, Keyring.PendingRegistration> pending) {
    for (Keyring.PendingRegistration p : pending.values()) {
      ObjectNode o = a.addObject().put("fingerprint", p.fingerprint()).put("pubkey", p.pubkey())
          .put("requestedAt", p.requestedAt());
      o.set("taskId", p.taskId());
    }
    return a;
  }

  private static String taskId(Keyring.PendingRegistration p) {
    return p.taskId() == null || p.taskId().isNull() ? "undefined" : p.taskId().asText();
  }
}
