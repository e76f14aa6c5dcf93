package dev.atsdispatch.crypto;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.dispatch.AtomicFiles;
import dev.atsdispatch.files.OwnerOnly;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The key directory (default {@code keys/}) in the JavaScript version's formats
 * (reference-behaviour.md §1.1): {@code dispatch-keys.json}, {@code trusted-keys.json},
 * {@code pending-registrations.json} and {@code config.json}. Every change is a read-modify-write
 * of the file itself under a lock (one per directory in this JVM plus a file lock for other
 * processes) and is written atomically (temp file, fsync, rename) at mode 0600, as
 * {@code JSON.stringify(v, null, 2)} plus a newline, with keys it does not know kept. A file that is
 * not valid JSON, or holds the wrong shape, is a {@link KeyringException} naming the file (every
 * time it is asked for: a bad file is never cached). Cheap to construct; thread-safe.
 *
 * <p><b>Reads are cached</b>, as the service asks on its loop thread for every task: each file's
 * parsed content is kept (one cache per JVM, by path, shared by all instances) and parsed again
 * only when the file changed. Every read first stats the file and compares size, last-modified
 * time and file key (device and inode) with those of the parsed copy. A stat costs microseconds,
 * far less than a task, so it is done on every read rather than every so often: the next task
 * after a change sees it, whoever made it (an admin command in another process included). An
 * atomic rewrite (temp file and rename) gives the name a new inode, so it is always seen and never
 * half read; an edit in place is seen by its time or size. As two changes within the file
 * system's time granularity could leave the time as it was, content is kept only once its file is
 * {@link #SETTLE} old: a file written just now is parsed on every read until then. Stating before
 * reading means that a change in between is seen on the next read, never hidden. Writers here drop
 * the entry after writing; read-modify-writes work on a fresh parse, and readers never change the
 * shared cached content.
 */
public final class Keyring {
  public static final String DISPATCH_KEYS = "dispatch-keys.json";
  public static final String TRUSTED_KEYS = "trusted-keys.json";
  public static final String PENDING = "pending-registrations.json";
  public static final String CONFIG = "config.json";

  /** One documented {@code config.json} key. */
  public record ConfigKey(String name, JsonNode defaultValue, String description) {}

  public static final String REQUIRE_ENCRYPTION = "require_encryption";
  public static final String MAX_PENDING = "max_pending_registrations";
  public static final String REGISTRATIONS_PER_HOUR = "max_registrations_per_hour";

  /** The documented policy keys of {@code config.json}; others in the file are kept but not settable. */
  public static final List<ConfigKey> CONFIG_KEYS = List.of(
      new ConfigKey(REQUIRE_ENCRYPTION, BooleanNode.FALSE,
          "reject plaintext tasks (registrations are still accepted)"),
      new ConfigKey(MAX_PENDING, IntNode.valueOf(100),
          "registration requests kept waiting for approval; more are refused"),
      new ConfigKey(REGISTRATIONS_PER_HOUR, IntNode.valueOf(10),
          "new registration requests taken an hour (a token bucket); more are refused"));

  /** A sender trusted under {@code name}. */
  public record TrustedKey(String name, String publicKey, String fingerprint, String addedAt) {}

  /** A registration waiting for {@code approve} or {@code reject}; {@code taskId} as ATS sent it. */
  public record PendingRegistration(String fingerprint, String pubkey, String requestedAt, JsonNode taskId) {}

  /** A newly generated dispatch keypair, where it was saved, and the backup of the old one (or null). */
  public record Generated(KeyPair keyPair, Path savedTo, Path backup) {}

  /** An approval: the new trusted entry, and the entry it replaced under the same name (or null). */
  public record Approval(String fingerprint, TrustedKey trusted, TrustedKey replaced) {}

  /** What {@link #addPending} did. */
  public enum PendingResult {
    /** A new entry: the admin should be told. */
    ADDED,
    /** The same key was already waiting: its entry is refreshed, nobody needs telling again. */
    REPEATED,
    /** The cap is reached: nothing stored. */
    FULL
  }

  private static final DateTimeFormatter ISO_MILLIS =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter BACKUP_STAMP =
      DateTimeFormatter.ofPattern("uuuuMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final Set<PosixFilePermission> GROUP_OR_OTHER = Set.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);
  private static final Map<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();
  /** How old a file must be before its content is cached (beyond any file system's time granularity). */
  static final Duration SETTLE = Duration.ofSeconds(2);
  /** A file's parsed content and the attributes it had just before it was read. */
  private record Parsed(long size, FileTime modified, Object fileKey, ObjectNode content) {
    boolean same(BasicFileAttributes a) {
      return a.size() == size && a.lastModifiedTime().equals(modified) && Objects.equals(a.fileKey(), fileKey);
    }
  }

  private static final Map<Path, Parsed> CACHE = new ConcurrentHashMap<>();

  private final Path dir;
  private final Clock clock;

  public Keyring(Path dir) {
    this(dir, Clock.systemUTC());
  }

  public Keyring(Path dir, Clock clock) {
    this.dir = dir;
    this.clock = clock;
  }

  public Path dir() {
    return dir;
  }

  public Path file(String name) {
    return dir.resolve(name);
  }

  /** The JavaScript {@code new Date().toISOString()} form of now. */
  String now() {
    return ISO_MILLIS.format(Instant.now(clock));
  }

  // ---- start-up checks ------------------------------------------------------------------------

  /**
   * Reads every file and checks it: valid JSON of the right shape, and a dispatch keypair whose
   * keys are 32 bytes and belong together. Throws on the first problem; a missing file is fine.
   */
  public void check() {
    Optional<KeyPair> kp = dispatchKeyPair();
    if (kp.isPresent()) {
      try {
        NaclBox.checkPublicKey(kp.get().publicKey());
        if (!NaclBox.publicKeyOf(kp.get().secretKey()).equals(kp.get().publicKey())) {
          throw new KeyringException(file(DISPATCH_KEYS) + ": publicKey does not belong to secretKey; "
              + "restore the right file, or run keygen --force");
        }
      } catch (CryptoException e) {
        throw new KeyringException(file(DISPATCH_KEYS) + ": " + e.getMessage());
      }
    }
    trustedKeys();
    pending();
    config();
    requireEncryption();
    maxPending();
    maxRegistrationsPerHour();
  }

  /**
   * Throws, with the fix, when the secret key file can be read or written by group or others.
   * A missing file passes.
   */
  public void checkSecretKeyPermissions() {
    Path f = file(DISPATCH_KEYS);
    Set<PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(f);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException | UnsupportedOperationException e) {
      throw new KeyringException("cannot read the permissions of " + f + ": " + e.getMessage());
    }
    for (PosixFilePermission p : perms) {
      if (GROUP_OR_OTHER.contains(p)) {
        throw new KeyringException(f + " holds the secret key but is accessible by group or others (mode "
            + PosixFilePermissions.toString(perms) + "); fix: chmod 600 " + f);
      }
    }
  }

  // ---- dispatch keypair -----------------------------------------------------------------------

  public Optional<KeyPair> dispatchKeyPair() {
    Path f = file(DISPATCH_KEYS);
    ObjectNode o = read(DISPATCH_KEYS);
    if (o == null) return Optional.empty();
    JsonNode pk = o.get("publicKey");
    JsonNode sk = o.get("secretKey");
    if (pk == null || !pk.isTextual() || sk == null || !sk.isTextual()) {
      throw new KeyringException(f + " must hold {\"publicKey\": base64, \"secretKey\": base64}");
    }
    return Optional.of(new KeyPair(pk.asText(), sk.asText()));
  }

  /** The dispatch keypair; generated (0600) when there is none, as the JavaScript version does at start. */
  public KeyPair ensureDispatchKeyPair() {
    return locked(() -> dispatchKeyPair().orElseGet(() -> writeNewKeyPair(null).keyPair()));
  }

  /**
   * Generates and saves a new dispatch keypair. An existing one is replaced only with
   * {@code force}, after a copy of it is saved next to it ({@code dispatch-keys.json.<time>.bak},
   * 0600); without {@code force} it is a {@link KeyringException}.
   */
  public Generated generateDispatchKeyPair(boolean force) {
    return locked(() -> {
      Optional<KeyPair> old = dispatchKeyPair();
      Path backup = null;
      if (old.isPresent()) {
        if (!force) {
          throw new KeyringException(file(DISPATCH_KEYS) + " already holds a dispatch keypair (fingerprint "
              + old.get().fingerprint() + "); use --force to replace it, after which every registered "
              + "sender needs the new public key");
        }
        backup = backupPath();
        try {
          AtomicFiles.write(backup, Files.readAllBytes(file(DISPATCH_KEYS)), AtomicFiles.OWNER_ONLY);
        } catch (IOException e) {
          throw new KeyringException("cannot back up " + file(DISPATCH_KEYS) + " to " + backup + ": "
              + e.getMessage(), e);
        }
      }
      return writeNewKeyPair(backup);
    });
  }

  private Generated writeNewKeyPair(Path backup) {
    KeyPair kp = NaclBox.generateKeyPair();
    ObjectNode o = JsJson.MAPPER.createObjectNode();
    o.put("publicKey", kp.publicKey());
    o.put("secretKey", kp.secretKey());
    write(DISPATCH_KEYS, o);
    return new Generated(kp, file(DISPATCH_KEYS), backup);
  }

  private Path backupPath() {
    String base = DISPATCH_KEYS + "." + BACKUP_STAMP.format(Instant.now(clock));
    Path p = file(base + ".bak");
    for (int i = 1; Files.exists(p); i++) p = file(base + "-" + i + ".bak");
    return p;
  }

  // ---- trusted keys ---------------------------------------------------------------------------

  /** Every trusted key by name, in file order; a missing fingerprint is recomputed. */
  public Map<String, TrustedKey> trustedKeys() {
    ObjectNode o = read(TRUSTED_KEYS);
    Map<String, TrustedKey> out = new LinkedHashMap<>();
    if (o == null) return out;
    for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      out.put(e.getKey(), trusted(e.getKey(), e.getValue()));
    }
    return out;
  }

  private TrustedKey trusted(String name, JsonNode v) {
    JsonNode pk = v.get("publicKey");
    if (!v.isObject() || pk == null || !pk.isTextual()) {
      throw new KeyringException(file(TRUSTED_KEYS) + ": entry \"" + name + "\" has no publicKey text");
    }
    JsonNode fp = v.get("fingerprint");
    JsonNode added = v.get("addedAt");
    return new TrustedKey(name, pk.asText(),
        fp != null && fp.isTextual() && !fp.asText().isEmpty() ? fp.asText() : Fingerprint.of(pk.asText()),
        added == null || added.isNull() ? null : added.asText());
  }

  public Optional<TrustedKey> trusted(String name) {
    return Optional.ofNullable(trustedKeys().get(name));
  }

  /** The first trusted entry whose stored base64 text equals {@code publicKey} exactly (§1.2). */
  public Optional<TrustedKey> trustedByPublicKey(String publicKey) {
    return trustedKeys().values().stream().filter(k -> k.publicKey().equals(publicKey)).findFirst();
  }

  /**
   * Trusts {@code publicKey} as {@code name}, replacing any key of that name. The key must be
   * canonical base64 of 32 bytes ({@link CryptoException} otherwise, with the JavaScript text for a
   * wrong length).
   */
  public TrustedKey addTrusted(String name, String publicKey) throws CryptoException {
    NaclBox.checkPublicKey(publicKey);
    checkName(name);
    return locked(() -> putTrusted(name, publicKey));
  }

  private TrustedKey putTrusted(String name, String publicKey) {
    ObjectNode o = orEmpty(parse(TRUSTED_KEYS));
    ObjectNode entry = o.get(name) instanceof ObjectNode old ? old.deepCopy() : JsJson.MAPPER.createObjectNode();
    entry.put("publicKey", publicKey);
    entry.put("fingerprint", Fingerprint.of(publicKey));
    entry.put("addedAt", now());
    o.set(name, entry);
    write(TRUSTED_KEYS, o);
    return trusted(name, entry);
  }

  /** Removes the key named {@code name}; false when there was none. */
  public boolean removeTrusted(String name) {
    return locked(() -> {
      ObjectNode o = parse(TRUSTED_KEYS);
      if (o == null || !o.has(name)) return false;
      o.remove(name);
      write(TRUSTED_KEYS, o);
      return true;
    });
  }

  private static void checkName(String name) {
    if (name == null || name.isBlank()) throw new IllegalArgumentException("the name must not be empty");
  }

  // ---- pending registrations ------------------------------------------------------------------

  /** Every pending registration by fingerprint, in file order. */
  public Map<String, PendingRegistration> pending() {
    ObjectNode o = read(PENDING);
    Map<String, PendingRegistration> out = new LinkedHashMap<>();
    if (o == null) return out;
    for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      out.put(e.getKey(), pendingEntry(e.getKey(), e.getValue()));
    }
    return out;
  }

  private PendingRegistration pendingEntry(String fp, JsonNode v) {
    JsonNode pk = v.get("pubkey");
    if (!v.isObject() || pk == null || !pk.isTextual()) {
      throw new KeyringException(file(PENDING) + ": entry \"" + fp + "\" has no pubkey text");
    }
    JsonNode at = v.get("requestedAt");
    JsonNode taskId = v.get("taskId");
    return new PendingRegistration(fp, pk.asText(), at == null || at.isNull() ? null : at.asText(),
        taskId == null ? null : taskId.deepCopy());
  }

  /**
   * Stores a registration request under the key's fingerprint (a repeat overwrites its entry, as
   * the JavaScript version does). Refused when {@code max_pending_registrations} entries already wait.
   */
  public PendingResult addPending(String pubkey, JsonNode taskId) {
    String fp = Fingerprint.of(pubkey);
    int cap = maxPending();
    return locked(() -> {
      ObjectNode o = orEmpty(parse(PENDING));
      JsonNode old = o.get(fp);
      boolean repeat = old != null && pubkey.equals(old.path("pubkey").asText(null));
      if (old == null && o.size() >= cap) return PendingResult.FULL;
      ObjectNode entry = old instanceof ObjectNode oo ? oo.deepCopy() : JsJson.MAPPER.createObjectNode();
      entry.put("pubkey", pubkey);
      entry.put("requestedAt", now());
      entry.set("taskId", taskId == null ? JsJson.MAPPER.nullNode() : taskId);
      o.set(fp, entry);
      write(PENDING, o);
      return repeat ? PendingResult.REPEATED : PendingResult.ADDED;
    });
  }

  /**
   * The pending registration with this exact fingerprint, else the only one that starts with it.
   * No match and an ambiguous prefix (the matches are listed) are {@link KeyringException}s.
   */
  public PendingRegistration findPending(String fingerprintOrPrefix) {
    String p = fingerprintOrPrefix == null ? "" : fingerprintOrPrefix.trim().toLowerCase(Locale.ROOT);
    Map<String, PendingRegistration> all = pending();
    if (!p.isEmpty() && all.containsKey(p)) return all.get(p);
    List<String> matches = new ArrayList<>();
    if (!p.isEmpty()) for (String fp : all.keySet()) if (fp.startsWith(p)) matches.add(fp);
    if (matches.isEmpty()) {
      throw new KeyringException("No pending registration found for fingerprint: " + fingerprintOrPrefix);
    }
    if (matches.size() > 1) {
      throw new KeyringException("Fingerprint prefix \"" + fingerprintOrPrefix + "\" is ambiguous; it matches: "
          + String.join(", ", matches));
    }
    return all.get(matches.get(0));
  }

  /**
   * Trusts the pending key as {@code name} (replacing a key of that name) and removes it from
   * pending. A pending entry whose key is not valid is a {@link KeyringException}.
   */
  public Approval approve(String fingerprintOrPrefix, String name) {
    checkName(name);
    return locked(() -> {
      PendingRegistration reg = findPending(fingerprintOrPrefix);
      try {
        NaclBox.checkPublicKey(reg.pubkey());
      } catch (CryptoException e) {
        throw new KeyringException(file(PENDING) + ": entry \"" + reg.fingerprint() + "\": " + e.getMessage()
            + "; reject it");
      }
      TrustedKey replaced = trustedKeys().get(name);
      TrustedKey added = putTrusted(name, reg.pubkey());
      removePendingEntry(reg.fingerprint());
      return new Approval(reg.fingerprint(), added,
          replaced != null && !replaced.publicKey().equals(reg.pubkey()) ? replaced : null);
    });
  }

  /** Removes the pending registration (exact fingerprint or unique prefix) and returns it. */
  public PendingRegistration reject(String fingerprintOrPrefix) {
    return locked(() -> {
      PendingRegistration reg = findPending(fingerprintOrPrefix);
      removePendingEntry(reg.fingerprint());
      return reg;
    });
  }

  private void removePendingEntry(String fp) {
    ObjectNode o = parse(PENDING);
    if (o == null || !o.has(fp)) return;
    o.remove(fp);
    write(PENDING, o);
  }

  // ---- policy config --------------------------------------------------------------------------

  /** {@code config.json} merged over the defaults of {@link #CONFIG_KEYS}, as the file is now. */
  public ObjectNode config() {
    ObjectNode merged = JsJson.MAPPER.createObjectNode();
    for (ConfigKey k : CONFIG_KEYS) merged.set(k.name(), k.defaultValue());
    ObjectNode o = read(CONFIG);
    if (o != null) merged.setAll(o.deepCopy());
    return merged;
  }

  /** The {@code require_encryption} policy: true, false, or the strings "true"/"false". */
  public boolean requireEncryption() {
    JsonNode v = config().get(REQUIRE_ENCRYPTION);
    if (v.isBoolean()) return v.asBoolean();
    if (v.isTextual() && (v.asText().equals("true") || v.asText().equals("false"))) {
      return v.asText().equals("true");
    }
    throw new KeyringException(file(CONFIG) + ": require_encryption must be true or false, not " + JsJson.inline(v));
  }

  /** The {@code max_pending_registrations} cap. */
  public int maxPending() {
    return positive(MAX_PENDING);
  }

  /** The {@code max_registrations_per_hour} rate: new registration requests taken an hour. */
  public int maxRegistrationsPerHour() {
    return positive(REGISTRATIONS_PER_HOUR);
  }

  private int positive(String key) {
    JsonNode v = config().get(key);
    if (v.canConvertToInt() && v.isIntegralNumber() && v.asInt() > 0) return v.asInt();
    if (v.isTextual() && v.asText().matches("[1-9]\\d{0,8}")) return Integer.parseInt(v.asText());
    throw new KeyringException(file(CONFIG) + ": " + key + " must be a positive integer, not " + JsJson.inline(v));
  }

  /** The documented key named {@code name}; anything else is an IllegalArgumentException. */
  public static ConfigKey configKey(String name) {
    for (ConfigKey k : CONFIG_KEYS) if (k.name().equals(name)) return k;
    throw new IllegalArgumentException("unknown config key \"" + name + "\" (known: "
        + String.join(", ", CONFIG_KEYS.stream().map(ConfigKey::name).toList()) + ")");
  }

  /** The effective value of a documented key. */
  public JsonNode configValue(String name) {
    configKey(name);
    return config().get(name);
  }

  /**
   * Stores a documented key. The text is parsed as the key needs it ({@code "true"}/{@code
   * "false"} as booleans, as the JavaScript version stores them; counts as numbers); a bad value is
   * an IllegalArgumentException. Returns the stored value.
   */
  public JsonNode setConfig(String name, String value) {
    JsonNode v = parseConfigValue(configKey(name), value);
    locked(() -> {
      ObjectNode o = orEmpty(parse(CONFIG));
      o.set(name, v);
      write(CONFIG, o);
      return null;
    });
    return v;
  }

  /** Removes a documented key from the file (its default applies again); false when it was not set. */
  public boolean unsetConfig(String name) {
    configKey(name);
    return locked(() -> {
      ObjectNode o = parse(CONFIG);
      if (o == null || !o.has(name)) return false;
      o.remove(name);
      write(CONFIG, o);
      return true;
    });
  }

  private static JsonNode parseConfigValue(ConfigKey k, String value) {
    String t = value == null ? "" : value.trim();
    if (k.defaultValue().isBoolean()) {
      if (t.equals("true")) return BooleanNode.TRUE;
      if (t.equals("false")) return BooleanNode.FALSE;
      throw new IllegalArgumentException(k.name() + " must be true or false, not \"" + value + "\"");
    }
    if (t.matches("[1-9]\\d{0,8}")) return IntNode.valueOf(Integer.parseInt(t));
    throw new IllegalArgumentException(k.name() + " must be a positive integer, not \"" + value + "\"");
  }

  // ---- files ----------------------------------------------------------------------------------

  /**
   * The file's object as it is now, or null when the file does not exist: the cached content while
   * the file is unchanged (see the class comment). Shared: the caller must not change it.
   */
  private ObjectNode read(String name) {
    Path f = file(name);
    Path key = f.toAbsolutePath().normalize();
    long now = System.currentTimeMillis(); // the clock file times come from, not the injected one
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(f, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      CACHE.remove(key);
      return null;
    } catch (IOException e) {
      throw new KeyringException("cannot read " + f + ": " + e.getMessage(), e);
    }
    Parsed p = CACHE.get(key);
    if (p != null && p.same(a)) return p.content();
    ObjectNode o = parse(name);
    if (o != null && a.lastModifiedTime().toMillis() <= now - SETTLE.toMillis()) {
      CACHE.put(key, new Parsed(a.size(), a.lastModifiedTime(), a.fileKey(), o));
    } else {
      CACHE.remove(key);
    }
    return o;
  }

  /** A fresh parse of the file, the caller's to change, or null when the file does not exist. */
  private ObjectNode parse(String name) {
    Path f = file(name);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(f);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new KeyringException("cannot read " + f + ": " + e.getMessage(), e);
    }
    JsonNode n;
    try {
      n = JsJson.MAPPER.readTree(new String(bytes, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      // the location only: the parser's message may quote the file, and this one may hold a secret
      var loc = e.getLocation();
      throw new KeyringException(f + " is not valid JSON"
          + (loc == null ? "" : " (line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ")")
          + "; fix it or move it away");
    }
    if (n == null || n.isMissingNode()) {
      throw new KeyringException(f + " is empty; it must hold a JSON object (fix it or move it away)");
    }
    if (!n.isObject()) throw new KeyringException(f + " must hold a JSON object; fix it or move it away");
    return (ObjectNode) n;
  }

  private static ObjectNode orEmpty(ObjectNode o) {
    return o != null ? o : JsJson.MAPPER.createObjectNode();
  }

  private void write(String name, ObjectNode o) {
    Path f = file(name);
    try {
      ensureDir();
      AtomicFiles.write(f, JsJson.file(o).getBytes(StandardCharsets.UTF_8), AtomicFiles.OWNER_ONLY);
    } catch (IOException e) {
      throw new KeyringException("cannot write " + f + ": " + e.getMessage(), e);
    } finally {
      CACHE.remove(f.toAbsolutePath().normalize());
    }
  }

  /** A missing keys directory is made 0700; an existing one is left as it is (run checks it). */
  private void ensureDir() throws IOException {
    if (!Files.isDirectory(dir)) OwnerOnly.createDirectories(dir);
  }

  /** Runs a read-modify-write with this directory locked in this JVM and against other processes. */
  private <T> T locked(Supplier<T> body) {
    Path key = dir.toAbsolutePath().normalize();
    ReentrantLock lock = LOCKS.computeIfAbsent(key, k -> new ReentrantLock());
    lock.lock();
    try {
      if (lock.getHoldCount() > 1) return body.get();
      ensureDir();
      try (FileChannel ch = OwnerOnly.open(dir.resolve(".keyring.lock"), StandardOpenOption.WRITE);
          FileLock ignored = ch.lock()) {
        return body.get();
      }
    } catch (IOException e) {
      throw new KeyringException("cannot lock " + dir + ": " + e.getMessage(), e);
    } finally {
      lock.unlock();
    }
  }
}
