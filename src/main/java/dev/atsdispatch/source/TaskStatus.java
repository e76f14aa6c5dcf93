package dev.atsdispatch.source;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/** The six ATS task statuses, with their wire names. */
public enum TaskStatus {
  PENDING("pending"),
  IN_PROGRESS("in_progress"),
  COMPLETED("completed"),
  CANCELLED("cancelled"),
  FAILED("failed"),
  REJECTED("rejected");

  private final String wire;

  TaskStatus(String wire) {
    this.wire = wire;
  }

  public String wire() {
    return wire;
  }

  public boolean isTerminal() {
    return this != PENDING && this != IN_PROGRESS;
  }

  public static Optional<TaskStatus> fromWire(String s) {
    for (TaskStatus t : values()) {
      if (t.wire.equals(s)) return Optional.of(t);
    }
    return Optional.empty();
  }

  public static String wireNames() {
    return Arrays.stream(values()).map(TaskStatus::wire).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    return wire;
  }
}
