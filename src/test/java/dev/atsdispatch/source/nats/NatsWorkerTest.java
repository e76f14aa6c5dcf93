package dev.atsdispatch.source.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.dispatch.Service;
import dev.atsdispatch.dispatch.ServiceConfig;
import dev.atsdispatch.exec.ProcessAgentRunner;
import dev.atsdispatch.testing.NatsServer;
import dev.atsdispatch.testing.Wait;
import dev.atsdispatch.time.Clock;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.MessageInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NATS worker end to end: a real nats-server, the service on a {@link NatsSource}, real agent
 * processes, and messages published exactly as agentbus 0.1.0 publishes them (core NATS, its JSON);
 * results read back from the AGENT_RESULTS stream as an agentbus reader reads them.
 */
@Timeout(120)
final class NatsWorkerTest {
  static final ObjectMapper M = new ObjectMapper();
  static final Pattern UUID4 = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  static final Pattern ISO = Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{6})?\\+00:00");

  @TempDir Path dir;
  NatsServer server;
  Connection nc;
  final List<Service> services = new ArrayList<>();
  /** Changes to the next workers' config. */
  java.util.function.Consumer<ServiceConfig.Builder> tweak = b -> { };

  @BeforeEach
  void start() throws Exception {
    server = NatsServer.start(dir);
    nc = Nats.connect(server.url());
  }

  @AfterEach
  void stop() throws Exception {
    for (Service s : services) s.close();
    if (nc != null) nc.close();
    if (server != null) server.close();
  }

  // ---- helpers -------------------------------------------------------------------------------

  Path agent(String name, String body) throws Exception {
    Path p = dir.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    return p;
  }

  void setup(Duration ackWait, int maxDeliver) throws Exception {
    JetStreamSetup.ensure(nc, JetStreamSetup.Consumer.forAgent("code", ackWait, maxDeliver));
  }

  Service worker(String name, Path agent, int concurrency, int maxAttempts) throws Exception {
    return worker(name, agent, concurrency, maxAttempts, Service.Extensions.NONE);
  }

  Service worker(String name, Path agent, int concurrency, int maxAttempts, Service.Extensions ext) throws Exception {
    NatsSource src = new NatsSource("nats", NatsSettings.forAgent(server.url(), "code"), concurrency, Clock.SYSTEM);
    Duration ackWait = src.connect();
    ServiceConfig.Builder b = ServiceConfig.builder();
    b.channel = "agent.code.tasks";
    b.agentCommand = List.of(agent.toString(), "{input}");
    b.stateDir = dir.resolve(name + "-state");
    b.keysDir = dir.resolve(name + "-keys");
    b.grace = Duration.ofMillis(500);
    b.drain = Duration.ofSeconds(1);
    b.lease = ackWait;
    b.concurrency = concurrency;
    b.maxAttempts = maxAttempts;
    tweak.accept(b);
    Service svc = new Service(b.build(), src, new ProcessAgentRunner(Clock.SYSTEM, Duration.ofMillis(50)), Clock.SYSTEM,
        Map.of("PATH", System.getenv("PATH"), "HOME", dir.toString()), ext);
    services.add(svc);
    svc.start();
    return svc;
  }

  /** Publishes as {@code agentbus task publish} does: its JSON, core NATS, flushed. */
  ObjectNode publish(String content, String fmt) throws Exception {
    ObjectNode t = AgentbusPublish.task(content, fmt, "main", "code", null, "chat", UUID.randomUUID());
    nc.publish("agent.code.tasks", AgentbusPublish.bytes(t));
    nc.flush(Duration.ofSeconds(5));
    return t;
  }

  void publishRaw(String body) throws Exception {
    nc.publish("agent.code.tasks", body.getBytes(StandardCharsets.UTF_8));
    nc.flush(Duration.ofSeconds(5));
  }

  /** Every result stored on {@code subject}, oldest first (as agentbus's result get reads them). */
  List<JsonNode> results(String subject) throws Exception {
    JetStreamManagement jsm = nc.jetStreamManagement();
    long last = jsm.getStreamInfo("AGENT_RESULTS").getStreamState().getLastSequence();
    List<JsonNode> out = new ArrayList<>();
    for (long seq = 1; seq <= last; seq++) {
      MessageInfo mi;
      try {
        mi = jsm.getMessage("AGENT_RESULTS", seq);
      } catch (io.nats.client.JetStreamApiException gone) {
        continue;
      }
      if (mi.getSubject().equals(subject)) out.add(M.readTree(mi.getData()));
    }
    return out;
  }

  JsonNode awaitResult(String subject, String taskId) throws Exception {
    return awaitResult(subject, taskId, Duration.ofSeconds(30));
  }

  JsonNode awaitResult(String subject, String taskId, Duration within) throws Exception {
    JsonNode[] found = new JsonNode[1];
    Wait.until("a result for " + taskId + " on " + subject, within, () -> {
      try {
        for (JsonNode r : results(subject)) {
          if (r.path("task").path("id").asText().equals(taskId)) {
            found[0] = r;
            return true;
          }
        }
        return false;
      } catch (Exception e) {
        return false;
      }
    });
    return found[0];
  }

  ConsumerInfo consumer() throws Exception {
    return nc.jetStreamManagement().getConsumerInfo("AGENT_TASKS", "code");
  }

  void awaitSettled() throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      ConsumerInfo ci = null;
      try {
        ci = consumer();
        if (ci.getNumPending() == 0 && ci.getNumAckPending() == 0) return;
      } catch (Exception e) {
        // reconnecting
      }
      if (System.nanoTime() > end) {
        StringBuilder held = new StringBuilder();
        for (Service s : services) held.append(' ').append(((NatsSource) s.source()).heldNow());
        throw new AssertionError("task messages not settled: " + (ci == null ? "no consumer info" : "pending "
            + ci.getNumPending() + ", ack pending " + ci.getNumAckPending() + ", redelivered " + ci.getRedelivered())
            + "; held by the workers:" + held);
      }
      Thread.sleep(100);
    }
  }

  // ---- tests ---------------------------------------------------------------------------------

  String cli(String... args) {
    java.io.StringWriter out = new java.io.StringWriter();
    picocli.CommandLine cl = dev.atsdispatch.cli.Main.commandLine();
    cl.setOut(new java.io.PrintWriter(out, true));
    cl.setErr(new java.io.PrintWriter(out, true));
    assertEquals(0, cl.execute(args), out.toString());
    return out.toString();
  }

  /**
   * Questions to humans on NATS: the question goes to the result subject as a result with status
   * needs_input (not final), the message is given back with no strike, an answer from
   * {@code ats-dispatch answer} is taken up at the next redelivery and the final result follows.
   */
  @Test
  void aQuestionGoesOutAsNeedsInputAndTheAnswerFromTheCommandLineResumesTheTask() throws Exception {
    setup(Duration.ofSeconds(30), 10);
    tweak = b -> b.questionRecheck = Duration.ofSeconds(1); // redeliveries while it waits, a second apart
    Path agent = agent("asks.sh", String.join("\n",
        "if [ -n \"$ATS_ANSWER\" ]; then echo \"done with $ATS_ANSWER\"; exit 0; fi",
        "mkdir -p \"$ATS_QUESTIONS_DIR\" && echo 'Which branch?' > \"$ATS_QUESTIONS_DIR/001.question\""));
    Service w = worker("w1", agent, 1, 3);
    ObjectNode t = publish("merge the release", "text");
    String id = t.get("id").asText();

    JsonNode asked = awaitResult("agent.main.results", id);
    assertEquals("needs_input", asked.path("status").asText(), asked.toString());
    assertEquals("Question 1: Which branch?", asked.path("result").asText(), asked.toString());
    String state = dir.resolve("w1-state").toString();
    JsonNode listed = M.readTree(cli("questions", "--json", "--state-dir", state));
    JsonNode q = listed.path("questions").get(0);
    assertEquals("Which branch?", q.path("text").asText(), listed.toString());
    assertEquals(1, w.engine().statusNow().path("awaiting_answer").asInt());
    // while it waits the message comes back and is given back again: still one question, no other result
    org.awaitility.Awaitility.await("a redelivery while it waits").atMost(Duration.ofSeconds(20))
        .until(() -> consumer().getRedelivered() > 0);
    assertEquals(1, results("agent.main.results").size());

    cli("answer", q.path("task").asText(), "main", "--state-dir", state);
    org.awaitility.Awaitility.await("the final result").atMost(Duration.ofSeconds(30))
        .until(() -> results("agent.main.results").size() == 2);
    JsonNode done = results("agent.main.results").get(1);
    assertEquals("completed", done.path("status").asText(), done.toString());
    assertEquals("done with main", done.path("result").asText(), done.toString());
    assertEquals(id, done.path("task").path("id").asText());
    dev.atsdispatch.source.TaskKey key = dev.atsdispatch.source.TaskKey.parse(q.path("task").asText());
    assertEquals(0, new dev.atsdispatch.dispatch.StateDir(dir.resolve("w1-state")).ledger(key).summary().strikes(),
        "waiting cost a strike");
    assertEquals(0, w.engine().statusNow().path("awaiting_answer").asInt());
    awaitSettled();
  }

  @Test
  void anAgentbusTaskGetsTheResultAnAgentbusReaderDecodes() throws Exception {
    setup(Duration.ofSeconds(30), 10);
    Path prompt = dir.resolve("prompt.txt");
    worker("w1", agent("agent.sh", "printf '%s' \"$1\" > " + prompt + "\nprintf '\\n  hello from the agent \\n\\n'"), 2, 3);
    ObjectNode t = publish("say hello", "text");

    JsonNode r = awaitResult("agent.main.results", t.get("id").asText());
    assertEquals(List.of("id", "type", "status", "task", "completed_at", "result"), fields(r));
    assertTrue(UUID4.matcher(r.get("id").asText()).matches(), r.toString());
    assertEquals("task.result", r.get("type").asText());
    assertEquals("completed", r.get("status").asText());
    assertEquals("hello from the agent", r.get("result").asText());
    assertTrue(ISO.matcher(r.get("completed_at").asText()).matches(), r.get("completed_at").asText());
    // the task, whole, in as_dict's order, with created_at null as the publisher sets none
    assertEquals(List.of("id", "from", "to", "reply_to", "type", "task_type", "payload", "created_at"), fields(r.get("task")));
    assertEquals("agent-main", r.get("task").get("from").asText());
    assertEquals(t.get("payload"), r.get("task").get("payload"));
    assertTrue(r.get("task").get("created_at").isNull());

    // the agent got agentbus's prompt as its one argument
    AgentbusTask parsed = ((AgentbusTask.Ok) AgentbusTask.parse(AgentbusPublish.bytes(t), 1 << 20)).task();
    assertEquals(AgentbusWire.prompt("code", parsed, ""), Files.readString(prompt));
    awaitSettled();
  }

  /**
   * The NaCl envelope of encrypt-task (made by the real tweetnacl) as a json payload's content:
   * the agent reads the opened task in agentbus's prompt, the result carries the answer sealed to
   * the sender and no plaintext, an unknown sender's task fails with the decryption reason, and an
   * opened task that names dependencies is refused (JetStream cannot say when they are done).
   */
  @Test
  void anEncryptedTaskRunsOpenedAndItsAnswerGoesBackSealedToTheSender() throws Exception {
    String canary = "okapi-canary-5521";
    setup(Duration.ofSeconds(30), 10);
    dev.atsdispatch.crypto.Keyring keyring = new dev.atsdispatch.crypto.Keyring(dir.resolve("w1-keys"));
    dev.atsdispatch.crypto.KeyPair ada = keyring.ensureDispatchKeyPair();
    JsonNode alice = dev.atsdispatch.testing.NaclJs.run("keypair");
    keyring.addTrusted("alice", alice.get("publicKey").asText());
    JsonNode mallory = dev.atsdispatch.testing.NaclJs.run("keypair");
    Path prompt = dir.resolve("prompt.txt");
    worker("w1", agent("agent.sh", "printf '%s' \"$1\" > " + prompt + "\necho \"answer for $1\""), 2, 3,
        new Service.Extensions(st -> dev.atsdispatch.crypto.CryptoIntake.forState(dir.resolve("w1-keys"), st),
            Service.Extensions.NONE.observer()));

    ObjectNode inner = M.createObjectNode().put("title", "the " + canary + " job").put("description", "do " + canary);
    inner.putObject("payload").put("detail", canary);
    ObjectNode sealed = publish(envelope(inner, ada.publicKey(), alice, "alice").toString(), "json");
    ObjectNode stranger = publish(envelope(inner, ada.publicKey(), mallory, "alice").toString(), "json");
    ObjectNode withDeps = inner.deepCopy();
    ((ObjectNode) withDeps.get("payload")).putArray("depends_on").add("task-1");
    ObjectNode waits = publish(envelope(withDeps, ada.publicKey(), alice, "alice").toString(), "json");

    JsonNode r = awaitResult("agent.main.results", sealed.get("id").asText());
    assertEquals("completed", r.get("status").asText(), r.toString());
    assertEquals(AgentbusWire.SEALED_RESULT, r.get("result").asText());
    assertTrue(r.get("response_encrypted").asBoolean(), r.toString());
    JsonNode er = r.get("encrypted_response");
    String answer = dev.atsdispatch.testing.NaclJs.run("open", M.createObjectNode().put("nonce", er.path("nonce").asText())
        .put("ciphertext", er.path("ciphertext").asText()).put("publicKey", ada.publicKey())
        .put("secretKey", alice.get("secretKey").asText())).path("plaintext").asText();
    assertTrue(answer.startsWith("answer for You are code."), answer);
    assertEquals(sealed.get("payload"), r.get("task").get("payload")); // the envelope echoed, as it came
    // the agent read the opened task where the envelope was, and nothing of the envelope
    String p = Files.readString(prompt);
    assertTrue(p.contains("\"content\": {\n      \"title\": \"the " + canary + " job\",\n      \"description\": \"do " + canary
        + "\",\n      \"payload\": {\n        \"detail\": \"" + canary + "\""), p);
    assertFalse(p.contains("ciphertext") || p.contains("\"sender\""), p);

    JsonNode no = awaitResult("agent.main.results", stranger.get("id").asText());
    assertEquals("failed", no.get("status").asText(), no.toString());
    assertTrue(no.get("error").asText().startsWith("Decryption failed: "), no.toString());
    JsonNode blocked = awaitResult("agent.main.results", waits.get("id").asText());
    assertEquals("failed", blocked.get("status").asText(), blocked.toString());
    assertEquals("depends_on cannot be honoured: source nats cannot look tasks up by id", blocked.get("error").asText());
    awaitSettled();
    for (JsonNode x : results("agent.main.results")) assertFalse(x.toString().contains(canary), x.toString());
  }

  /** Telegram and the callback of a {@code callback_url} in a JSON payload's content, as for an ATS task. */
  @Test
  void aCallbackUrlInTheContentGetsTheResultAndTelegramHearsOfIt() throws Exception {
    try (okhttp3.mockwebserver.MockWebServer hooks = new okhttp3.mockwebserver.MockWebServer();
        okhttp3.mockwebserver.MockWebServer telegram = new okhttp3.mockwebserver.MockWebServer()) {
      hooks.enqueue(new okhttp3.mockwebserver.MockResponse().setBody("ok"));
      for (int i = 0; i < 5; i++) telegram.enqueue(new okhttp3.mockwebserver.MockResponse().setBody("{\"ok\":true}"));
      setup(Duration.ofSeconds(30), 10);
      dev.atsdispatch.notify.NotifyConfig ncfg = dev.atsdispatch.notify.NotifyConfig.builder()
          .telegram(dev.atsdispatch.testing.TestSecrets.botToken(), "42", telegram.url("/").toString().replaceAll("/$", ""))
          .callbackAllow(List.of("127.0.0.1/32")).build();
      worker("w1", agent("agent.sh", "echo 'reviewed'"), 2, 3,
          new Service.Extensions(st -> dev.atsdispatch.dispatch.Intake.PLAIN, dev.atsdispatch.notify.TaskNotifier.factory(ncfg)));
      ObjectNode t = publish("{\"callback_url\": \"" + hooks.url("/cb") + "\", \"ask\": \"review\"}", "json");

      JsonNode r = awaitResult("agent.main.results", t.get("id").asText());
      assertEquals("completed", r.get("status").asText(), r.toString());
      okhttp3.mockwebserver.RecordedRequest cb = hooks.takeRequest(10, java.util.concurrent.TimeUnit.SECONDS);
      assertTrue(cb != null, "no callback");
      JsonNode body = M.readTree(cb.getBody().readUtf8());
      assertEquals("completed", body.path("status").asText(), body.toString());
      assertEquals("reviewed", body.path("result").asText(), body.toString());
      assertEquals(t.get("id").asText(), body.path("task_id").asText(), body.toString());
      List<String> texts = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        okhttp3.mockwebserver.RecordedRequest m = telegram.takeRequest(10, java.util.concurrent.TimeUnit.SECONDS);
        assertTrue(m != null, "Telegram heard only " + texts);
        texts.add(M.readTree(m.getBody().readUtf8()).path("text").asText());
      }
      assertTrue(texts.stream().anyMatch(x -> x.startsWith("✅ Done: chat — reviewed")), texts.toString());
      awaitSettled();
    }
  }

  /** encrypt-task's envelope of {@code task} from {@code sender} (its keypair), sealed to {@code ada}. */
  static JsonNode envelope(ObjectNode task, String ada, JsonNode sender, String name) {
    return dev.atsdispatch.testing.NaclJs.run("envelope", M.createObjectNode().<ObjectNode>set("task", task)
        .put("adaKey", ada).put("secretKey", sender.get("secretKey").asText()).put("sender", name));
  }

  @Test
  void aFailedAgentAndAnAnswerThatAsksForApproval() throws Exception {
    setup(Duration.ofSeconds(30), 10);
    worker("w1", agent("agent.sh", """
        case "$1" in
          *approve*) echo '{"status": "needs_approval", "operation": "rm -rf /srv/data"}' ;;
          *) echo 'it broke' >&2; exit 3 ;;
        esac"""), 2, 3);
    ObjectNode bad = publish("this fails", "text");
    ObjectNode ask = publish("{\"ask\": \"approve a deletion\"}", "json");

    JsonNode failed = awaitResult("agent.main.results", bad.get("id").asText());
    assertEquals("failed", failed.get("status").asText());
    assertEquals(List.of("id", "type", "status", "task", "completed_at", "error"), fields(failed));
    assertTrue(failed.get("error").asText().contains("exited with code 3"), failed.toString());
    assertTrue(failed.get("error").asText().contains("it broke"), failed.toString());

    JsonNode approval = awaitResult("agent.main.results", ask.get("id").asText());
    assertEquals("needs_approval", approval.get("status").asText());
    assertEquals("{\"status\": \"needs_approval\", \"operation\": \"rm -rf /srv/data\"}", approval.get("result").asText());
    awaitSettled();
  }

  @Test
  void messagesThatAreNotTasksAreTerminatedWithAFailedResultThatSaysWhy() throws Exception {
    setup(Duration.ofSeconds(30), 10);
    Path ran = dir.resolve("ran");
    worker("w1", agent("agent.sh", "echo run >> " + ran + "\necho ok"), 2, 3);
    publishRaw("not json at all");
    publishRaw("{\"id\":\"task-x\",\"from\":\"agent-doc\",\"to\":\"agent-code\",\"type\":\"task.request\"}");
    publishRaw("{\"id\":\"task-y\",\"from\":\"agent-doc\",\"to\":\"agent-code\",\"type\":\"task.request\",\"task_type\":\"chat\",\"payload\":[1]}");
    ObjectNode good = publish("after the bad ones", "text");

    awaitResult("agent.main.results", good.get("id").asText());
    Wait.until("three failed results", Duration.ofSeconds(20), () -> {
      try {
        return results("agent.main.results").size() + results("agent.doc.results").size() == 4;
      } catch (Exception e) {
        return false;
      }
    });
    JsonNode notJson = results("agent.main.results").stream().filter(r -> r.get("status").asText().equals("failed"))
        .findFirst().orElseThrow();
    assertEquals("invalid task message: task message is not valid JSON", notJson.get("error").asText());
    assertTrue(notJson.get("task").isNull());
    List<JsonNode> doc = results("agent.doc.results");
    assertEquals(2, doc.size(), doc.toString());
    assertEquals("invalid task message: missing required fields: task_type", doc.get(0).get("error").asText());
    assertEquals("task-x", doc.get(0).get("task").get("id").asText());
    assertEquals("invalid task message: payload must be an object", doc.get(1).get("error").asText());
    awaitSettled(); // terminated: never delivered again
    assertEquals(1, Files.readAllLines(ran).size(), "only the real task ran");
  }

  /** Runs a helper that reads the consumer; absent when the stream is not there yet. */
  static List<String> fields(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  @Test
  @Timeout(300)
  void aTwoMinuteTaskUnderATenSecondAckWaitRunsOnceWithASecondWorkerOnTheDurable() throws Exception {
    setup(Duration.ofSeconds(10), 10);
    Path runs = dir.resolve("runs");
    Path agent = agent("agent.sh", "echo run >> " + runs + "\nsleep 120\necho finished");
    worker("w1", agent, 1, 3);
    ObjectNode t = publish("a long one", "text");
    Wait.until("the first run", Duration.ofSeconds(10), () -> Files.exists(runs));
    worker("w2", agent, 1, 3); // shares the durable: it would take a redelivery at once
    JsonNode r = awaitResult("agent.main.results", t.get("id").asText(), Duration.ofSeconds(180));
    assertEquals("completed", r.get("status").asText());
    awaitSettled();
    assertEquals(1, Files.readAllLines(runs).size(), "ran once");
    assertEquals(1, results("agent.main.results").size());
    assertEquals(1, consumer().getDelivered().getConsumerSequence(), "delivered once: never redelivered");
  }

  @Test
  void gracefulShutdownGivesTheTaskBackAtOnceWithoutAStrike() throws Exception {
    setup(Duration.ofSeconds(30), 10);
    Path runs = dir.resolve("runs");
    Path agent = agent("agent.sh", "echo run >> " + runs + "\nsleep 30\necho finished");
    Service w1 = worker("w1", agent, 1, 1); // one attempt only: a strike would poison it
    ObjectNode t = publish("interrupted", "text");
    Wait.until("the first run", Duration.ofSeconds(10), () -> Files.exists(runs));
    w1.close(); // drain 1 s, then the agent is stopped and the message is given back (nak)
    Path quick = agent("quick.sh", "echo run >> " + runs + "\necho done");
    worker("w2", quick, 1, 1);
    JsonNode r = awaitResult("agent.main.results", t.get("id").asText());
    assertEquals("completed", r.get("status").asText(), r.toString());
    assertEquals(2, Files.readAllLines(runs).size());
    assertFalse(r.has("error"));
  }
}
