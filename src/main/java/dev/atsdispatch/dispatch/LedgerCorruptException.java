package dev.atsdispatch.dispatch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** A task ledger holds a line that is not an event and was not torn by a crash: it needs a human. */
public final class LedgerCorruptException extends UncheckedIOException {
  private final Path file;
  private final int line;

  LedgerCorruptException(Path file, int line, IOException cause) {
    this(file, line, cause, "is not a JSON event", "fix or remove that line");
  }

  private LedgerCorruptException(Path file, int line, IOException cause, String what, String hint) {
    super(file + " is corrupt: line " + line + " " + what
        + (cause == null ? "" : " (" + firstLine(cause.getMessage()) + ")")
        + "; " + hint, cause == null ? new IOException("not a JSON object") : cause);
    this.file = file;
    this.line = line;
  }

  /** A line of the start journal that is not an attempt's start: it may be the only record of one that ran. */
  static LedgerCorruptException startJournal(Path file, int line, IOException cause) {
    return new LedgerCorruptException(file, line, cause, "is not an attempt's start",
        "fix that line rather than remove it: it may be the only record of an attempt that ran (a strike)");
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
