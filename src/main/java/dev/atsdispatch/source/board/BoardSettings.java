package dev.atsdispatch.source.board;

import java.nio.file.Path;
import java.time.Duration;

/**
 * A board route: the board file and the queue to take cards from, where a card goes while it runs
 * ({@code inProgressQueue}), when it is done ({@code doneQueue}) and when its retries are used up
 * ({@code deadLetterQueue}, null: it stays where it is), how many times a failed card goes back
 * to its queue ({@code maxRetries}, artificer's), and how often the file is read besides when it
 * changes ({@code pollInterval}). A value.
 */
public record BoardSettings(Path file, String queue, String inProgressQueue, String doneQueue, String deadLetterQueue,
    int maxRetries, Duration pollInterval) {

  public BoardSettings {
    if (file == null) throw new IllegalArgumentException("board.file is required with source = board");
    if (queue == null || queue.isBlank()) throw new IllegalArgumentException("board.queue must not be empty");
    if (inProgressQueue == null || inProgressQueue.isBlank()) throw new IllegalArgumentException("board.in_progress_queue must not be empty");
    if (doneQueue == null || doneQueue.isBlank()) throw new IllegalArgumentException("board.done_queue must not be empty");
    if (deadLetterQueue != null && deadLetterQueue.isBlank()) deadLetterQueue = null;
    if (queue.equals(inProgressQueue) || queue.equals(doneQueue) || inProgressQueue.equals(doneQueue)) {
      throw new IllegalArgumentException("board.queue, board.in_progress_queue and board.done_queue must differ");
    }
    if (maxRetries < 0) throw new IllegalArgumentException("board.max_retries must not be negative");
    if (pollInterval == null || pollInterval.compareTo(Duration.ofMillis(100)) < 0) {
      throw new IllegalArgumentException("board.poll_interval must be at least 100ms");
    }
  }

  /** artificer's defaults for a board file: Todo, In Progress, Done, no retries, no dead-letter queue. */
  public static BoardSettings of(Path file) {
    return new BoardSettings(file, "Todo", "In Progress", "Done", null, 0, Duration.ofSeconds(30));
  }
}
