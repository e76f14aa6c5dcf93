package dev.atsdispatch.encrypttask;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.NaclBox;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Reading the sealed failure off a thread: only the dispatcher's box to us counts, the last one wins. */
final class SealedFailuresTest {
  static final ObjectMapper M = new ObjectMapper();
  final KeyPair dispatcher = NaclBox.generateKeyPair();
  final KeyPair me = NaclBox.generateKeyPair();
  final KeyPair mallory = NaclBox.generateKeyPair();

  JsonNode message(KeyPair from, String to, int attempt, String reason, boolean asString) throws Exception {
    String plain = M.createObjectNode().put("attempt", attempt).put("reason", reason).put("stderr_tail", "tail " + attempt)
        .toString();
    NaclBox.Sealed s = NaclBox.seal(plain.getBytes(StandardCharsets.UTF_8), to, from.secretKey());
    ObjectNode content = M.createObjectNode();
    content.putObject("encrypted_failure").put("attempt", attempt).put("nonce", s.nonce()).put("ciphertext", s.ciphertext());
    ObjectNode part = M.createObjectNode().put("type", "data");
    if (asString) part.put("content", content.toString());
    else part.set("content", content);
    ObjectNode m = M.createObjectNode();
    m.putArray("parts").add(M.createObjectNode().put("type", "text").put("content", "Agent processing started")).add(part);
    return m;
  }

  @Test
  void theLastNoteTheDispatcherSealedToUsIsRead() throws Exception {
    List<JsonNode> thread = List.of(
        message(dispatcher, me.publicKey(), 1, "first", false),
        message(dispatcher, me.publicKey(), 2, "second", true), // the ats CLI posts data parts as strings
        message(mallory, me.publicKey(), 3, "forged by someone else", false));
    SealedFailures.Opened o = SealedFailures.last(thread, dispatcher.publicKey(), me.secretKey());
    assertEquals(new SealedFailures.Opened(2, "second", "tail 2"), o);
  }

  @Test
  void nothingOpensForAnotherRecipientOrOnAThreadWithoutNotes() throws Exception {
    List<JsonNode> thread = List.of(message(dispatcher, me.publicKey(), 1, "for me", false));
    assertNull(SealedFailures.last(thread, dispatcher.publicKey(), mallory.secretKey()));
    assertNull(SealedFailures.last(List.of(M.createObjectNode()), dispatcher.publicKey(), me.secretKey()));
  }
}
