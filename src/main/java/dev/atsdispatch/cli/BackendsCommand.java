package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.exec.ProcessAgentRunner;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ats-dispatch backends}: which agent CLIs are installed (on PATH), their versions, and
 * what this service's preset for each supports. Runs each found CLI's {@code --version} (10 s at
 * most). Exit 0 when at least one backend with a preset is installed, 1 when none is.
 */
@Command(name = "backends", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "List the agent CLIs installed here, their versions and what each preset supports.",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:a backend with a preset is installed", "1:none is"})
public final class BackendsCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A backend: its CLI, whether this service has a preset for it, and what that preset does. */
  record Backend(String name, String program, boolean preset, List<String> supports) {}

  /** Every backend with a preset ({@code agent.preset}), in the order they are listed. */
  static final List<Backend> KNOWN = dev.atsdispatch.exec.Preset.all().stream()
      .map(p -> new Backend(p.name(), p.program(), true, p.supports())).toList();

  @Spec CommandSpec spec;
  @Mixin GlobalOptions global;

  @Option(names = "--json", description = "print one JSON object on one line: backends [{name, preset, supports, "
      + "installed, path, version}]; path and version only when installed") boolean json;

  @Override
  public Integer call() {
    global.apply(LogSetup.Format.PLAIN);
    PrintWriter out = spec.commandLine().getOut();
    Map<String, String> env = System.getenv();
    ArrayNode list = JSON.createArrayNode();
    boolean any = false;
    for (Backend b : KNOWN) {
      ObjectNode o = list.addObject().put("name", b.name()).put("preset", b.preset());
      o.set("supports", JSON.valueToTree(b.supports()));
      Path found;
      try {
        found = ProcessAgentRunner.resolve(b.program(), env, "backends");
      } catch (IOException e) {
        o.put("installed", false);
        continue;
      }
      o.put("installed", true).put("path", found.toString());
      String v = version(found);
      if (v != null) o.put("version", v);
      if (b.preset()) any = true;
    }
    if (json) {
      out.println(JSON.createObjectNode().set("backends", list).toString());
    } else {
      for (var n : list) {
        String state = !n.path("installed").asBoolean() ? "not installed"
            : n.path("version").asText("version unknown") + " at " + n.path("path").asText();
        String preset = n.path("preset").asBoolean() ? "preset: " + String.join(", ", JSON.convertValue(n.path("supports"),
            String[].class)) : "no preset yet (agent.preset = command runs it as any program)";
        out.printf("%-13s %s%n%-13s %s%n", n.path("name").asText(), state, "", preset);
      }
    }
    out.flush();
    return any ? 0 : 1;
  }

  /** The first line {@code program --version} prints, or null when it fails or says nothing in 10 s. */
  static String version(Path program) {
    try {
      Process p = new ProcessBuilder(program.toString(), "--version").redirectErrorStream(true).start();
      p.getOutputStream().close();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      String text = new String(p.getInputStream().readNBytes(4096), StandardCharsets.UTF_8).strip();
      return text.isEmpty() || p.exitValue() != 0 ? null : text.lines().findFirst().orElse(null);
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
