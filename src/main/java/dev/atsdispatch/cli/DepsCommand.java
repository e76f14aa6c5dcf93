package dev.atsdispatch.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.ats.AtsClient;
import dev.atsdispatch.ats.AtsException;
import dev.atsdispatch.ats.Task;
import dev.atsdispatch.ats.TaskPage;
import dev.atsdispatch.ats.TaskQuery;
import dev.atsdispatch.source.TaskStatus;
import dev.atsdispatch.dispatch.Dependencies;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ats-dispatch deps}: the channel's dependency graph as a tree, with the JavaScript
 * version's status icons. Dependencies outside the listing (other channels, other statuses) are
 * read by id; only a 404 shows as not found. Tasks on a dependency cycle are marked.
 */
@Command(name = "deps", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "Show the dependency graph of the channel's tasks.")
public final class DepsCommand implements Callable<Integer> {
  private static final ObjectMapper M = new ObjectMapper();
  private static final int PAGE = 500;

  @Mixin GlobalOptions global;
  @Mixin AtsOptions options;

  @Option(names = "--task", paramLabel = "ID", description = "only this task (any channel)") Long taskId;
  @Option(names = "--status", paramLabel = "S|all", defaultValue = "all",
      description = "only tasks with this status (default: all)") String status;
  @Option(names = "--json", description = "print one JSON object {tasks: [...]}: each task shown with id, title, "
      + "description, status, priority, type, channel, payload, created_at (as create --json), depends_on_tasks "
      + "[{id, found, title, status, channel}] and, on a cycle, cycle [ids]") boolean json;

  /** A dependency as shown: the task, or null when ATS answered 404. */
  private record Dep(long id, Task task) {}

  @Override
  public Integer call() throws Exception {
    global.apply(LogSetup.Format.PLAIN);
    Settings s = options.loadOrExplain();
    if (s == null) return 2;
    Set<TaskStatus> statuses = null;
    if (!status.equals("all")) {
      TaskStatus st = TaskStatus.fromWire(status).orElse(null);
      if (st == null) {
        System.err.println("ats-dispatch: --status must be one of all, " + TaskStatus.wireNames() + "; got " + status);
        return 2;
      }
      statuses = Set.of(st);
    }
    try (AtsClient client = Transports.open(s)) {
      Map<Long, Task> byId = new LinkedHashMap<>();
      List<Task> shown = new ArrayList<>();
      if (taskId != null) {
        Task t;
        try {
          t = client.get(taskId);
        } catch (AtsException e) {
          System.err.println("ats-dispatch: task #" + taskId + ": " + e.getMessage());
          return 1;
        }
        byId.put(t.id(), t);
        shown.add(t);
      } else {
        for (int offset = 0; ; offset += PAGE) {
          TaskPage page = client.list(new TaskQuery(statuses, s.service().channel(), PAGE, offset));
          for (Task t : page.tasks()) {
            byId.put(t.id(), t);
            if (!deps(t).isEmpty()) shown.add(t);
          }
          if (page.tasks().size() < PAGE || offset + PAGE >= page.count()) break;
        }
      }
      Map<Long, Dep> resolved = new HashMap<>();
      for (Task t : shown) {
        for (long d : deps(t)) resolved.computeIfAbsent(d, id -> new Dep(id, lookUp(client, byId, id)));
      }
      Map<Long, List<Long>> cycles = cycles(shown, byId, client);
      if (json) {
        ObjectNode root = M.createObjectNode();
        ArrayNode tasks = root.putArray("tasks");
        for (Task t : shown) {
          ObjectNode n = Transports.json(t);
          ArrayNode ds = n.putArray("depends_on_tasks");
          for (long d : deps(t)) {
            Dep dep = resolved.get(d);
            ObjectNode dn = ds.addObject().put("id", d).put("found", dep.task() != null);
            if (dep.task() != null) {
              dn.put("title", dep.task().title()).put("status", dep.task().status().wire())
                  .put("channel", dep.task().channel());
            }
          }
          List<Long> cycle = cycles.get(t.id());
          if (cycle != null) cycle.forEach(n.putArray("cycle")::add);
          tasks.add(n);
        }
        System.out.println(M.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        return 0;
      }
      if (shown.isEmpty() || (taskId != null && deps(shown.get(0)).isEmpty())) {
        System.out.println(taskId != null ? "Task #" + taskId + " has no dependencies."
            : "No tasks with dependencies found.");
        return 0;
      }
      System.out.println("Dependency Graph:");
      for (Task t : shown) {
        List<Long> cycle = cycles.get(t.id());
        System.out.println("  " + line(t, s.service().channel()) + (cycle == null ? ""
            : "  ⟲ cycle: " + cycle.stream().map(x -> "#" + x).collect(Collectors.joining(" → "))));
        List<Long> ds = deps(t);
        for (int i = 0; i < ds.size(); i++) {
          Dep dep = resolved.get(ds.get(i));
          String branch = i == ds.size() - 1 ? "└─" : "├─";
          System.out.println("    " + branch + " depends on " + (dep.task() == null
              ? "? #" + dep.id() + " (not found)" : line(dep.task(), s.service().channel())));
        }
      }
      return 0;
    } catch (AtsException e) {
      System.err.println("ats-dispatch: " + e.getMessage());
      return 1;
    }
  }

  private static List<Long> deps(Task t) {
    return Dependencies.atsIds(t.payload().get("depends_on"));
  }

  /** A task outside the listing, read by id; null only for a 404 (other errors propagate). */
  private static Task lookUp(AtsClient client, Map<Long, Task> byId, long id) {
    Task t = byId.get(id);
    if (t != null) return t;
    try {
      t = client.get(id);
      byId.put(id, t);
      return t;
    } catch (AtsException e) {
      if (e.kind() == AtsException.Kind.NOT_FOUND) return null;
      throw e;
    }
  }

  /** For each shown task on a cycle, the cycle as an id path from it back to itself. */
  private static Map<Long, List<Long>> cycles(List<Task> shown, Map<Long, Task> byId, AtsClient client) {
    Map<Long, List<Long>> out = new HashMap<>();
    for (Task t : shown) {
      List<Long> path = new ArrayList<>();
      path.add(t.id());
      if (walk(t.id(), t.id(), path, byId, client, new java.util.HashSet<>(), 0)) out.put(t.id(), path);
    }
    return out;
  }

  private static boolean walk(long start, long at, List<Long> path, Map<Long, Task> byId,
      AtsClient client, Set<Long> seen, int depth) {
    if (depth > 1000 || !seen.add(at)) return false;
    Task t = at == start ? byId.get(start) : lookUp(client, byId, at);
    if (t == null) return false;
    for (long next : deps(t)) {
      path.add(next);
      if (next == start) return true;
      if (walk(start, next, path, byId, client, seen, depth + 1)) return true;
      path.remove(path.size() - 1);
    }
    return false;
  }

  private static String line(Task t, String channel) {
    return icon(t.status()) + " #" + t.id() + " " + t.title() + " [" + t.status().wire() + "]"
        + (channel.equals(t.channel()) ? "" : " (channel " + t.channel() + ")");
  }

  static String icon(TaskStatus s) {
    return switch (s) {
      case PENDING -> "○";
      case IN_PROGRESS -> "◑";
      case COMPLETED -> "●";
      case FAILED -> "✗";
      case CANCELLED -> "⊘";
      default -> "?";
    };
  }
}
