package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.WireTime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Questions agents asked people, kept while their tasks wait for the answer (issue 16): one file
 * per waiting task, {@code <state>/questions/<source>-<id>.json} (0600, written atomically), so
 * waiting survives restarts and start-up reads only those. An answer given from outside the
 * service ({@code ats-dispatch answer}) is a file of its own beside it ({@code .answer}), made
 * once (the first answer wins) and taken in by the engine's tick. In the agent's work directory
 * the mailbox of agent-dispatch: {@code questions/NNN.question} is asked, {@code NNN.answer} is
 * what came back. Thread-safe: the files of one instance are changed under its monitor; the
 * static methods are for the command line, which only reads and adds answer files.
 */
public final class Questions {
  private static final ObjectMapper M = new ObjectMapper();
  private static final Pattern QUESTION = Pattern.compile("(\\d{1,6})\\.question");
  /** The longest question or answer kept (characters); more is cut. */
  static final int TEXT_MAX = 16_000;

  /** A question found at the end of an attempt. */
  public record Asked(int number, String text) {}

  /**
   * A task's open question: {@code text} null for an encrypted task (its plaintext stays in the
   * work directory); {@code answeredAt} null until answered ({@code answer} null then too, or when
   * the task was reopened without one); {@code woken} once the source was told to offer it again.
   */
  public record Open(TaskKey key, int number, String text, boolean encrypted, Instant askedAt, String answer,
      String answeredBy, Instant answeredAt, boolean woken) {
    public boolean answered() {
      return answeredAt != null;
    }

    ObjectNode json() {
      ObjectNode o = M.createObjectNode().put("task", key.toString()).put("number", number);
      if (text != null) o.put("text", text);
      o.put("encrypted", encrypted).put("asked_at", WireTime.format(askedAt));
      if (answeredAt != null) {
        if (answer != null) o.put("answer", answer);
        o.put("answered_by", answeredBy).put("answered_at", WireTime.format(answeredAt));
      }
      if (woken) o.put("woken", true);
      return o;
    }

    static Open of(JsonNode n) {
      return new Open(TaskKey.parse(n.path("task").asText()), n.path("number").asInt(), n.path("text").asText(null),
          n.path("encrypted").asBoolean(false), WireTime.parse(n.path("asked_at").asText()),
          n.path("answer").asText(null), n.path("answered_by").asText(null),
          n.hasNonNull("answered_at") ? WireTime.parse(n.get("answered_at").asText()) : null, n.path("woken").asBoolean(false));
    }
  }

  private final Path dir;
  private final Map<TaskKey, Open> open = new ConcurrentHashMap<>();

  /** The questions of the state directory {@code root}, read once now. */
  public Questions(Path root) {
    this.dir = root.resolve("questions");
    for (Open o : read(root)) open.put(o.key(), o);
  }

  public Open get(TaskKey key) {
    return open.get(key);
  }

  /** The open questions of one source. */
  public List<Open> of(String source) {
    List<Open> out = new ArrayList<>();
    for (Open o : open.values()) if (o.key().source().equals(source)) out.add(o);
    return out;
  }

  /** How many tasks of {@code source} wait for an answer now. */
  public int awaiting(String source) {
    int n = 0;
    for (Open o : open.values()) if (o.key().source().equals(source) && !o.answered()) n++;
    return n;
  }

  /** Records that {@code key} waits for the answer to {@code q} (durably, before its lease goes). */
  synchronized Open ask(TaskKey key, Asked q, boolean encrypted, Instant at) {
    Open o = new Open(key, q.number(), encrypted ? null : q.text(), encrypted, at, null, null, null, false);
    write(o);
    return o;
  }

  /** The first answer wins: null when {@code key} waits for none (no question, or answered already). */
  synchronized Open answer(TaskKey key, String text, String by, Instant at) {
    Open o = open.get(key);
    if (o == null || o.answered()) return null;
    Open a = new Open(key, o.number(), o.text(), o.encrypted(), o.askedAt(), text == null ? null : cap(text), by, at, false);
    write(a);
    return a;
  }

  /** The source was told to offer the answered (or expired) task again. */
  synchronized void woken(TaskKey key) {
    Open o = open.get(key);
    if (o == null || o.woken()) return;
    write(new Open(key, o.number(), o.text(), o.encrypted(), o.askedAt(), o.answer(), o.answeredBy(), o.answeredAt(), true));
  }

  /** The question is done with (its answer reached the agent, or its wait ran out). */
  synchronized void close(TaskKey key) {
    open.remove(key);
    try {
      Files.deleteIfExists(file(dir, key, ".answer"));
      Files.deleteIfExists(file(dir, key, ".json"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the question of " + key + ": " + e.getMessage(), e);
    }
  }

  /**
   * Takes in the answers given from the command line for tasks of {@code source}; returns the
   * questions they answered. An answer file for a task that waits for none is removed.
   */
  synchronized List<Open> collect(String source, Instant at) {
    List<Open> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, source + "-*.answer")) {
      for (Path f : ds) {
        String name = f.getFileName().toString();
        Open q = null;
        for (Open o : open.values()) {
          if (o.key().source().equals(source) && name.equals(file(dir, o.key(), ".answer").getFileName().toString())) q = o;
        }
        if (q != null) {
          Open a = answer(q.key(), Files.readString(f, StandardCharsets.UTF_8), "ats-dispatch answer", at);
          if (a != null) out.add(a);
        }
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the answers in " + dir + ": " + e.getMessage(), e);
    }
    return out;
  }

  private void write(Open o) {
    try {
      AtomicFiles.createDirectories(dir);
      AtomicFiles.write(file(dir, o.key(), ".json"), o.json().toString().getBytes(StandardCharsets.UTF_8),
          AtomicFiles.OWNER_ONLY);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot record the question of " + o.key() + ": " + e.getMessage(), e);
    }
    open.put(o.key(), o);
  }

  private static Path file(Path dir, TaskKey key, String ext) {
    return dir.resolve(key.source() + "-" + key.fileName() + ext);
  }

  static String cap(String s) {
    return s.length() <= TEXT_MAX ? s : s.substring(0, TEXT_MAX) + "…";
  }

  // ---- for the command line ------------------------------------------------------------------

  /** Every open question in the state directory {@code root}, oldest first; unreadable files are skipped. */
  public static List<Open> read(Path root) {
    Path d = root.resolve("questions");
    List<Open> out = new ArrayList<>();
    if (!Files.isDirectory(d)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(d, "*.json")) {
      for (Path f : ds) {
        try {
          out.add(Open.of(M.readTree(f.toFile())));
        } catch (IOException | RuntimeException e) {
          // torn or foreign: not a question this release wrote
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + d + ": " + e.getMessage(), e);
    }
    out.sort(java.util.Comparator.comparing(Open::askedAt));
    return out;
  }

  /** Why an answer cannot be given.*/
  public static final class NotAwaiting extends Exception {
    NotAwaiting(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Gives the answer to {@code key}'s open question from outside the service: a file the service
   * takes in within a second or so (or at its next start). Throws when the task waits for no
   * answer, or one was given already.
   */
  public static Open give(Path root, TaskKey key, String text) throws NotAwaiting, IOException {
    Open q = null;
    for (Open o : read(root)) if (o.key().equals(key)) q = o;
    if (q == null) throw new NotAwaiting("task " + key.display() + " waits for no answer");
    if (q.answered()) throw new NotAwaiting("question " + q.number() + " of task " + key.display() + " was answered already");
    Path d = root.resolve("questions");
    Path tmp = Files.createTempFile(d, ".answer-", ".tmp");
    try {
      Files.writeString(tmp, cap(text), StandardCharsets.UTF_8);
      Files.move(tmp, file(d, key, ".answer"), StandardCopyOption.ATOMIC_MOVE); // fails if an answer is there
    } catch (java.nio.file.FileAlreadyExistsException e) {
      throw new NotAwaiting("question " + q.number() + " of task " + key.display() + " has an answer waiting to be taken in");
    } finally {
      Files.deleteIfExists(tmp);
    }
    return q;
  }

  // ---- the agent's mailbox -------------------------------------------------------------------

  /** The mailbox in an agent's work directory. */
  static Path mailbox(Path workDir) {
    return workDir.resolve("questions");
  }

  /** The lowest-numbered {@code NNN.question} in the mailbox without its {@code NNN.answer}, or null. */
  static Asked pending(Path workDir) {
    TreeMap<Integer, Path> found = new TreeMap<>();
    Path box = mailbox(workDir);
    if (!Files.isDirectory(box)) return null;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(box, "*.question")) {
      for (Path f : ds) {
        Matcher m = QUESTION.matcher(f.getFileName().toString());
        if (!m.matches() || !Files.isRegularFile(f)) continue;
        int n = Integer.parseInt(m.group(1));
        if (Files.exists(box.resolve(m.group(1) + ".answer")) || Files.exists(box.resolve(name(n) + ".answer"))) continue;
        found.put(n, f);
      }
      for (var e : found.entrySet()) {
        String text = Files.readString(e.getValue(), StandardCharsets.UTF_8).strip();
        if (!text.isEmpty()) return new Asked(e.getKey(), cap(text));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the questions in " + box + ": " + e.getMessage(), e);
    }
    return null;
  }

  /** Puts a question asked through the agent API in the mailbox, after the highest number there; returns it. */
  static Asked post(Path workDir, String text) {
    Path box = mailbox(workDir);
    try {
      Files.createDirectories(box);
      int n = 0;
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(box)) {
        for (Path f : ds) {
          Matcher m = Pattern.compile("(\\d{1,6})\\.(question|answer)").matcher(f.getFileName().toString());
          if (m.matches()) n = Math.max(n, Integer.parseInt(m.group(1)));
        }
      }
      Asked q = new Asked(n + 1, cap(text.strip()));
      AtomicFiles.write(box.resolve(name(q.number()) + ".question"), q.text().getBytes(StandardCharsets.UTF_8),
          AtomicFiles.OWNER_ONLY);
      return q;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the question in " + box + ": " + e.getMessage(), e);
    }
  }

  /** Writes {@code NNN.answer} beside the question, so the agent may read it there too (and it is not asked again). */
  static void answered(Path workDir, int number, String text) {
    Path box = mailbox(workDir);
    try {
      Files.createDirectories(box);
      AtomicFiles.write(box.resolve(name(number) + ".answer"), (text == null ? "" : text).getBytes(StandardCharsets.UTF_8),
          AtomicFiles.OWNER_ONLY);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the answer in " + box + ": " + e.getMessage(), e);
    }
  }

  /** The question's text as the agent wrote it, or null when its file is gone. */
  static String questionText(Path workDir, int number) {
    Path f = mailbox(workDir).resolve(name(number) + ".question");
    if (!Files.exists(f)) f = mailbox(workDir).resolve(number + ".question");
    try {
      return Files.isRegularFile(f) ? cap(Files.readString(f, StandardCharsets.UTF_8).strip()) : null;
    } catch (IOException e) {
      return null;
    }
  }

  static String name(int number) {
    return String.format("%03d", number);
  }
}
