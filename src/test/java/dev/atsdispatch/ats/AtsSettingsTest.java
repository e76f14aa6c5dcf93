package dev.atsdispatch.ats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class AtsSettingsTest {
  @TempDir Path cwd;
  @TempDir Path home;

  @Test
  void defaultsAreTheDispatchersIdentityAndUnscoped() {
    AtsSettings s = AtsSettings.resolve(AtsSettings.Flags.NONE, Map.of(), cwd, home);
    assertEquals(AtsSettings.DEFAULT_URL, s.url());
    assertFalse(s.scoped());
    assertEquals("/tasks", s.tasksPath());
    assertEquals("agent", s.actorType());
    assertEquals("ada-dispatch", s.actorId());
    assertEquals("Ada Dispatch", s.actorName());
  }

  @Test
  void anotherClientsDefaultActorYieldsToEnvAndFiles() throws Exception {
    AtsSettings s = AtsSettings.resolve(AtsSettings.Flags.NONE, Map.of(), cwd, home, "agent", "encrypt-task", "ET");
    assertEquals("encrypt-task", s.actorId());
    assertEquals("ET", s.actorName());
    write(home.resolve(".ats/config"), "{\"actor\":{\"name\":\"From file\"}}");
    s = AtsSettings.resolve(AtsSettings.Flags.NONE, Map.of("ATS_ACTOR_ID", "me"), cwd, home, "agent", "encrypt-task",
        "ET");
    assertEquals("me", s.actorId());
    assertEquals("From file", s.actorName());
  }

  @Test
  void precedenceIsFlagThenEnvThenProjectFileThenGlobalFile() throws Exception {
    write(home.resolve(".ats/config"), "{\"url\":\"http://global\",\"organization\":\"g-org\","
        + "\"actor\":{\"id\":\"g-id\",\"name\":\"G\"}}");
    write(cwd.resolve(".ats/config"), "{\"url\":\"http://local\",\"actor\":{\"id\":\"l-id\"}}");
    AtsSettings files = AtsSettings.resolve(AtsSettings.Flags.NONE, Map.of(), cwd, home);
    assertEquals("http://local", files.url());
    assertEquals("l-id", files.actorId());
    assertEquals("G", files.actorName(), "actor is merged key by key");
    assertTrue(files.scoped());
    assertEquals("/orgs/g-org/projects/main/tasks", files.tasksPath());

    AtsSettings env = AtsSettings.resolve(AtsSettings.Flags.NONE,
        Map.of("ATS_URL", "http://env/", "ATS_ACTOR_ID", "e-id"), cwd, home);
    assertEquals("http://env", env.baseUrl());
    assertEquals("e-id", env.actorId());
    assertEquals("ws://env/ws", env.webSocketUrl());

    AtsSettings flags = AtsSettings.resolve(
        new AtsSettings.Flags("https://flag", null, "p2", null, "f-id", null),
        Map.of("ATS_URL", "http://env", "ATS_ACTOR_ID", "e-id"), cwd, home);
    assertEquals("https://flag", flags.url());
    assertEquals("wss://flag/ws", flags.webSocketUrl());
    assertEquals("f-id", flags.actorId());
    assertEquals("/orgs/g-org/projects/p2/tasks", flags.tasksPath());
  }

  @Test
  void projectAloneScopesWithTheDefaultOrg() {
    AtsSettings s = AtsSettings.resolve(AtsSettings.Flags.NONE, Map.of("ATS_PROJECT", "p2"), cwd, home);
    assertEquals("/orgs/default/projects/p2/tasks", s.tasksPath());
  }

  @Test
  void invalidConfigFilesAreIgnoredLikeTheCli() throws Exception {
    write(cwd.resolve(".ats/config"), "{not json");
    AtsSettings s = AtsSettings.resolve(AtsSettings.Flags.NONE, Map.of(), cwd, home);
    assertEquals(AtsSettings.DEFAULT_URL, s.url());
  }

  private static void write(Path p, String s) throws Exception {
    Files.createDirectories(p.getParent());
    Files.writeString(p, s);
  }
}
