package dev.atsdispatch.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench/run measures the service with the JVM options it is deployed with, unless told otherwise. */
final class BenchOptionsTest {
  @Test
  void theServiceGetsTheSystemdUnitsJavaOptsByDefaultAndTheDevServerNone() throws Exception {
    List<String> unit = BenchOptions.unitJavaOpts(Path.of("deploy/systemd/ats-dispatch.service"));
    assertTrue(unit.contains("-XX:+ExitOnOutOfMemoryError") && unit.stream().anyMatch(o -> o.startsWith("-Xmx")), unit.toString());
    BenchOptions o = BenchOptions.parse("--quick");
    assertEquals(unit, o.jvmOpts());
    assertEquals(java.util.Map.of("MALLOC_ARENA_MAX", "2"), o.serviceEnv());
    assertEquals(List.of(), o.serverJvmOpts());
    assertEquals(List.of(), BenchOptions.parse("--jvm-opts", "").jvmOpts());
    assertEquals(List.of("-Xmx1g"), BenchOptions.parse("--server-jvm-opts", "-Xmx1g").serverJvmOpts());
  }

  @Test
  void aUnitWithoutJavaOptsGivesNone(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("x.service");
    Files.writeString(f, "[Service]\nExecStart=/usr/bin/java -jar x.jar\n");
    assertEquals(List.of(), BenchOptions.unitJavaOpts(f));
    assertEquals(List.of(), BenchOptions.unitJavaOpts(dir.resolve("missing.service")));
  }

  @Test
  void transportsAreOneACommaSeparatedListOrANamedSet() {
    assertEquals(List.of("http", "nats"), BenchOptions.parse("--transport", "http,nats").transports());
    assertEquals(List.of("nats"), BenchOptions.parse("--transport", "nats").transports());
    assertEquals(List.of("cli", "http"), BenchOptions.parse("--transport", "both").transports());
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> BenchOptions.parse("--transport", "http,grpc"));
    assertTrue(e.getMessage().startsWith("--transport must be"), e.getMessage());
  }

  @Test
  void theWarmUpBurstIsOneThroughputRunUnlessToldOrQuickOrExternal() {
    assertEquals(2000, BenchOptions.parse().warmupBurst());
    assertEquals(300, BenchOptions.parse("--tasks-throughput", "300").warmupBurst());
    assertEquals(50, BenchOptions.parse("--warmup-burst", "50").warmupBurst());
    assertEquals(0, BenchOptions.parse("--quick").warmupBurst());
    assertEquals(0, BenchOptions.parse("--external", "true").warmupBurst());
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> BenchOptions.parse("--warmup-burst", "-1"));
    assertTrue(e.getMessage().contains("--warmup-burst"), e.getMessage());
  }
}
