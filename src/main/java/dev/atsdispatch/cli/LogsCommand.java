package dev.atsdispatch.cli;

import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.Keyring;
import dev.atsdispatch.crypto.KeyringException;
import dev.atsdispatch.crypto.SealedLog;
import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import dev.atsdispatch.files.OwnerOnly;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ats-dispatch logs TASK}: prints an attempt's stdout (or stderr) log from the state
 * directory, opening a sealed one (an encrypted task's, {@link SealedLog}) with the dispatcher's
 * secret key. Reads files only; safe while the service runs (a log being written prints what is
 * there so far). Exit 0 when the whole log was printed, 1 when there is none or it could not be
 * read to its end (what could be read is printed first), 2 for usage errors.
 */
@Command(name = "logs", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = {"Print a task's attempt log from the state directory.",
        "An encrypted task's logs are kept sealed to the dispatcher's key (encrypted_logs = sealed);",
        "this opens them with the key in keys_dir."})
public final class LogsCommand implements Callable<Integer> {
  private static final Pattern LOG = Pattern.compile("attempt-(\\d+)\\.(stdout|stderr)\\.(log|sealed)");

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin GlobalOptions global;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE",
      description = "write the log to FILE (made owner-only: it may hold an encrypted task's plaintext) instead of stdout")
  Path output;

  @Parameters(index = "0", paramLabel = "TASK", description = "the task: an ATS id (123 or #123) or a task key (ats:123)")
  String task;

  @Option(names = "--attempt", paramLabel = "N", description = "which attempt (default: the last one with a log)")
  Integer attempt;

  @Option(names = "--stderr", description = "the attempt's stderr instead of its stdout") boolean stderr;

  @Option(names = "--list", description = "list the task's attempt logs instead of printing one") boolean list;

  @Option(names = "--config", paramLabel = "FILE",
      description = "TOML settings file to read state_dir and keys_dir from (default: ./ats-dispatch.toml if present)")
  Path config;

  @Option(names = "--state-dir", paramLabel = "DIR",
      description = "the service's state directory (default: the state_dir setting, env ATS_DISPATCH_STATE_DIR, else ./state)")
  String stateDir;

  @Option(names = "--keys-dir", paramLabel = "DIR",
      description = "the service's key directory (default: the keys_dir setting, env ATS_DISPATCH_KEYS_DIR, else ./keys)")
  String keysDir;

  @Override
  public Integer call() throws IOException {
    global.apply(LogSetup.Format.PLAIN);
    java.io.PrintWriter err = spec.commandLine().getErr();
    TaskKey key;
    try {
      key = key(task);
    } catch (IllegalArgumentException e) {
      err.println("ats-dispatch: TASK must be an ATS id (123, #123) or a task key (ats:123); got " + task);
      return 2;
    }
    if (attempt != null && attempt < 1) {
      err.println("ats-dispatch: --attempt must be 1 or more; got " + attempt);
      return 2;
    }
    AtsOptions o = new AtsOptions();
    o.config = config;
    Map<String, String> dirs = new HashMap<>();
    AtsOptions.put(dirs, "state_dir", stateDir);
    AtsOptions.put(dirs, "keys_dir", keysDir);
    Settings s = o.loadOrExplain(dirs);
    if (s == null) return 2;
    StateDir state = new StateDir(s.service().stateDir());
    Path dir = state.taskDir(key);
    TreeMap<Integer, TreeMap<String, Path>> logs = logs(dir);
    if (logs.isEmpty()) {
      err.println("ats-dispatch: no attempt logs for task " + key.display() + " in " + dir
          + (Files.isDirectory(dir) ? "" : " (no such directory: a task not run here, or removed after state_retention)"));
      return 1;
    }
    if (list) {
      java.io.PrintWriter w = spec.commandLine().getOut();
      for (var e : logs.entrySet()) {
        for (Path p : e.getValue().values()) {
          w.println("attempt " + e.getKey() + "  " + p.getFileName() + "  " + Files.size(p) + " bytes"
              + (p.toString().endsWith(".sealed") ? "  (sealed)" : ""));
        }
      }
      return 0;
    }
    int n = attempt != null ? attempt : logs.lastKey();
    TreeMap<String, Path> files = logs.get(n);
    Path file = files == null ? null : files.get(stderr ? "stderr" : "stdout");
    if (file == null) {
      err.println("ats-dispatch: task " + key.display() + " has no " + (stderr ? "stderr" : "stdout") + " log for attempt " + n
          + " (attempts with logs: " + logs.keySet() + ")");
      return 1;
    }
    OutputStream out = output != null ? OwnerOnly.newOutputStream(output) : System.out;
    try (InputStream in = Files.newInputStream(file)) {
      if (!file.toString().endsWith(".sealed")) {
        in.transferTo(out);
        out.flush();
        return 0;
      }
      Optional<KeyPair> kp;
      try {
        kp = new Keyring(s.service().keysDir()).dispatchKeyPair();
      } catch (KeyringException e) {
        err.println("ats-dispatch: cannot read the dispatcher's key to open " + file + ": " + e.getMessage());
        return 1;
      }
      if (kp.isEmpty()) {
        err.println("ats-dispatch: " + file + " is sealed to the dispatcher's key, and there is no key in "
            + s.service().keysDir() + " (give --keys-dir or keys_dir)");
        return 1;
      }
      try {
        SealedLog.copy(in, kp.get(), out);
        return 0;
      } catch (SealedLog.BrokenLog e) {
        err.println("ats-dispatch: " + file + ": " + e.getMessage());
        return 1;
      }
    } finally {
      if (output != null) out.close();
      else out.flush();
    }
  }

  static TaskKey key(String s) {
    String t = s.trim();
    if (t.startsWith("#")) t = t.substring(1);
    if (!t.isEmpty() && t.chars().allMatch(c -> c >= '0' && c <= '9') && t.length() <= 18) {
      return TaskKey.of("ats", Long.parseLong(t));
    }
    return TaskKey.parse(t);
  }

  /** attempt → stream → file, for every attempt log in {@code dir}. */
  private static TreeMap<Integer, TreeMap<String, Path>> logs(Path dir) throws IOException {
    TreeMap<Integer, TreeMap<String, Path>> found = new TreeMap<>();
    if (!Files.isDirectory(dir)) return found;
    try (var files = Files.list(dir)) {
      files.forEach(p -> {
        Matcher m = LOG.matcher(p.getFileName().toString());
        if (m.matches()) found.computeIfAbsent(Integer.parseInt(m.group(1)), k -> new TreeMap<>()).put(m.group(2), p);
      });
    }
    return found;
  }
}
