package dev.atsdispatch.encrypttask;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsSettings;
import dev.atsdispatch.ats.HttpAtsClient;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.ats.TaskQuery;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.Keyring;
import dev.atsdispatch.crypto.NaclBox;
import dev.atsdispatch.crypto.Opened;
import dev.atsdispatch.crypto.Registrar;
import dev.atsdispatch.crypto.ReplayGuard;
import dev.atsdispatch.crypto.TaskOpener;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.testing.AtsStandIn;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * encrypt-task against the real dev server, with the service's own crypto on the other side:
 * register, approval, submit, the service opening and answering, decrypt; over both transports.
 */
@Timeout(60)
final class EncryptTaskTest {
  static final ObjectMapper M = new ObjectMapper();

  @TempDir Path dir;
  DevServer server;
  AtsClient service;
  Keyring keyring;
  ReplayGuard replay;
  TaskOpener opener;
  KeyPair ada;

  record Result(int code, String out, String err) {}

  @BeforeEach
  void start() {
    server = DevServer.builder().inMemory().port(0).start();
    service = new HttpAtsClient(new AtsSettings(server.url(), "default", "main", false, "agent", "ada-dispatch",
        "Ada Dispatch"), Duration.ofSeconds(10));
    keyring = new Keyring(dir.resolve("service/keys"));
    ada = keyring.ensureDispatchKeyPair();
    replay = new ReplayGuard(dir.resolve("service/replay"));
    opener = new TaskOpener(keyring, replay);
  }

  @AfterEach
  void stop() {
    replay.close();
    service.close();
    server.close();
  }

  Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = EncryptTask.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    if (!all.contains("--keys")) {
      all.add("--keys");
      all.add(myKeys().toString());
    }
    int code = cl.execute(all.toArray(String[]::new));
    return new Result(code, out.toString(), err.toString());
  }

  Path myKeys() {
    return dir.resolve("me/my-keys.json");
  }

  List<String> http() {
    return List.of("--transport", "http", "--url", server.url());
  }

  List<String> cli() {
    return List.of("--transport", "cli", "--ats-bin", AtsStandIn.install(dir.resolve("bin")).toString(),
        "--url", server.url());
  }

  Result run(List<String> transport, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(transport);
    return run(all.toArray(String[]::new));
  }

  static long taskId(String out) {
    Matcher m = Pattern.compile("#(\\d+)").matcher(out);
    assertTrue(m.find(), out);
    return Long.parseLong(m.group(1));
  }

  int taskCount() {
    return service.list(new TaskQuery(null, null, null, null)).count();
  }

  @Test
  void keygenCreatesAnOwnerOnlyFileOnceAndNeverOverwritesIt() throws Exception {
    Result r = run("keygen");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("Generated new keypair → " + myKeys()), r.out());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(myKeys())));
    JsonNode file = M.readTree(myKeys().toFile());
    assertEquals(List.of("publicKey", "secretKey"), names(file));
    assertTrue(r.out().contains("Your public key: " + file.get("publicKey").asText()));
    assertFalse(r.out().contains(file.get("secretKey").asText()));
    assertEquals(file.get("publicKey").asText(), NaclBox.publicKeyOf(file.get("secretKey").asText()));
    try (var files = Files.list(myKeys().getParent())) {
      assertEquals(1, files.count(), "no temp file left");
    }

    String before = Files.readString(myKeys());
    Result again = run("keygen");
    assertEquals(0, again.code());
    assertTrue(again.out().startsWith("Keypair already exists: " + myKeys() + " (not overwritten)"), again.out());
    assertEquals(before, Files.readString(myKeys()));

    Files.setPosixFilePermissions(myKeys(), PosixFilePermissions.fromString("rw-r--r--"));
    Result open = run("keygen");
    assertTrue(open.err().contains("chmod 600 " + myKeys()), open.err());
    assertEquals(before, Files.readString(myKeys()));
  }

  @Test
  void dryRunPrintsTheEnvelopeAndCreatesNothing() throws Exception {
    run("keygen");
    KeyPair me = keys();
    keyring.addTrusted("alice", me.publicKey());
    Result r = run(http(), "submit", "--title", "Summarise", "--description", "three lines ✓",
        "--payload", "{\"callback_url\":\"https://cb.example/1\",\"quiet\":true}", "--to-key", ada.publicKey(),
        "--sender", "alice", "--dry-run");
    assertEquals(0, r.code(), r.err());
    JsonNode envelope = M.readTree(r.out());
    assertEquals(List.of("encrypted", "sender", "nonce", "ciphertext"), names(envelope));
    assertTrue(r.out().startsWith("{\n  \"encrypted\": true,\n  \"sender\": \"alice\",\n"), r.out());
    assertEquals(0, taskCount(), "a dry run creates nothing");

    // the plaintext is exactly what encrypt-task.js seals
    byte[] plain = NaclBox.open(envelope.get("nonce").asText(), envelope.get("ciphertext").asText(), me.publicKey(),
        ada.secretKey());
    assertEquals("{\"title\":\"Summarise\",\"description\":\"three lines ✓\",\"payload\":"
        + "{\"callback_url\":\"https://cb.example/1\",\"quiet\":true}}", new String(plain, StandardCharsets.UTF_8));
  }

  @Test
  void registerApproveSubmitAndDecryptOverHttp() throws Exception {
    roundTrip(http());
  }

  @Test
  void registerApproveSubmitAndDecryptThroughTheAtsCli() throws Exception {
    roundTrip(cli());
  }

  void roundTrip(List<String> transport) throws Exception {
    Result reg = run(transport, "register");
    assertEquals(0, reg.code(), reg.err());
    assertTrue(reg.err().contains("Generated new keypair"), "register creates the key file when missing");
    KeyPair me = keys();
    Task regTask = service.get(taskId(reg.out()));
    assertEquals("register", regTask.title());
    assertEquals("ada-dispatch", regTask.channel());
    assertEquals("{\"pubkey\":\"" + me.publicKey() + "\"}", regTask.payload().toString(), "only the public key leaves");
    Opened.Registration r = (Opened.Registration) opener.open(regTask);
    assertEquals(me.publicKey(), r.pubkey());
    Registrar.PendingApproval pending = (Registrar.PendingApproval) new Registrar(keyring)
        .handle(r.pubkey(), M.getNodeFactory().numberNode(regTask.id()));
    assertTrue(reg.out().contains("ats-dispatch approve " + pending.fingerprint()), reg.out());
    keyring.approve(pending.fingerprint(), "alice");

    Result sub = run(transport, "submit", "--title", "Write a haiku", "--payload", "{\"topic\":\"autumn\"}",
        "--to-key", ada.publicKey(), "--sender", "alice");
    assertEquals(0, sub.code(), sub.err());
    long id = taskId(sub.out());
    Task raw = service.get(id);
    assertEquals("Write a haiku", raw.title(), "the ATS title is the plaintext title, as encrypt-task.js");
    assertEquals(List.of("encrypted", "sender", "nonce", "ciphertext"), names(raw.payload()));

    // the service's side: open, run (here: answer), seal back, complete
    Opened.Encrypted e = (Opened.Encrypted) opener.open(raw);
    assertEquals("autumn", e.innerPayload().get("topic").asText());
    String answer = "Leaves fall, ünïcödé ✓\nquiet wind";
    ObjectNode outputs = M.createObjectNode();
    outputs.set("encrypted_response", opener.sealResponse(answer, e));
    outputs.put("response_encrypted", true);
    service.claim(id, Duration.ofMinutes(5));
    service.complete(id, List.of(outputs));

    Result dec = run(transport, "decrypt", "--task-id", Long.toString(id), "--to-key", ada.publicKey());
    assertEquals(0, dec.code(), dec.err());
    assertEquals(answer + "\n", dec.out());

    KeyPair other = NaclBox.generateKeyPair();
    Result wrong = run(transport, "decrypt", "--task-id", Long.toString(id), "--to-key", other.publicKey());
    assertEquals(1, wrong.code());
    assertTrue(wrong.err().contains("wrong key or tampered data"), wrong.err());
  }

  @Test
  void decryptWithoutAResponseAndBadInputsFailWithOneLine() throws Exception {
    run("keygen");
    Result sub = run(http(), "submit", "--title", "t", "--to-key", ada.publicKey(), "--sender", "alice");
    long id = taskId(sub.out());
    Result none = run(http(), "decrypt", "--task-id", Long.toString(id), "--to-key", ada.publicKey());
    assertEquals(1, none.code());
    assertEquals("encrypt-task: no response found in task #" + id + " (status pending)\n", none.err());

    Result badKey = run(http(), "submit", "--title", "t", "--to-key", NaclBox.b64(new byte[16]), "--sender", "a");
    assertEquals(1, badKey.code());
    assertEquals("encrypt-task: --to-key is not a public key: expected 32 bytes, got 16\n", badKey.err());
    Result badJson = run(http(), "submit", "--title", "t", "--to-key", ada.publicKey(), "--sender", "a",
        "--payload", "{nope");
    assertEquals(1, badJson.code());
    assertEquals("encrypt-task: --payload must be valid JSON\n", badJson.err());
    assertEquals(1, run(http(), "submit", "--title", "t", "--to-key", ada.publicKey(), "--sender", "a",
        "--payload", "[1]").code());
    assertEquals(2, run(http(), "submit", "--title", "t", "--to-key", ada.publicKey()).code(), "no --sender");
    assertEquals(1, taskCount(), "only the first submit created a task");

    Result noKeys = run(http(), "decrypt", "--task-id", Long.toString(id), "--to-key", ada.publicKey(),
        "--keys", dir.resolve("absent.json").toString());
    assertEquals(1, noKeys.code());
    assertTrue(noKeys.err().contains("no keypair at " + dir.resolve("absent.json")), noKeys.err());
    assertFalse(Files.exists(dir.resolve("absent.json")), "decrypt never creates a key");
  }

  @Test
  void responsesAreFoundInArrayAndObjectOutputs() throws Exception {
    JsonNode enc = M.readTree("{\"nonce\":\"n\",\"ciphertext\":\"c\"}");
    ObjectNode object = M.createObjectNode().put("response_encrypted", true);
    object.set("encrypted_response", enc);
    assertEquals(enc, Responses.find(object).encrypted());
    assertEquals(enc, Responses.find(M.createArrayNode().add(object)).encrypted());
    // a task whose outputs field is a bare object still reads as one entry
    ObjectNode task = M.createObjectNode().put("id", 1).put("status", "completed");
    task.set("outputs", object);
    assertEquals(enc, Responses.find(Task.fromJson(task).outputs()).encrypted());
    Responses.Found plain = Responses.find(M.readTree("[{\"response\":\"hi\"}]"));
    assertNull(plain.encrypted());
    assertEquals("hi", plain.plaintext());
    assertNull(Responses.find(M.readTree("[]")));
    assertNull(Responses.find(M.readTree("{\"status\":\"pending_approval\"}")));
  }

  KeyPair keys() throws Exception {
    JsonNode n = M.readTree(myKeys().toFile());
    return new KeyPair(n.get("publicKey").asText(), n.get("secretKey").asText());
  }

  static List<String> names(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
