package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.dispatch.Questions;
import dev.atsdispatch.source.TaskKey;
import dev.atsdispatch.time.WireTime;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ats-dispatch questions} and {@code ats-dispatch answer}: the questions agents asked people
 * that wait for an answer, read from the state directory ({@code questions/}), and an answer given
 * to one (a file the running service takes in within about a second, or at its next start). Safe
 * while the service runs: they read, and add a file atomically (the first answer wins).
 */
final class QuestionCommands {
  private static final ObjectMapper M = new ObjectMapper();

  private QuestionCommands() {}

  /** The state directory options both commands share. */
  static final class Where {
    @Option(names = "--config", paramLabel = "FILE",
        description = "TOML settings file to read state_dir from (default: ./ats-dispatch.toml if present)")
    Path config;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "the service's state directory (default: state)")
    String stateDir;

    Path root() {
      SettingsOptions o = new SettingsOptions();
      o.ats.config = config;
      o.service.stateDir = stateDir;
      Settings s = o.loadOrExplain();
      return s == null ? null : s.service().stateDir();
    }
  }

  @Command(name = "questions", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = {"List the questions agents asked that wait for an answer (oldest first).",
          "An encrypted task's question is not shown: it is in its work directory (questions/NNN.question)."})
  static final class List_ implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin GlobalOptions global;
    @Mixin Where where;

    @Option(names = "--json", description = "print one JSON document: {\"questions\": [{task, number, text, encrypted, asked_at, answered}]}")
    boolean json;

    @Override
    public Integer call() {
      global.apply(LogSetup.Format.PLAIN);
      Path root = where.root();
      if (root == null) return 2;
      List<Questions.Open> open = Questions.read(root);
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode doc = M.createObjectNode();
        ArrayNode a = doc.putArray("questions");
        for (Questions.Open q : open) {
          ObjectNode o = a.addObject().put("task", q.key().toString()).put("number", q.number());
          if (q.text() != null) o.put("text", q.text());
          o.put("encrypted", q.encrypted()).put("asked_at", WireTime.format(q.askedAt())).put("answered", q.answered());
        }
        out.println(doc);
        return 0;
      }
      if (open.isEmpty()) {
        out.println("No questions wait for an answer.");
        return 0;
      }
      for (Questions.Open q : open) {
        out.println(q.key().display() + "  question " + q.number() + "  asked " + WireTime.format(q.askedAt())
            + (q.answered() ? "  (answered; the task resumes)" : ""));
        out.println("  " + (q.text() != null ? q.text().replace("\n", "\n  ")
            : "(encrypted task: see its work directory, questions/" + String.format("%03d", q.number()) + ".question)"));
      }
      return 0;
    }
  }

  @Command(name = "answer", mixinStandardHelpOptions = true, versionProvider = Version.class,
      description = {"Answer the question a task waits on; the task resumes with the answer.",
          "The running service takes it in within about a second (a stopped one at its start)."})
  static final class Answer implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin GlobalOptions global;
    @Mixin Where where;

    @Parameters(index = "0", paramLabel = "TASK", description = "the task: an ATS id (123 or #123) or a task key (ats:123)")
    String task;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "TEXT", description = "the answer (several words are joined by spaces)")
    List<String> text;

    @Override
    public Integer call() throws IOException {
      global.apply(LogSetup.Format.PLAIN);
      PrintWriter err = spec.commandLine().getErr();
      TaskKey key;
      try {
        key = LogsCommand.key(task);
      } catch (IllegalArgumentException e) {
        err.println("ats-dispatch: TASK must be an ATS id (123, #123) or a task key (ats:123); got " + task);
        return 2;
      }
      String answer = String.join(" ", text).strip();
      if (answer.isEmpty()) {
        err.println("ats-dispatch: the answer is empty");
        return 2;
      }
      Path root = where.root();
      if (root == null) return 2;
      try {
        Questions.Open q = Questions.give(root, key, answer);
        spec.commandLine().getOut().println("Answered question " + q.number() + " of task " + key.display()
            + "; it resumes with the answer.");
        return 0;
      } catch (Questions.NotAwaiting e) {
        err.println("ats-dispatch: " + e.getMessage());
        return 1;
      }
    }
  }
}
