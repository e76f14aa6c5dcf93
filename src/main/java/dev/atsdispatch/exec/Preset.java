package dev.atsdispatch.exec;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;

/**
 * A backend preset (issue 16, {@code agent.preset}): how one agent CLI is driven. It builds the
 * argv for an execution mode and a session, and reads the CLI's structured output back, one event
 * at a time, into a {@link PresetReader} (one per attempt). One stateless instance per backend;
 * safe from any thread.
 */
public sealed interface Preset permits ClaudePreset, CodexPreset, PiPreset, CursorPreset {

  /** The prompt of a resumed session: the task itself is in the session already. */
  String CONTINUE = "Your previous attempt at this task was interrupted before it finished. "
      + "Continue where you left off and complete the task; end with your final answer.";

  /** The execution modes of {@code agent.mode}. */
  List<String> MODES = List.of("standard", "auto", "danger");

  /** Every preset, in the order {@code ats-dispatch backends} lists them. */
  static List<Preset> all() {
    return List.of(ClaudePreset.INSTANCE, CodexPreset.INSTANCE, PiPreset.INSTANCE, CursorPreset.INSTANCE);
  }

  /** The preset of an {@code agent.preset} value; null for {@code command} (an opaque program). */
  static Preset named(String name) {
    if (name.equals("command")) return null;
    for (Preset p : all()) if (p.name().equals(name)) return p;
    throw new IllegalArgumentException("agent.preset must be command, claude, codex, pi or cursor-agent");
  }

  /** Its {@code agent.preset} value. */
  String name();

  /** The CLI's program: what {@code agent.command} is when the settings do not give one. */
  String program();

  /** What this preset does, for {@code ats-dispatch backends}. */
  List<String> supports();

  /**
   * The session a task starts with, decided before its first start: claude a new UUID, pi a
   * session file in {@code dir} (a directory of the task's own); null where the CLI names the
   * session itself (codex, cursor-agent), which is then read back from its output.
   */
  String newSession(Path dir);

  /**
   * The argv: {@code base} (the program and any arguments of the user's) with the flags for
   * structured output, the execution {@code mode} ({@link #MODES}) and the session: resumed when
   * {@code resume}, else started with {@code session} (null: the CLI picks one).
   *
   * @throws IllegalArgumentException for a mode that is not one of {@link #MODES}
   */
  List<String> argv(List<String> base, String mode, String session, boolean resume);

  /**
   * The CLI's own flags for a task's budget ({@code agent.max_turns}, {@code agent.max_cost_usd}:
   * what is left of them, null where not set), added to the argv; null when the CLI has no such
   * flags: the service then watches the run's output and stops it at a limit.
   */
  default List<String> budgetFlags(Integer maxTurns, Double maxCostUsd) {
    return null;
  }

  /**
   * What this preset's output lets a budget count: {@code turns} (its turns are model round trips:
   * claude's num_turns, pi's turns) and {@code cost} (it reports dollars). The settings refuse a
   * budget a preset cannot count.
   */
  default List<String> budgets() {
    return List.of();
  }

  /** Takes one event of the CLI's output (a JSON line of stdout) into {@code t}. */
  void read(JsonNode event, PresetReader.Tally t);

  /** A reader for one attempt's output. */
  default PresetReader reader() {
    return new PresetReader(this);
  }

  /** The argument error of an unknown mode. */
  static IllegalArgumentException badMode(String mode) {
    return new IllegalArgumentException("agent.mode must be standard, auto or danger, not " + mode);
  }
}
