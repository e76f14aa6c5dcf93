package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.WireTime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * One task's append-only history in {@code state/tasks/<id>/events.jsonl}: attempts started and
 * finished, reports, resets. Every append is fsync'd before it returns, so an attempt recorded
 * before its agent starts is still counted after a crash or kill -9 of the service. Strikes are
 * the attempts started, minus those that finished without counting (graceful shutdown, lease lost,
 * cancelled), since the last reset. A torn last line (a crash mid-append) is ignored.
 */
public final class TaskLedger {
  private static final ObjectMapper M = new ObjectMapper();

  /** What the ledger says about the task now. */
  public record Summary(int attempts, int strikes, boolean reported, boolean resultPending,
      String lastOutcome, List<long[]> agentGroups, Instant resetAt) {}

  private final Path file;

  TaskLedger(Path dir) {
    this.file = dir.resolve("events.jsonl");
  }

  public Path file() {
    return file;
  }

  public synchronized void append(String event, ObjectNode fields, Instant at) {
    ObjectNode n = M.createObjectNode();
    n.put("ts", WireTime.format(at));
    n.put("event", event);
    if (fields != null) n.setAll(fields);
    byte[] line = (n.toString() + "\n").getBytes(StandardCharsets.UTF_8);
    try {
      Files.createDirectories(file.getParent());
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.APPEND)) {
        ByteBuffer b = ByteBuffer.wrap(line);
        while (b.hasRemaining()) ch.write(b);
        ch.force(false);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot record " + event + " in " + file, e);
    }
  }

  public synchronized List<JsonNode> events() {
    List<JsonNode> out = new ArrayList<>();
    if (!Files.exists(file)) return out;
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) continue;
        try {
          out.add(M.readTree(line));
        } catch (IOException e) {
          // a torn line from a crash mid-append: the attempt it described never started
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    return out;
  }

  public Summary summary() {
    int attempts = 0;
    int strikes = 0;
    boolean reported = false;
    boolean queued = false;
    String last = null;
    Instant resetAt = null;
    List<long[]> groups = new ArrayList<>();
    for (JsonNode e : events()) {
      switch (e.path("event").asText()) {
        case "attempt_started" -> {
          attempts = Math.max(attempts, e.path("attempt").asInt());
          strikes++;
          reported = false;
          queued = false;
        }
        case "agent_started" -> groups.add(new long[] {e.path("pgid").asLong(), e.path("start_ms").asLong(-1)});
        case "attempt_finished" -> {
          if (!e.path("strike").asBoolean(true)) strikes = Math.max(0, strikes - 1);
          last = e.path("outcome").asText(null);
          long pgid = e.path("pgid").asLong();
          groups.removeIf(g -> g[0] == pgid);
        }
        case "result_queued" -> queued = true;
        case "reported", "report_refused", "terminal_seen" -> {
          reported = true;
          queued = false;
        }
        case "reset" -> {
          strikes = 0;
          try {
            resetAt = WireTime.parse(e.path("ts").asText());
          } catch (RuntimeException x) {
            resetAt = null;
          }
          reported = false;
          queued = false;
        }
        default -> {
          // other events are informational
        }
      }
    }
    return new Summary(attempts, strikes, reported, queued, last, groups, resetAt);
  }
}
