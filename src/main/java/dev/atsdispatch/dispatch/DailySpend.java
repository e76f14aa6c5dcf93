package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.Clock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What each backend (a preset's name) has cost today, a UTC day, for {@code agent.daily_cost_usd}
 * (issue 16): each finished attempt's reported cost is added, and once a backend's spend reaches
 * the cap, claiming pauses until the next UTC midnight. Kept in {@code <state_dir>/daily-spend.json}
 * (written whole and atomically on each addition), so a restart keeps the day's spend; a new day
 * starts from nothing. One per service, shared by its routes (they run the same backend). Every
 * date comes from the {@link Clock}. Thread-safe (synchronized): attempt runners add, the loop and
 * the status endpoints read.
 */
public final class DailySpend {
  private static final Logger log = LoggerFactory.getLogger(DailySpend.class);
  private static final ObjectMapper M = new ObjectMapper();
  static final String FILE = "daily-spend.json";

  private final Path file;
  private final Clock clock;
  private LocalDate day;
  private final Map<String, Double> usd = new TreeMap<>();
  private boolean loaded;

  public DailySpend(Path stateDir, Clock clock) {
    this.file = stateDir.resolve(FILE);
    this.clock = clock;
  }

  /** Adds {@code cost} dollars to {@code backend}'s spend today; returns its spend today. */
  public synchronized double add(String backend, double cost) {
    roll();
    double total = usd.merge(backend, cost, Double::sum);
    ObjectNode o = M.createObjectNode().put("day", day.toString());
    ObjectNode by = o.putObject("usd");
    usd.forEach(by::put);
    try {
      AtomicFiles.write(file, (o + "\n").getBytes(StandardCharsets.UTF_8), null);
    } catch (IOException e) {
      log.warn("today's spend is not saved ({}): a restart today would count it from {}", e.getMessage(), file);
    }
    return total;
  }

  /** {@code backend}'s spend today. */
  public synchronized double today(String backend) {
    roll();
    return usd.getOrDefault(backend, 0.0);
  }

  /** The pause of a backend whose spend today reached {@code cap}: until the next UTC midnight; null below it. */
  public synchronized Pause pause(String backend, double cap) {
    double spent = today(backend);
    if (spent < cap) return null;
    Instant midnight = day.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    return new Pause(midnight, reason(backend, cap, spent));
  }

  /** "daily spend cap $5.00 reached for claude ($5.12 today)". */
  static String reason(String backend, double cap, double spent) {
    return "daily spend cap " + Budget.usd(cap) + " reached for " + backend + " (" + Budget.usd(spent) + " today)";
  }

  /** Reads the file once; starts the day afresh when the date moved on. */
  private void roll() {
    LocalDate today = LocalDate.ofInstant(clock.now(), ZoneOffset.UTC);
    if (!loaded) {
      loaded = true;
      load(today);
    }
    if (!today.equals(day)) {
      day = today;
      usd.clear();
    }
  }

  private void load(LocalDate today) {
    try {
      JsonNode n = M.readTree(Files.readString(file, StandardCharsets.UTF_8));
      if (!today.toString().equals(n.path("day").asText())) return; // another day's: today starts from nothing
      day = today;
      n.path("usd").fields().forEachRemaining(e -> {
        if (e.getValue().isNumber()) usd.put(e.getKey(), e.getValue().asDouble());
      });
    } catch (NoSuchFileException e) {
      // nothing spent yet
    } catch (IOException | RuntimeException e) {
      log.warn("{} cannot be read ({}): today's spend counts from nothing", file, e.getMessage());
    }
  }
}
