package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atsdispatch.crypto.KeyPair;
import dev.atsdispatch.crypto.NaclBox;
import dev.atsdispatch.testing.ChildJvm;
import dev.atsdispatch.testing.Http;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, finding 7: under umask 022 every directory the service and the key commands create
 * under the state and keys directories is 0700 and every file 0600 (the agent's own files in its
 * work directory aside), and an existing directory others can reach is refused, never changed.
 */
@Timeout(90)
final class FileModesTest {
  @TempDir Path dir;
  final List<ChildJvm> jvms = new ArrayList<>();

  @AfterEach
  void stop() {
    jvms.forEach(ChildJvm::close);
  }

  ChildJvm start(String name, Map<String, String> env, String... args) {
    Map<String, String> e = new TreeMap<>(env);
    e.put("HOME", dir.toString());
    e.put("ATS_DISPATCH_STATUS_PORT", "off");
    ChildJvm j = ChildJvm.startUnderUmask(dir, name, "022", e, List.of(args));
    jvms.add(j);
    return j;
  }

  @Test
  void underUmask022EverythingTheServiceMakesIsOwnerOnly() throws Exception {
    Path state = dir.resolve("state");
    Path keys = dir.resolve("keys");
    KeyPair alice = NaclBox.generateKeyPair();
    ChildJvm add = start("add-key", Map.of(), "add-key", "alice", alice.publicKey(), "--keys-dir", keys.toString());
    assertEquals(0, add.waitFor(Duration.ofSeconds(30)), add.stderr());
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, "#!/bin/sh\necho made > agent-made\ncat\n");
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
    ChildJvm run = start("run", Map.of("ATS_DISPATCH_EMBEDDED_PORT", "0", "ATS_DISPATCH_CALLBACK_ALLOW", "127.0.0.1/32",
        "ATS_DISPATCH_TRANSPORT", "http"),
        "run", "--embedded", "--agent", agent.toString(), "--state-dir", state.toString(), "--keys-dir", keys.toString());
    String url = run.awaitStdout("embedded ATS at (http://\\S+) ", Duration.ofSeconds(30)).group(1);
    Http http = new Http(url, "human", "tester", "Tester");

    // a plaintext task whose callback cannot be delivered (it stays in the outbox), an encrypted
    // one (replay record), a registration (pending-registrations.json)
    long plain = create(http, "plain", "{\"callback_url\":\"http://127.0.0.1:1/cb\"}");
    String ada = Http.JSON.readTree(Files.readString(keys.resolve("dispatch-keys.json"))).path("publicKey").asText();
    NaclBox.Sealed s = NaclBox.seal("{\"title\":\"sealed\"}".getBytes(StandardCharsets.UTF_8), ada, alice.secretKey());
    long sealed = create(http, "encrypted", Http.JSON.createObjectNode().put("encrypted", true).put("sender", "alice")
        .put("nonce", s.nonce()).put("ciphertext", s.ciphertext()).toString());
    long reg = create(http, "register", "{\"pubkey\":\"" + NaclBox.generateKeyPair().publicKey() + "\"}");
    for (long id : List.of(plain, sealed, reg)) awaitCompleted(http, id);
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!hasFile(state.resolve("outbox/callbacks")) && System.nanoTime() < end) Thread.sleep(50);
    run.process().destroy(); // SIGTERM
    assertEquals(143, run.waitFor(Duration.ofSeconds(60)), run.stderr());

    // the umask was in force: what the agent made itself is 0644
    Path made = state.resolve("tasks/ats/" + plain + "/work/agent-made");
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(made)));
    List<String> seen = new ArrayList<>();
    for (Path root : List.of(state, keys)) {
      try (var walk = Files.walk(root)) {
        for (Path p : (Iterable<Path>) walk::iterator) {
          Path rel = root.getParent().relativize(p);
          if (rel.toString().matches("state/tasks/ats/\\d+/work/.+")) continue; // the agent's own
          String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
          assertEquals(Files.isDirectory(p) ? "rwx------" : "rw-------", mode, rel.toString());
          seen.add(rel.toString().replaceAll("seen/[0-9a-f]{2}/[0-9a-f]{64}$", "seen/X/Y")
              .replaceAll("callbacks/.+\\.json", "callbacks/C.json").replaceAll("/\\d+(/|$)", "/N$1"));
        }
      }
    }
    for (String expected : List.of("state", "state/service.lock", "state/instance-id", "state/embedded-ats.sqlite",
        "state/tasks/ats/N/events.jsonl", "state/tasks/ats/N/attempt-1.stdout.log",
        "state/tasks/ats/N/attempt-1.stderr.log", "state/tasks/ats/N/work", "state/running", "state/outbox/results",
        "state/outbox/callbacks/C.json", "state/replay/seen/X/Y", "keys", "keys/dispatch-keys.json",
        "keys/trusted-keys.json", "keys/pending-registrations.json", "keys/.keyring.lock")) {
      assertTrue(seen.contains(expected), expected + " was not made; made: " + seen);
    }
  }

  @Test
  void anExistingDirectoryOthersCanReachIsRefusedAndLeftAsItIs() throws Exception {
    Path open = Files.createDirectory(dir.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path shared = Files.createDirectory(dir.resolve("shared"));
    Files.setAttribute(shared, "unix:mode", 01777);
    ChildJvm a = start("open-state", Map.of(), "run", "--agent", "cat", "--state-dir", open.toString());
    ChildJvm b = start("shared-keys", Map.of(), "run", "--agent", "cat", "--state-dir", dir.resolve("s").toString(),
        "--keys-dir", shared.toString());
    assertEquals(2, a.waitFor(Duration.ofSeconds(30)), a.stderr());
    assertEquals(List.of("ats-dispatch: invalid setting state_dir: " + open + " is mode 0755 (rwxr-xr-x): group or "
        + "others can reach it; run chmod 700 " + open + ", or choose another directory (a missing one is created 0700)"),
        a.stderrLines());
    assertEquals(2, b.waitFor(Duration.ofSeconds(30)), b.stderr());
    assertEquals(List.of("ats-dispatch: invalid setting keys_dir: " + shared + " is mode 1777 (rwxrwxrwx), a directory "
        + "shared with other users: choose another directory (a missing one is created 0700); never chmod a shared "
        + "directory"), b.stderrLines());
    assertEquals(0755, (int) Files.getAttribute(open, "unix:mode") & 07777);
    assertEquals(01777, (int) Files.getAttribute(shared, "unix:mode") & 07777);
    try (var left = Files.list(open)) {
      assertEquals(0, left.count(), "nothing written into the refused directory");
    }
    assertTrue(!Files.exists(dir.resolve("s")), "nothing started");
  }

  static long create(Http http, String title, String payload) {
    Http.Resp r = http.post("/tasks", "{\"title\":" + Http.json(title) + ",\"channel\":\"ada-dispatch\",\"payload\":"
        + payload + "}");
    assertEquals(201, r.status(), r.text());
    return r.task().path("id").asLong();
  }

  static void awaitCompleted(Http http, long id) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    JsonNode t;
    do {
      t = http.get("/tasks/" + id).task();
      if (t.path("status").asText().equals("completed")) return;
      Thread.sleep(50);
    } while (System.nanoTime() < end);
    throw new AssertionError("task " + id + " not completed: " + t);
  }

  static boolean hasFile(Path d) throws Exception {
    if (!Files.isDirectory(d)) return false;
    try (var l = Files.list(d)) {
      return l.anyMatch(p -> p.toString().endsWith(".json"));
    }
  }
}
