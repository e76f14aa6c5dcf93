package dev.atsdispatch.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atsdispatch.dispatch.StateDir;
import dev.atsdispatch.source.TaskKey;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's signature verification examples (Node.js and Python), run as they are printed against
 * a real signed callback: they accept it, and refuse a changed body or another secret.
 */
final class SignatureReadmeTest {
  @TempDir Path dir;

  @Test
  void readmeExamplesVerifyARealCallback() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    String js = block(readme, "js");
    String py = block(readme, "python");
    Path jsFile = dir.resolve("verify.js");
    Files.writeString(jsFile, js + "\nconst fs = require('fs');\n"
        + "const [secret, header, file] = process.argv.slice(2);\n"
        + "process.stdout.write(String(verifyAtsDispatch(secret, header, fs.readFileSync(file))));\n");
    Path pyFile = dir.resolve("verify.py");
    Files.writeString(pyFile, py + "\nimport sys\n"
        + "print(str(verify_ats_dispatch(sys.argv[1], sys.argv[2], open(sys.argv[3], 'rb').read())).lower(), end='')\n");

    MockWebServer server = new MockWebServer();
    server.start(InetAddress.getByName("127.0.0.1"), 0);
    server.enqueue(new MockResponse());
    NotifyConfig cfg = NotifyConfig.builder().callbackSecret("whsec_Readme-1").callbackAllow(List.of("127.0.0.1/32"))
        .timeouts(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(3)).build();
    RecordedRequest r;
    try (Callbacks cb = Callbacks.builder(cfg, new StateDir(dir.resolve("state")).outbox("callbacks")).build()) {
      cb.enqueue(TaskKey.of("ats", 9), "http://127.0.0.1:" + server.getPort() + "/", "completed", "ünïcode <ok> 😀", Instant.now(), 1);
      r = server.takeRequest(5, TimeUnit.SECONDS);
      assertNotNull(r);
    } finally {
      server.shutdown();
    }
    String header = r.getHeader(Callbacks.SIGNATURE_HEADER);
    Path body = dir.resolve("body");
    Files.write(body, r.getBody().readByteArray());
    Path tampered = dir.resolve("tampered");
    Files.writeString(tampered, Files.readString(body).replace("\"task_id\":9", "\"task_id\":8"));
    assertTrue(!Files.readString(tampered).equals(Files.readString(body)));

    for (List<String> cmd : List.of(List.of("node", jsFile.toString()), List.of("python3", pyFile.toString()))) {
      assertEquals("true", run(cmd, "whsec_Readme-1", header, body), cmd + " refused a genuine callback");
      assertEquals("false", run(cmd, "whsec_Readme-1", header, tampered), cmd + " accepted a changed body");
      assertEquals("false", run(cmd, "another-secret", header, body), cmd + " accepted another secret");
    }
  }

  static String block(String readme, String lang) {
    int section = readme.indexOf("### Notifications");
    assertTrue(section >= 0, "README has no Notifications section");
    Matcher m = Pattern.compile("```" + lang + "\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertTrue(m.find(section), "README has no " + lang + " verification example");
    return m.group(1);
  }

  static String run(List<String> cmd, String secret, String header, Path body) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(cmd);
    argv.addAll(List.of(secret, header, body.toString()));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    assertTrue(p.waitFor(20, TimeUnit.SECONDS), cmd + " did not finish");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertEquals(0, p.exitValue(), cmd + " failed: " + out);
    return out;
  }
}
