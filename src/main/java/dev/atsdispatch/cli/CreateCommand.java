package dev.atsdispatch.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.ats.NewTask;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.dispatch.Dependencies;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ats-dispatch create}: creates a task through the configured transport, with its
 * dependencies in {@code payload.depends_on} as the JavaScript version stores them (an array of
 * id strings). Every dependency must exist; otherwise nothing is created.
 */
@Command(name = "create", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Create a task, optionally depending on other tasks.")
public final class CreateCommand implements Callable<Integer> {
  private static final ObjectMapper M = new ObjectMapper();

  @Mixin GlobalOptions global;
  @Mixin AtsOptions options;

  @Parameters(index = "0", paramLabel = "TITLE") String title;
  @Option(names = "--description", paramLabel = "TEXT", description = "the task's description (default: none)")
  String description;
  @Option(names = "--payload", paramLabel = "JSON", description = "a JSON object") String payload;
  @Option(names = "--priority", paramLabel = "1-10", defaultValue = "5",
      description = "the task's priority, higher first (default: ${DEFAULT-VALUE})") int priority;
  @Option(names = "--type", paramLabel = "T", defaultValue = "task",
      description = "the task's type (default: ${DEFAULT-VALUE})") String type;
  @Option(names = "--depends-on", paramLabel = "ID,ID,...", split = ",",
      description = "ids of tasks that must complete first (any channel)") List<String> dependsOn;
  @Option(names = "--json", description = "print the created task as one JSON object: id, title, description, "
      + "status, priority, type, channel, payload, created_at") boolean json;

  @Override
  public Integer call() throws Exception {
    global.apply(LogSetup.Format.PLAIN);
    Settings s = options.loadOrExplain();
    if (s == null) return 2;
    if (priority < 1 || priority > 10) return usage("--priority must be from 1 to 10, got " + priority);
    if (title.isBlank()) return usage("TITLE must not be empty");
    ObjectNode body = M.createObjectNode();
    if (payload != null) {
      JsonNode parsed;
      try {
        parsed = M.readTree(payload);
      } catch (JsonProcessingException e) {
        return usage("--payload is not valid JSON: " + e.getOriginalMessage());
      }
      if (parsed == null || !parsed.isObject()) return usage("--payload must be a JSON object");
      body = (ObjectNode) parsed;
    }
    if (dependsOn != null) {
      ArrayNode ids = M.createArrayNode();
      dependsOn.stream().map(String::trim).filter(x -> !x.isEmpty()).forEach(ids::add);
      body.set("depends_on", ids);
    }
    Dependencies.Parsed deps = Dependencies.parse(body.get("depends_on"), "ats");
    List<Long> depIds = Dependencies.atsIds(body.get("depends_on"));
    if (!deps.invalid().isEmpty()) {
      return usage("not a task id: " + String.join(", ", deps.invalid()));
    }
    try (AtsClient client = Transports.open(s)) {
      List<Long> missing = new ArrayList<>();
      for (long id : depIds) {
        try {
          client.get(id);
        } catch (AtsException e) {
          if (e.kind() != AtsException.Kind.NOT_FOUND) {
            System.err.println("ats-dispatch: cannot verify dependency task #" + id + ": " + e.getMessage());
            return 1;
          }
          missing.add(id);
        }
      }
      if (!missing.isEmpty()) {
        System.err.println("ats-dispatch: dependency " + (missing.size() == 1 ? "task " : "tasks ")
            + missing.stream().map(x -> "#" + x).collect(Collectors.joining(", "))
            + " not found; nothing created");
        return 1;
      }
      Task t;
      try {
        t = client.create(new NewTask(title, description, body.isEmpty() ? null : body, priority,
            s.service().channel(), type));
      } catch (AtsException e) {
        System.err.println("ats-dispatch: create failed: " + e.getMessage());
        return 1;
      }
      if (json) {
        System.out.println(M.writerWithDefaultPrettyPrinter().writeValueAsString(Transports.json(t)));
      } else {
        System.out.println("Created task #" + t.id() + " on channel " + t.channel());
        if (!deps.ids().isEmpty()) {
          System.out.println("Dependencies: " + depIds.stream().map(x -> "#" + x)
              .collect(Collectors.joining(", ")));
        }
      }
      return 0;
    }
  }

  private static int usage(String message) {
    System.err.println("ats-dispatch: " + message);
    return 2;
  }
}
