package dev.atsdispatch.notify;

/**
 * Where notification texts (Telegram HTML) go: the seam between {@link Notifications} and a chat
 * service. {@link #send} must return at once and never throw; delivery happens elsewhere.
 */
public interface MessageSender extends AutoCloseable {
  void send(String html);

  /** Stops accepting messages; may wait briefly for queued ones. */
  @Override
  default void close() {}

  /** Sends nothing: Telegram is not configured. */
  MessageSender NONE = html -> {};
}
