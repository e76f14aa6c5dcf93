package dev.atsdispatch.encrypttask;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.crypto.JsJson;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.NaclBox;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The submitter's keypair file ({@code my-keys.json}, the shape of the JavaScript encrypt-task.js:
 * {@code {"publicKey", "secretKey"}}). It is created at mode 0600, complete or not at all (written
 * to a temp file, then hard-linked into place, which fails rather than replace an existing file),
 * and it is never overwritten. It stays on the submitter's machine: only the public key is sent.
 */
final class MyKeys {
  private static final ObjectMapper M = new ObjectMapper();
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  /** A keypair and whether this call created its file. */
  record Loaded(KeyPair keys, boolean created) {}

  private MyKeys() {}

  /** The keypair in {@code file}; an IllegalStateException names the file when it is missing or bad. */
  static KeyPair load(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IllegalStateException("no keypair at " + file + " (run: encrypt-task keygen --keys " + file + ")");
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + file + ": " + e.getMessage());
    }
    JsonNode n;
    try {
      n = M.readTree(bytes);
    } catch (IOException e) {
      throw new IllegalStateException(file + " is not valid JSON; fix it or move it away");
    }
    if (n == null || !n.path("publicKey").isTextual() || !n.path("secretKey").isTextual()) {
      throw new IllegalStateException(file + " must hold {\"publicKey\": base64, \"secretKey\": base64}");
    }
    return new KeyPair(n.get("publicKey").asText(), n.get("secretKey").asText());
  }

  /** The keypair in {@code file}, created (0600) with a new keypair when the file does not exist. */
  static Loaded loadOrCreate(Path file) {
    if (Files.exists(file)) return new Loaded(load(file), false);
    KeyPair kp = NaclBox.generateKeyPair();
    ObjectNode o = M.createObjectNode().put("publicKey", kp.publicKey()).put("secretKey", kp.secretKey());
    byte[] text = JsJson.file(o).getBytes(StandardCharsets.UTF_8);
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      Files.createDirectories(dir);
      tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY));
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(text);
        while (b.hasRemaining()) ch.write(b);
        ch.force(true);
      }
      Files.createLink(file, tmp);
      return new Loaded(kp, true);
    } catch (FileAlreadyExistsException e) {
      return new Loaded(load(file), false); // created meanwhile by someone else: theirs stands
    } catch (IOException | UnsupportedOperationException e) {
      throw new IllegalStateException("cannot create " + file + ": " + e.getMessage());
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // a stray temp file holds nothing the real file does not
        }
      }
    }
  }

  /** A warning when group or others can read or write the file, else null. */
  static String permissionWarning(Path file) {
    try {
      Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
      for (PosixFilePermission x : p) {
        if (!OWNER_ONLY.contains(x) && x != PosixFilePermission.OWNER_EXECUTE) {
          return "Warning: " + file + " holds your secret key but is accessible by group or others (mode "
              + PosixFilePermissions.toString(p) + "); fix: chmod 600 " + file;
        }
      }
      return null;
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }
}
