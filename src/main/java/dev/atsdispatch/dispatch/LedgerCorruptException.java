package dev.atsdispatch.dispatch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** A task ledger holds a line that is not an event and was not torn by a crash: it needs a human. */
public final class LedgerCorruptException extends UncheckedIOException {
  private final Path file;
  private final int line;

  LedgerCorruptException(Path file, int line, IOException cause) {
    super(file + " is corrupt: line " + line + " is not a JSON event"
        + (cause == null ? "" : " (" + firstLine(cause.getMessage()) + ")")
        + "; fix or remove that line", cause == null ? new IOException("not a JSON object") : cause);
    this.file = file;
    this.line = line;
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }

  public Path file() {
    return file;
  }

  public int line() {
    return line;
  }
}
