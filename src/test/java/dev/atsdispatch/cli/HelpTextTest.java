package dev.atsdispatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line explains itself: every option of every command has a description; completion is generated. */
final class HelpTextTest {
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
}
