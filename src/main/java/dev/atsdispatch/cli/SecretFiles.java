package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The file forms of the secret settings, so that no secret has to sit in the service's
 * environment: {@code <key>_file} (TOML, {@code ATS_DISPATCH_<KEY>_FILE}, or the flag map) names a
 * file holding the value, and a systemd credential named {@code <key>} in
 * {@code $CREDENTIALS_DIRECTORY} is used when it exists. At most one of value, file and credential
 * may be given; a file that is missing, unreadable, empty, or (for {@code _file}) readable by group
 * or others is an {@link Settings.InvalidSetting}. Trailing line breaks are cut. No message holds
 * the value. Used by {@link Settings#load} on the loading thread.
 */
final class SecretFiles {
  static final String SUFFIX = "_file";
  static final String CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY";
  private static final long MAX_BYTES = 1 << 20;

  /** A secret read from a file, and the source {@code config show} names. */
  record Found(String value, String source, Path path) {}

  private record Given(String what, Path path) {}

  private SecretFiles() {}

  /** True for {@code <secret key>_file}, a name the TOML file may hold. */
  static boolean isFileKey(String name) {
    return name.endsWith(SUFFIX) && Settings.KEYS.stream()
        .anyMatch(k -> k.secret() && (k.name() + SUFFIX).equals(name));
  }

  /**
   * The secret {@code k} from its file form, or null when none is given (then the value as
   * resolved stands). {@code valueSource} is where {@code value} came from ("default" if nowhere);
   * {@code table} makes a file that is not JSON be read as a TOML table.
   */
  static Found find(Settings.Key k, String value, String valueSource, Map<String, String> toml, Path tomlFile,
      Map<String, String> env, Map<String, String> flags, Path cwd, boolean table) {
    String name = k.name() + SUFFIX;
    String envName = k.env() + "_FILE";
    List<Given> given = new ArrayList<>();
    if (!valueSource.equals("default") && !value.isBlank()) given.add(new Given("a value (" + valueSource + ")", null));
    Given file = null;
    if (nonBlank(flags.get(name))) {
      file = new Given(name + " (flag)", resolve(cwd, flags.get(name)));
    } else if (nonBlank(env.get(envName))) {
      file = new Given(name + " (env " + envName + ")", resolve(cwd, env.get(envName)));
    } else if (nonBlank(toml.get(name))) {
      file = new Given(name + " (" + tomlFile + ")", resolve(cwd, toml.get(name)));
    }
    if (file != null) given.add(file);
    String creds = env.get(CREDENTIALS_DIRECTORY);
    if (nonBlank(creds)) {
      Path c = Path.of(creds).resolve(k.name());
      if (Files.exists(c) && (file == null || !same(c, file.path()))) {
        given.add(new Given("the systemd credential " + c, c));
      }
    }
    if (given.size() > 1) {
      throw new Settings.InvalidSetting(k.name(), "given both as " + given.get(0).what() + " and as "
          + given.get(1).what() + "; set only one");
    }
    if (given.isEmpty() || given.get(0).path() == null) return null;
    Given g = given.get(0);
    boolean credential = g != file;
    if (!credential) checkPrivate(k, g);
    String text = read(k, g);
    if (table && !text.trim().startsWith("{")) text = tomlTable(k, g, text);
    return new Found(text, (credential ? "credential " : "file ") + g.path(), g.path());
  }

  private static String read(Settings.Key k, Given g) {
    byte[] bytes;
    try {
      if (Files.size(g.path()) > MAX_BYTES) {
        throw new Settings.InvalidSetting(k.name(), g.what() + ": " + g.path() + " is larger than 1 MiB");
      }
      bytes = Files.readAllBytes(g.path());
    } catch (NoSuchFileException e) {
      throw new Settings.InvalidSetting(k.name(), "cannot read " + g.what() + ": " + g.path() + ": no such file");
    } catch (AccessDeniedException e) {
      throw new Settings.InvalidSetting(k.name(), "cannot read " + g.what() + ": " + g.path() + ": permission denied");
    } catch (IOException e) {
      throw new Settings.InvalidSetting(k.name(), "cannot read " + g.what() + ": " + g.path() + ": "
          + e.getClass().getSimpleName());
    }
    String s = new String(bytes, StandardCharsets.UTF_8);
    int end = s.length();
    while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) end--;
    if (s.substring(0, end).isBlank()) {
      throw new Settings.InvalidSetting(k.name(), g.what() + ": " + g.path() + " is empty");
    }
    return s.substring(0, end);
  }

  private static void checkPrivate(Settings.Key k, Given g) {
    Set<PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(g.path());
    } catch (NoSuchFileException e) {
      return; // read() says so
    } catch (IOException | UnsupportedOperationException e) {
      return; // not a POSIX file system, or unreadable: read() decides
    }
    if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
      throw new Settings.InvalidSetting(k.name(), g.what() + ": " + g.path()
          + " holds a secret but group or others can read it (mode " + PosixFilePermissions.toString(perms)
          + "): run chmod 600 " + g.path());
    }
  }

  /** A file of {@code NAME = "value"} lines as the JSON object text the table parser takes. */
  private static String tomlTable(Settings.Key k, Given g, String text) {
    JsonNode n;
    try {
      n = new TomlMapper().readTree(text);
    } catch (IOException e) {
      // the parser's message may quote the file: only say where it is
      throw new Settings.InvalidSetting(k.name(), g.what() + ": " + g.path()
          + " is neither a JSON object nor TOML NAME = \"value\" lines");
    }
    for (var it = n.fields(); it.hasNext(); ) {
      var e = it.next();
      if (e.getValue().isContainerNode()) {
        throw new Settings.InvalidSetting(k.name(), g.what() + ": " + g.path() + ": " + e.getKey()
            + " is not a plain value");
      }
    }
    return n.toString();
  }

  private static boolean same(Path a, Path b) {
    try {
      return Files.isSameFile(a, b);
    } catch (IOException e) {
      return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }
  }

  private static Path resolve(Path cwd, String p) {
    Path path = Path.of(p.trim());
    return cwd == null ? path : cwd.resolve(path);
  }

  private static boolean nonBlank(String s) {
    return s != null && !s.isBlank();
  }
}
