package dev.atsdispatch.exec;

/**
 * How an attempt ended. {@code response} is stdout trimmed, cut to the configured cap at a UTF-8
 * boundary ({@code responseTruncated} then true; the full text is in the stdout log).
 * {@code exitCode} is null when the process was never reaped with a code (it always is, normally).
 */
public record AgentResult(
    Outcome outcome,
    Integer exitCode,
    long durationMs,
    String response,
    boolean responseTruncated,
    long stdoutBytes,
    String stderrTail,
    String stopReason) {

  /** Why the attempt ended. */
  public enum Outcome {
    /** The agent exited by itself; see the exit code. */
    EXITED,
    /** The wall-clock timeout fired; whatever the exit code, this is a timeout. */
    TIMED_OUT,
    /** No output on stdout or stderr for the no-output timeout. */
    NO_OUTPUT,
    /** Stopped by the caller (cancel, lease lost, shutdown); see {@code stopReason}. */
    STOPPED
  }

  public boolean succeeded() {
    return outcome == Outcome.EXITED && exitCode != null && exitCode == 0;
  }
}
