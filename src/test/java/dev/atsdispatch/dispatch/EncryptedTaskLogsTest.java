package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.cli.Main;
import dev.atsdispatch.crypto.CryptoIntake;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.Keyring;
import dev.atsdispatch.devserver.DevServer;
import dev.atsdispatch.encrypttask.EncryptTask;
import dev.atsdispatch.notify.NotifyConfig;
import dev.atsdispatch.notify.TaskNotifier;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.testing.NaclJs;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What an encrypted task leaves at rest and tells its sender (issue 18): attempt logs sealed to the
 * dispatcher's key and opened by {@code ats-dispatch logs}, or not kept; and a failure whose stderr
 * tail is sealed to the sender on the thread, which {@code encrypt-task decrypt} prints. The real
 * service, dev server, tweetnacl envelopes and agent processes.
 */
@Timeout(90)
final class EncryptedTaskLogsTest {
  static final String CANARY = "okapi-canary-5519";

  @TempDir Path dir;
  DevServer server;
  Http http;
  Service service;
  KeyPair ada;
  JsonNode alice;

  @BeforeEach
  void start() throws Exception {
    server = DevServer.builder().port(0).database(dir.resolve("ats.sqlite")).start();
    http = new Http(server.url(), "human", "tester", "Tester");
    Keyring keyring = new Keyring(dir.resolve("keys"));
    ada = keyring.ensureDispatchKeyPair();
    alice = NaclJs.run("keypair");
    keyring.addTrusted("alice", alice.get("publicKey").asText());
  }

  @AfterEach
  void stop() {
    if (service != null) service.close();
    server.close();
  }

  void startService(String agentBody, ServiceConfig.EncryptedLogs logs) {
    ServiceConfig.Builder b = DispatchFixture.config(DispatchFixture.agent(dir, "agent.sh", agentBody),
        dir.resolve("state"), dir.resolve("keys"));
    b.encryptedLogs = logs;
    service = DispatchFixture.start(server.url(), b.build(), dir,
        new Service.Extensions(st -> CryptoIntake.forState(dir.resolve("keys"), st),
            TaskNotifier.factory(NotifyConfig.builder().build())));
  }

  long submitEncrypted(String title) {
    ObjectNode task = Http.JSON.createObjectNode().put("title", title);
    JsonNode env = NaclJs.run("envelope", Http.JSON.createObjectNode().<ObjectNode>set("task", task)
        .put("adaKey", ada.publicKey()).put("secretKey", alice.get("secretKey").asText()).put("sender", "alice"));
    return DispatchFixture.create(http, "outer title", 5, env.toString());
  }

  long submitPlain(String title) {
    return DispatchFixture.create(http, title, 5, "{}");
  }

  Path taskDir(long id) {
    return dir.resolve("state/tasks/ats/" + id);
  }

  List<String> files(long id) throws Exception {
    try (Stream<Path> s = Files.list(taskDir(id))) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("attempt-")).sorted().toList();
    }
  }

  record Result(int code, String out, String err) {}

  Result logs(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of("logs"));
    all.addAll(List.of(args));
    all.addAll(List.of("--state-dir", dir.resolve("state").toString()));
    if (!all.contains("--keys-dir")) all.addAll(List.of("--keys-dir", dir.resolve("keys").toString()));
    int code = cl.execute(all.toArray(String[]::new));
    return new Result(code, out.toString(), err.toString());
  }

  Result decrypt(long id) throws Exception {
    Path myKeys = dir.resolve("alice/my-keys.json");
    Files.createDirectories(myKeys.getParent());
    Files.writeString(myKeys, Http.JSON.createObjectNode().put("publicKey", alice.get("publicKey").asText())
        .put("secretKey", alice.get("secretKey").asText()).toString());
    Files.setPosixFilePermissions(myKeys, PosixFilePermissions.fromString("rw-------"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = EncryptTask.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("decrypt", "--task-id", Long.toString(id), "--to-key", ada.publicKey(),
        "--keys", myKeys.toString(), "--transport", "http", "--url", server.url());
    return new Result(code, out.toString(), err.toString());
  }

  /** No file under the state directory holds the canary (the agents' own work directories aside). */
  void assertNoCanaryAtRest() throws Exception {
    Path state = dir.resolve("state");
    try (Stream<Path> files = Files.walk(state)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (!Files.isRegularFile(f) || state.relativize(f).toString().contains("/work/")) continue;
        String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
        assertFalse(text.contains(CANARY), "a state file holds the plaintext: " + f);
      }
    }
  }

  @Test
  void anEncryptedTasksLogsAreSealedAtRestByDefaultAndTheLogsCommandOpensThem() throws Exception {
    assertEquals(ServiceConfig.EncryptedLogs.SEALED, ServiceConfig.builder().encryptedLogs, "the default");
    // the prompt (which holds the sealed title) goes to stdout in two writes, a second line to stderr
    startService("head -c 100 >/dev/null; cat; echo; sleep 0.2; echo \"second chunk $ATS_TASK_TITLE\"; "
        + "echo \"stderr sees $ATS_TASK_TITLE\" >&2", ServiceConfig.EncryptedLogs.SEALED);
    long id = submitEncrypted("Count the " + CANARY + "s");
    long plain = submitPlain("a plaintext task");
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));
    DispatchFixture.awaitStatus(http, plain, "completed", Duration.ofSeconds(30));

    assertEquals(List.of("attempt-1.stderr.sealed", "attempt-1.stdout.sealed"), files(id));
    assertEquals("rw-------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(taskDir(id).resolve("attempt-1.stdout.sealed"))));
    assertEquals(List.of("attempt-1.stderr.log", "attempt-1.stdout.log"), files(plain), "plaintext tasks as before");
    assertNoCanaryAtRest();

    Result out = logs(Long.toString(id));
    assertEquals(0, out.code(), out.err());
    Path printed = dir.resolve("printed.txt");
    Result toFile = logs("#" + id, "--output", printed.toString());
    assertEquals(0, toFile.code(), toFile.err());
    String stdout = Files.readString(printed);
    assertTrue(stdout.contains("Count the " + CANARY + "s"), stdout);
    assertTrue(stdout.endsWith("second chunk Count the " + CANARY + "s\n"), stdout);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(printed)));
    Path err = dir.resolve("err.txt");
    Result stderr = logs("ats:" + id, "--stderr", "--attempt", "1", "--output", err.toString());
    assertEquals(0, stderr.code(), stderr.err());
    assertEquals("stderr sees Count the " + CANARY + "s\n", Files.readString(err));
    Result list = logs(Long.toString(id), "--list");
    assertTrue(list.out().contains("attempt-1.stdout.sealed") && list.out().contains("(sealed)"), list.out());
    Result plainLog = logs(Long.toString(plain), "--output", dir.resolve("plain.txt").toString());
    assertEquals(0, plainLog.code(), plainLog.err());
    assertTrue(Files.readString(dir.resolve("plain.txt")).contains("a plaintext task"));

    // the dashboard's task page: nothing of the plaintext, and the sealed logs are not served
    Operations ops = new Operations(List.of(new Operations.Route(null, service.engine(), service.readiness())),
        service.engine().agentEvents());
    String page = ops.task(dev.atsdispatch.source.TaskKey.of("ats", id)).toString();
    assertFalse(page.contains(CANARY), page);
    assertTrue(page.contains("\"attempt\":1") && page.contains("\"sealed\":true"), page);
    assertEquals(null, ops.log(dev.atsdispatch.source.TaskKey.of("ats", id), 1, "stdout"));
    assertTrue(ops.task(dev.atsdispatch.source.TaskKey.of("ats", plain)).toString().contains("\"sealed\":false"));

    // without the dispatcher's key the sealed log does not open, and says why
    Result noKey = logs(Long.toString(id), "--keys-dir", dir.resolve("empty-keys").toString());
    assertEquals(1, noKey.code());
    assertTrue(noKey.err().contains("sealed to the dispatcher's key, and there is no key in"), noKey.err());
    Result none = logs("99999");
    assertEquals(1, none.code());
    assertTrue(none.err().contains("no attempt logs for task #99999"), none.err());
    assertEquals(2, logs("not a task").code());
  }

  @Test
  void withEncryptedLogsNoneAnEncryptedTaskKeepsNoAttemptLog() throws Exception {
    startService("cat; echo \"stderr sees $ATS_TASK_TITLE\" >&2", ServiceConfig.EncryptedLogs.NONE);
    long id = submitEncrypted("Keep no " + CANARY);
    long plain = submitPlain("still logged");
    DispatchFixture.awaitStatus(http, id, "completed", Duration.ofSeconds(30));
    DispatchFixture.awaitStatus(http, plain, "completed", Duration.ofSeconds(30));
    assertEquals(List.of(), files(id));
    assertEquals(List.of("attempt-1.stderr.log", "attempt-1.stdout.log"), files(plain));
    assertNoCanaryAtRest();
    Result r = logs(Long.toString(id));
    assertEquals(1, r.code());
    assertTrue(r.err().contains("no attempt logs"), r.err());
  }

  @Test
  void aFailedEncryptedTaskSealsItsStderrTailToTheSenderAndDecryptPrintsIt() throws Exception {
    startService("cat >/dev/null; echo \"cannot open $ATS_TASK_TITLE: no such file\" >&2; exit 3",
        ServiceConfig.EncryptedLogs.SEALED);
    long id = submitEncrypted("Open " + CANARY + ".txt");
    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(30));

    JsonNode t = DispatchFixture.task(http, id);
    assertEquals("Agent exited with code 3 (its stderr tail is sealed to the sender on the task thread)",
        t.path("reason").asText());
    String thread = http.get("/tasks/" + id + "/messages").text();
    assertTrue(thread.contains("encrypted_failure"), thread);
    assertFalse(t.toString().contains(CANARY) || thread.contains(CANARY), "the plaintext reached ATS");
    assertNoCanaryAtRest();

    Result r = decrypt(id);
    assertEquals(1, r.code(), r.err());
    assertTrue(r.out().startsWith("Task #" + id + " failed: Agent exited with code 3 (its stderr tail"), r.out());
    assertTrue(r.out().contains("Sealed reason (attempt 1): Agent exited with code 3: cannot open Open " + CANARY
        + ".txt: no such file"), r.out());
    assertTrue(r.out().contains("Agent stderr (tail):\ncannot open Open " + CANARY + ".txt: no such file"), r.out());
  }

  @Test
  void aFailedPlaintextTaskHasNoSealedNote() throws Exception {
    startService("cat >/dev/null; echo oops >&2; exit 4", ServiceConfig.EncryptedLogs.SEALED);
    long id = submitPlain("plain failure");
    DispatchFixture.awaitStatus(http, id, "failed", Duration.ofSeconds(30));
    assertEquals("Agent exited with code 4: oops", DispatchFixture.task(http, id).path("reason").asText());
    assertFalse(http.get("/tasks/" + id + "/messages").text().contains("encrypted_failure"));
  }
}
