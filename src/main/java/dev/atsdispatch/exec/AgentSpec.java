package dev.atsdispatch.exec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * How to run one attempt of an agent. {@code command} is the argv (no shell); an argument that
 * contains {@code {input}} has it replaced by the prompt, and then stdin is closed at once;
 * otherwise the prompt goes to stdin, which is then closed. {@code env} is the whole environment
 * (nothing is inherited). {@code noOutputTimeout} may be null (off). The logs may be null (not
 * kept); with {@code sealLogsTo} (a base64 public key) they are written sealed to that key
 * ({@link dev.atsdispatch.crypto.SealedLog}), never in plaintext. {@code lines} (may be null) is
 * told each line the agent prints, {@code ("stdout" | "stderr", line)}, on the output threads.
 */
public record AgentSpec(
    List<String> command,
    String prompt,
    Path workDir,
    Map<String, String> env,
    Path stdoutLog,
    Path stderrLog,
    Duration timeout,
    Duration noOutputTimeout,
    Duration grace,
    int responseCapBytes,
    int stderrTailBytes,
    String sealLogsTo,
    java.util.function.BiConsumer<String, String> lines) {

  public static final String INPUT = "{input}";

  public AgentSpec(List<String> command, String prompt, Path workDir, Map<String, String> env, Path stdoutLog,
      Path stderrLog, Duration timeout, Duration noOutputTimeout, Duration grace, int responseCapBytes,
      int stderrTailBytes, String sealLogsTo) {
    this(command, prompt, workDir, env, stdoutLog, stderrLog, timeout, noOutputTimeout, grace, responseCapBytes,
        stderrTailBytes, sealLogsTo, null);
  }

  /** The same spec with {@code lines} told every line of output. */
  public AgentSpec withLines(java.util.function.BiConsumer<String, String> sink) {
    return new AgentSpec(command, prompt, workDir, env, stdoutLog, stderrLog, timeout, noOutputTimeout, grace,
        responseCapBytes, stderrTailBytes, sealLogsTo, sink);
  }

  public AgentSpec {
    if (command == null || command.isEmpty()) throw new IllegalArgumentException("agent command is empty");
    command = List.copyOf(command);
    env = Map.copyOf(env);
  }

  /** The same spec without its prompt: what a running attempt keeps once the prompt is on its way. */
  AgentSpec withoutPrompt() {
    return new AgentSpec(command, "", workDir, env, stdoutLog, stderrLog, timeout, noOutputTimeout, grace,
        responseCapBytes, stderrTailBytes, sealLogsTo, lines);
  }

  boolean templated() {
    return command.stream().anyMatch(a -> a.contains(INPUT));
  }

  List<String> argv() {
    if (!templated()) return command;
    return command.stream().map(a -> a.replace(INPUT, prompt)).toList();
  }
}
