package dev.atsdispatch.encrypttask;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.CliAtsClient;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.ats.NewTask;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.crypto.CryptoException;
import dev.atsdispatch.crypto.Fingerprint;
import dev.atsdispatch.crypto.JsJson;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.NaclBox;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code encrypt-task}: the submitter's side of encrypted tasks, the Java successor of the
 * JavaScript encrypt-task.js and compatible with both dispatchers. {@code keygen} makes the
 * submitter's keypair file, {@code register} asks the dispatcher to trust its public key,
 * {@code submit} seals a task to the dispatcher's public key and creates it in ATS, {@code decrypt}
 * opens a finished task's {@code encrypted_response}. ATS is reached through the {@code ats} CLI or
 * REST, located as the {@code ats} CLI locates it (ATS_URL, .ats/config, ...). Each run is one
 * command; exit 0 on success, 1 with one line on failure, 2 for usage errors.
 */
@Command(name = "encrypt-task", mixinStandardHelpOptions = true, versionProvider = EncryptTask.Version.class,
    description = "Encrypt tasks for ats-dispatch, submit them to ATS and decrypt their responses.",
    subcommands = {EncryptTask.Keygen.class, EncryptTask.Register.class, EncryptTask.Submit.class,
        EncryptTask.Decrypt.class, CommandLine.HelpCommand.class})
public final class EncryptTask implements Runnable {
  static final ObjectMapper M = new ObjectMapper();
  static final String DEFAULT_CHANNEL = "ada-dispatch";

  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "a command is required: keygen, register, submit or decrypt");
  }

  public static CommandLine commandLine() {
    return new CommandLine(new EncryptTask()).setCaseInsensitiveEnumValuesAllowed(true);
  }

  public static void main(String[] args) {
    // the libraries log through SLF4J; this jar ships no backend, so silence it explicitly
    if (System.getProperty("slf4j.provider") == null) {
      System.setProperty("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
      System.setProperty("slf4j.internal.verbosity", "WARN");
    }
    System.exit(commandLine().execute(args));
  }

  /** The version line. */
  public static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"encrypt-task " + dev.atsdispatch.cli.Version.get()};
    }
  }

  /** The keypair file option every command takes. */
  static final class KeyFile {
    @Option(names = {"--keys", "--my-key"}, paramLabel = "FILE", defaultValue = "my-keys.json",
        description = "your keypair file (default: ${DEFAULT-VALUE} in the current directory)")
    Path file;
  }

  /** How to reach ATS. */
  static final class AtsOptions {
    enum Transport { cli, http }

    @Option(names = "--transport", defaultValue = "cli",
        description = "cli (the ats binary, default) or http (REST)")
    Transport transport;

    @Option(names = "--ats-bin", paramLabel = "PATH", defaultValue = "ats",
        description = "the ats CLI (cli transport; default: ${DEFAULT-VALUE} on PATH)")
    String atsBin;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30", description = "per ATS call")
    int timeoutSeconds;

    @Option(names = {"--url", "-u"}, description = "ATS URL (else ATS_URL, .ats/config, ~/.ats/config)") String url;
    @Option(names = "--org") String org;
    @Option(names = "--project") String project;
    @Option(names = "--actor-type", description = "default: agent") String actorType;
    @Option(names = "--actor-id", description = "default: encrypt-task") String actorId;
    @Option(names = "--actor-name", description = "default: encrypt-task") String actorName;

    AtsClient open() {
      String home = System.getProperty("user.home");
      AtsSettings s = AtsSettings.resolve(new AtsSettings.Flags(url, org, project, actorType, actorId, actorName),
          System.getenv(), Path.of("").toAbsolutePath(), home == null ? null : Path.of(home),
          "agent", "encrypt-task", "encrypt-task");
      Duration t = Duration.ofSeconds(Math.max(1, timeoutSeconds));
      return transport == Transport.http ? new HttpAtsClient(s, t) : new CliAtsClient(s, atsBin, t, System.getenv());
    }
  }

  /** Output streams and the one-line failure handling shared by the commands. */
  abstract static class Base implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin KeyFile keys;

    @Override
    public final Integer call() {
      try {
        return run();
      } catch (IllegalStateException | IllegalArgumentException e) {
        err().println("encrypt-task: " + e.getMessage());
        return 1;
      } catch (AtsException e) {
        err().println("encrypt-task: ATS: " + e.getMessage());
        return 1;
      }
    }

    abstract int run();

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }

    /** Loads the keypair, creating it when missing (as encrypt-task.js does) and saying so on stderr. */
    KeyPair myKeys() {
      MyKeys.Loaded l = MyKeys.loadOrCreate(keys.file);
      if (l.created()) {
        err().println("Generated new keypair → " + keys.file);
        err().println("Your public key: " + l.keys().publicKey());
      } else {
        warnIfOpen();
      }
      return l.keys();
    }

    void warnIfOpen() {
      String w = MyKeys.permissionWarning(keys.file);
      if (w != null) err().println(w);
    }
  }

  @Command(name = "keygen", mixinStandardHelpOptions = true, versionProvider = EncryptTask.Version.class,
      description = "Create your keypair file (mode 0600) if it does not exist; an existing one is never overwritten.")
  static final class Keygen extends Base {
    @Override
    int run() {
      MyKeys.Loaded l = MyKeys.loadOrCreate(keys.file);
      out().println(l.created() ? "Generated new keypair → " + keys.file
          : "Keypair already exists: " + keys.file + " (not overwritten)");
      out().println("Your public key: " + l.keys().publicKey());
      out().println("Fingerprint: " + l.keys().fingerprint());
      if (l.created()) {
        out().println("Register it: encrypt-task register (or the admin runs: ats-dispatch add-key <your-name> "
            + "<your-public-key>)");
      } else {
        warnIfOpen();
      }
      return 0;
    }
  }

  @Command(name = "register", mixinStandardHelpOptions = true, versionProvider = EncryptTask.Version.class,
      description = {"Ask the dispatcher to trust your public key: creates the task 'register' with payload.pubkey.",
          "The admin approves it; then ask them for the dispatcher's public key (--to-key)."})
  static final class Register extends Base {
    @Mixin AtsOptions ats;

    @Option(names = "--channel", defaultValue = DEFAULT_CHANNEL, description = "default: ${DEFAULT-VALUE}")
    String channel;

    @Override
    int run() {
      KeyPair kp = myKeys();
      ObjectNode payload = M.createObjectNode().put("pubkey", kp.publicKey());
      Task t;
      try (AtsClient c = ats.open()) {
        t = c.create(new NewTask("register", null, payload, 5, channel, null));
      }
      out().println("Registration requested: task #" + t.id());
      out().println("Fingerprint: " + kp.fingerprint());
      out().println("The admin approves it with: ats-dispatch approve " + kp.fingerprint() + " <your-name>");
      out().println("Then use that name as --sender, and the dispatcher's public key as --to-key.");
      return 0;
    }
  }

  @Command(name = "submit", mixinStandardHelpOptions = true, versionProvider = EncryptTask.Version.class,
      description = {"Seal a task to the dispatcher's public key and create it in ATS.",
          "The ATS title is the plaintext title (as encrypt-task.js); description and payload travel sealed."})
  static final class Submit extends Base {
    @Mixin AtsOptions ats;

    @Option(names = "--title", required = true) String title;
    @Option(names = "--description") String description;
    @Option(names = "--payload", paramLabel = "JSON", description = "a JSON object (sealed too)") String payload;

    @Option(names = {"--to-key", "--ada-key"}, required = true, paramLabel = "PUBKEY",
        description = "the dispatcher's public key (ats-dispatch list-keys shows it)")
    String toKey;

    @Option(names = "--sender", required = true, paramLabel = "NAME",
        description = "the name your key is trusted under by the dispatcher")
    String sender;

    @Option(names = "--channel", defaultValue = DEFAULT_CHANNEL, description = "default: ${DEFAULT-VALUE}")
    String channel;

    @Option(names = "--priority", defaultValue = "5", description = "1-10 (default: ${DEFAULT-VALUE})") int priority;

    @Option(names = "--dry-run", description = "print the encrypted payload and create nothing") boolean dryRun;

    @Override
    int run() {
      try {
        NaclBox.checkPublicKey(toKey);
      } catch (CryptoException e) {
        throw new IllegalArgumentException("--to-key is not a public key: " + e.getMessage());
      }
      ObjectNode task = M.createObjectNode().put("title", title);
      if (description != null && !description.isEmpty()) task.put("description", description);
      if (payload != null) {
        JsonNode p;
        try {
          p = M.readTree(payload);
        } catch (IOException e) {
          throw new IllegalArgumentException("--payload must be valid JSON");
        }
        if (p == null || !p.isObject()) throw new IllegalArgumentException("--payload must be a JSON object");
        task.set("payload", p);
      }
      KeyPair kp = myKeys();
      NaclBox.Sealed s;
      try {
        s = NaclBox.seal(JsJson.inline(task).getBytes(StandardCharsets.UTF_8), toKey, kp.secretKey());
      } catch (CryptoException e) {
        throw new IllegalStateException("cannot seal the task: " + e.getMessage());
      }
      ObjectNode envelope = M.createObjectNode().put("encrypted", true).put("sender", sender)
          .put("nonce", s.nonce()).put("ciphertext", s.ciphertext());
      if (dryRun) {
        out().print(JsJson.file(envelope));
        out().flush();
        return 0;
      }
      Task t;
      try (AtsClient c = ats.open()) {
        t = c.create(new NewTask(title, null, envelope, priority, channel, null));
      }
      out().println("Task submitted: #" + t.id() + " on channel " + channel);
      out().println("Read the response with: encrypt-task decrypt --task-id " + t.id() + " --to-key " + toKey);
      return 0;
    }
  }

  @Command(name = "decrypt", mixinStandardHelpOptions = true, versionProvider = EncryptTask.Version.class,
      description = {"Print a task's response, opening its encrypted_response with your secret key.",
          "Reads outputs whether ATS returns them as an array or as an object.",
          "For a failed task, prints its reason and the failure the dispatcher sealed to you on the",
          "task's thread (the agent's stderr tail), and exits 1."})
  static final class Decrypt extends Base {
    @Mixin AtsOptions ats;

    @Option(names = "--task-id", required = true, paramLabel = "ID") long taskId;

    @Option(names = {"--to-key", "--ada-key"}, required = true, paramLabel = "PUBKEY",
        description = "the dispatcher's public key (the one the task was sealed to)")
    String toKey;

    @Override
    int run() {
      KeyPair kp = MyKeys.load(keys.file);
      warnIfOpen();
      Task t;
      try (AtsClient c = ats.open()) {
        t = c.get(taskId);
      }
      Responses.Found f = Responses.find(t.outputs());
      if (f == null && t.status() == dev.atsdispatch.source.TaskStatus.FAILED) return failed(t, kp);
      if (f == null) {
        err().println("encrypt-task: no response found in task #" + taskId + " (status " + t.status().wire()
            + (t.reason() == null ? "" : ": " + t.reason()) + ")");
        return 1;
      }
      if (f.encrypted() == null) {
        err().println("(the response of task #" + taskId + " was not encrypted)");
        out().println(f.plaintext());
        return 0;
      }
      try {
        byte[] plain = NaclBox.open(f.encrypted().path("nonce").asText(null),
            f.encrypted().path("ciphertext").asText(null), toKey, kp.secretKey());
        out().println(new String(plain, StandardCharsets.UTF_8));
        return 0;
      } catch (CryptoException e) {
        throw new IllegalStateException("cannot open the response of task #" + taskId + ": " + e.getMessage());
      }
    }

    /**
     * A failed task: its reason, and the failure the dispatcher sealed to us on the thread (the
     * reason with the agent's stderr tail), the last one that opens with our key and the
     * dispatcher's. Exit 1: the task failed.
     */
    private int failed(Task t, KeyPair kp) {
      out().println("Task #" + taskId + " failed: " + (t.reason() == null ? "(no reason given)" : t.reason()));
      java.util.List<JsonNode> messages;
      try (AtsClient c = ats.open()) {
        messages = c.messages(taskId);
      }
      SealedFailures.Opened found = SealedFailures.last(messages, toKey, kp.secretKey());
      if (found == null) {
        err().println("(no failure sealed to your key on the task's thread)");
        return 1;
      }
      out().println("Sealed reason (attempt " + found.attempt() + "): " + found.reason());
      if (!found.stderrTail().isBlank()) {
        out().println("Agent stderr (tail):");
        out().println(found.stderrTail().stripTrailing());
      }
      return 1;
    }
  }
}
