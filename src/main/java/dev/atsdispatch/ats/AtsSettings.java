package dev.atsdispatch.ats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where ATS is and who we are to it, resolved per setting the way the {@code ats} CLI does
 * (ats-protocol.md §1): flag &gt; environment (ATS_URL, ATS_ORG, ATS_PROJECT, ATS_ACTOR_*) &gt;
 * ./.ats/config &gt; ~/.ats/config &gt; default. Project scope is used when an organization or a
 * project was set by any means. Immutable.
 */
public record AtsSettings(String url, String org, String project, boolean scoped,
    String actorType, String actorId, String actorName) {

  public static final String DEFAULT_URL = "https://ats.difflab.ai";

  /** Values given on the command line; null where not given. */
  public record Flags(String url, String org, String project, String actorType, String actorId,
      String actorName) {
    public static final Flags NONE = new Flags(null, null, null, null, null, null);
  }

  /** The dispatcher's identity when nothing else is configured (reference-behaviour.md §1.11). */
  public static final String DEFAULT_ACTOR_TYPE = "agent";
  public static final String DEFAULT_ACTOR_ID = "ada-dispatch";
  public static final String DEFAULT_ACTOR_NAME = "Ada Dispatch";

  public static AtsSettings resolve(Flags flags, Map<String, String> env, Path cwd, Path home) {
    return resolve(flags, env, cwd, home, DEFAULT_ACTOR_TYPE, DEFAULT_ACTOR_ID, DEFAULT_ACTOR_NAME);
  }

  /** As {@link #resolve(Flags, Map, Path, Path)}, with another default actor (for clients that are not the dispatcher). */
  public static AtsSettings resolve(Flags flags, Map<String, String> env, Path cwd, Path home,
      String defaultActorType, String defaultActorId, String defaultActorName) {
    JsonNode global = readConfig(home == null ? null : home.resolve(".ats/config"));
    JsonNode local = readConfig(cwd == null ? null : cwd.resolve(".ats/config"));
    String url = first(flags.url(), env.get("ATS_URL"), str(local, "url"), str(global, "url"),
        DEFAULT_URL);
    String org = first(flags.org(), env.get("ATS_ORG"), str(local, "organization"),
        str(global, "organization"), null);
    String project = first(flags.project(), env.get("ATS_PROJECT"), str(local, "project"),
        str(global, "project"), null);
    boolean scoped = org != null || project != null;
    String type = first(flags.actorType(), env.get("ATS_ACTOR_TYPE"), actor(local, "type"),
        actor(global, "type"), defaultActorType);
    String id = first(flags.actorId(), env.get("ATS_ACTOR_ID"), actor(local, "id"),
        actor(global, "id"), defaultActorId);
    String name = first(flags.actorName(), env.get("ATS_ACTOR_NAME"), actor(local, "name"),
        actor(global, "name"), defaultActorName);
    return new AtsSettings(url, org == null ? "default" : org, project == null ? "main" : project,
        scoped, type, id, name);
  }

  /** Base URL without trailing slashes (§8: the CLI would send {@code //tasks}). */
  public String baseUrl() {
    String u = url;
    while (u.endsWith("/")) u = u.substring(0, u.length() - 1);
    return u;
  }

  /** The task collection path: {@code /tasks} or {@code /orgs/{org}/projects/{project}/tasks}. */
  public String tasksPath() {
    return scoped ? "/orgs/" + org + "/projects/" + project + "/tasks" : "/tasks";
  }

  /** The WebSocket URL: the first "http" of the base replaced by "ws", plus /ws (§4.1). */
  public String webSocketUrl() {
    return baseUrl().replaceFirst("http", "ws") + "/ws";
  }

  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** Reads a CLI config file; unreadable or invalid JSON is ignored, as the CLI does. */
  private static JsonNode readConfig(Path p) {
    if (p == null || !Files.isRegularFile(p)) return null;
    try {
      JsonNode n = MAPPER.readTree(Files.readAllBytes(p));
      return n != null && n.isObject() ? n : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String str(JsonNode n, String f) {
    if (n == null) return null;
    JsonNode v = n.get(f);
    return v != null && v.isTextual() && !v.asText().isEmpty() ? v.asText() : null;
  }

  private static String actor(JsonNode n, String f) {
    return n == null ? null : str(n.get("actor"), f);
  }

  private static String first(String... values) {
    for (String v : values) {
      if (v != null && !v.isEmpty()) return v;
    }
    return null;
  }
}
