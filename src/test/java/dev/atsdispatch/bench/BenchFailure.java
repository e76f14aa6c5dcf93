package dev.atsdispatch.bench;

/** A workload that could not be measured; its message goes into the table and the JSON. */
final class BenchFailure extends RuntimeException {
  BenchFailure(String message) {
    super(message);
  }
}
