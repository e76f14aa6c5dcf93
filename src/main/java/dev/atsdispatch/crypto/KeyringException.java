package dev.atsdispatch.crypto;

/**
 * A key file that cannot be used as it is (unreadable, corrupt, wrong permissions, refused
 * change), or a lookup that found nothing or too much. The message is one line for a person: it
 * names the file or the entry, never key material.
 */
public class KeyringException extends RuntimeException {
  public KeyringException(String message) {
    super(message);
  }

  public KeyringException(String message, Throwable cause) {
    super(message, cause);
  }
}
