package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The command line explains itself: every option of every command has a description, each command
 * shows only the options it uses; completion is generated.
 */
final class HelpTextTest {
  /** The flags of what only the service reads: run shows them, admin commands do not. */
  static final List<String> SERVICE_ONLY = List.of("--agent", "--concurrency", "--lease", "--state-dir",
      "--keys-dir", "--state-retention", "--embedded", "--demo");

  /** The flags of what reaches ATS: run and every command that calls ATS show them. */
  static final List<String> ATS = List.of("--config", "--transport", "--channel", "--ats-bin", "--url",
      "--org", "--project", "--actor-type", "--actor-id", "--actor-name");

  /** Commands that read one of those settings themselves, and the flags they take for it. */
  static final Map<String, Set<String>> OWN_USE = Map.ofEntries(
      Map.entry("run", Set.copyOf(SERVICE_ONLY)),
      Map.entry("config show", Set.of("--agent", "--concurrency", "--lease", "--state-dir", "--keys-dir",
          "--state-retention")),
      Map.entry("logs", Set.of("--state-dir", "--keys-dir")),
      Map.entry("questions", Set.of("--state-dir")), // both read the questions in the state directory
      Map.entry("answer", Set.of("--state-dir")),
      Map.entry("keygen", Set.of("--keys-dir")), Map.entry("add-key", Set.of("--keys-dir")),
      Map.entry("remove-key", Set.of("--keys-dir")), Map.entry("list-keys", Set.of("--keys-dir")),
      Map.entry("pending", Set.of("--keys-dir")), Map.entry("approve", Set.of("--keys-dir")),
      Map.entry("reject", Set.of("--keys-dir")), Map.entry("config", Set.of("--keys-dir")),
      // runs the service
      Map.entry("agentbus worker", Set.of("--state-dir", "--keys-dir", "--concurrency")),
      // agentbus's agent id, not the agent command
      Map.entry("agentbus setup", Set.of("--agent")), Map.entry("agentbus results", Set.of("--agent")));

  static String help(String... command) {
    CommandLine cl = Main.commandLine();
    for (String c : command) cl = cl.getSubcommands().get(c);
    return cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
  }

  static boolean mentions(String help, String option) {
    return Pattern.compile("(?<![\\w-])" + Pattern.quote(option) + "(?![\\w-])").matcher(help).find();
  }

  /** A command's option, by name. */
  static CommandLine.Model.OptionSpec option(String command, String name) {
    CommandLine cl = Main.commandLine();
    for (String c : command.split(" ")) cl = cl.getSubcommands().get(c);
    return cl.getCommandSpec().findOption(name);
  }

  /**
   * The fields of a command's {@code --json} document that the option's description does not
   * name: the document's keys (its elements' if it is an array) and those of objects in its arrays.
   */
  static List<String> undocumented(JsonNode doc, String command) {
    String d = String.join(" ", option(command, "--json").description());
    Iterable<JsonNode> tops = doc.isArray() ? doc : List.of(doc);
    List<JsonNode> objects = new ArrayList<>();
    for (JsonNode top : tops) {
      objects.add(top);
      top.forEach(v -> {
        if (v.isArray()) v.forEach(objects::add);
      });
    }
    List<String> missing = new ArrayList<>();
    for (JsonNode o : objects) {
      o.fieldNames().forEachRemaining(f -> {
        if (!mentions(d, f) && !missing.contains(command + " " + f)) missing.add(command + " " + f);
      });
    }
    return missing;
  }

  static void commands(CommandLine cl, Map<String, String> helps) {
    for (CommandLine sub : cl.getSubcommands().values()) {
      String name = sub.getCommandSpec().qualifiedName(" ").substring("ats-dispatch ".length());
      helps.put(name, sub.getUsageMessage(CommandLine.Help.Ansi.OFF));
      commands(sub, helps);
    }
  }

  static void walk(CommandLine cl, List<String> missing) {
    for (CommandLine.Model.OptionSpec o : cl.getCommandSpec().options()) {
      String d = String.join(" ", o.description()).strip();
      if (d.isEmpty()) missing.add(cl.getCommandSpec().qualifiedName() + " " + o.longestName());
    }
    for (CommandLine sub : cl.getSubcommands().values()) walk(sub, missing);
  }

  @Test
  void everyOptionOfEveryCommandHasADescription() {
    List<String> missing = new ArrayList<>();
    walk(Main.commandLine(), missing);
    assertEquals(List.of(), missing);
  }

  @Test
  void shellCompletionIsGenerated() {
    StringWriter out = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    assertEquals(0, cl.execute("generate-completion"));
    assertTrue(out.toString().contains("ats-dispatch") && out.toString().contains("complete"), out.toString().substring(0, 200));
  }

  @Test
  void createHelpShowsWhatReachesAtsAndNoServiceSetting() {
    String create = help("create");
    for (String o : SERVICE_ONLY) assertFalse(mentions(create, o), "create --help shows " + o + ":\n" + create);
    for (String o : ATS) assertTrue(mentions(create, o), "create --help lacks " + o + ":\n" + create);
    for (String o : ATS) assertTrue(mentions(help("deps"), o), "deps --help lacks " + o);
  }

  @Test
  void noCommandButRunShowsTheServicesSettingsItDoesNotReadItself() {
    Map<String, String> helps = new LinkedHashMap<>();
    commands(Main.commandLine(), helps);
    assertTrue(helps.keySet().containsAll(List.of("create", "deps", "status", "logs", "keygen", "approve",
        "list-keys", "backends", "config show", "agentbus worker")), helps.keySet().toString());
    List<String> shown = new ArrayList<>();
    helps.forEach((command, text) -> {
      for (String o : SERVICE_ONLY) {
        if (mentions(text, o) && !OWN_USE.getOrDefault(command, Set.of()).contains(o)) shown.add(command + " " + o);
      }
    });
    assertEquals(List.of(), shown);
  }

  @Test
  void runAndConfigShowShowEverySetting() {
    String run = help("run");
    for (String o : SERVICE_ONLY) assertTrue(mentions(run, o), "run --help lacks " + o);
    for (String o : ATS) assertTrue(mentions(run, o), "run --help lacks " + o);
    String show = help("config", "show");
    for (String o : OWN_USE.get("config show")) assertTrue(mentions(show, o), "config show --help lacks " + o);
    for (String o : ATS) assertTrue(mentions(show, o), "config show --help lacks " + o);
  }

  @Test
  void anAdminCommandRefusesAServiceFlagRatherThanIgnoringIt() {
    for (String[] args : List.of(new String[] {"create", "t", "--agent", "cat"},
        new String[] {"deps", "--state-dir", "/tmp/x"}, new String[] {"create", "t", "--concurrency", "2"})) {
      StringWriter err = new StringWriter();
      CommandLine cl = Main.commandLine();
      cl.setErr(new PrintWriter(err, true));
      assertEquals(2, cl.execute(args), String.join(" ", args));
      assertTrue(err.toString().contains("Unknown option"), err.toString());
    }
  }

  @Test
  void everyCommandWithJsonOutputIsInTheReadmesJsonSection() throws Exception {
    String readme = java.nio.file.Files.readString(java.nio.file.Path.of("README.md"));
    int start = readme.indexOf("### JSON output of the commands");
    assertTrue(start >= 0, "README lacks its JSON section");
    int end = readme.indexOf("\n#", start + 1);
    String section = readme.substring(start, end < 0 ? readme.length() : end);
    Map<String, String> helps = new LinkedHashMap<>();
    commands(Main.commandLine(), helps);
    List<String> withJson = new ArrayList<>();
    for (String c : helps.keySet()) if (option(c, "--json") != null) withJson.add(c);
    assertTrue(withJson.containsAll(List.of("create", "deps", "status", "list-keys", "pending", "backends",
        "config show")), withJson.toString());
    List<String> rows = new ArrayList<>();
    Pattern.compile("^\\| `([a-z -]+) --json` \\|", Pattern.MULTILINE).matcher(section).results()
        .forEach(m -> rows.add(m.group(1)));
    assertEquals(withJson.stream().sorted().toList(), rows.stream().sorted().toList(), "README's rows");
  }
}
