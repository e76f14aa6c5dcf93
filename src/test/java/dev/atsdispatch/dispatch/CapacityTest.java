package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Routes share one cap and the slots; with the cap reached the lower priority value goes first, ties by order. */
final class CapacityTest {
  @Test
  void aBetterRouteWaitingHoldsTheOthersBackAndIsWokenWhenAPlaceFrees() {
    Capacity c = new Capacity(2, Map.of("gpu", 1));
    AtomicInteger wokeDownstream = new AtomicInteger();
    Capacity.Member upstream = c.join(3, 0, () -> { });
    Capacity.Member downstream = c.join(1, 1, wokeDownstream::incrementAndGet);
    assertTrue(upstream.take(Set.of()));
    assertTrue(upstream.take(Set.of()));
    assertFalse(upstream.take(Set.of()), "over the cap");
    downstream.waiting(true);
    upstream.waiting(true);
    upstream.release(Set.of());
    assertEquals(1, wokeDownstream.get(), "the waiting route was not woken");
    assertFalse(upstream.take(Set.of()), "the worse route took the place a better one waits for");
    assertTrue(downstream.take(Set.of()));
    downstream.waiting(false);
    upstream.release(Set.of());
    assertTrue(upstream.take(Set.of()), "nothing better waits now");
    assertEquals(2, c.running());
  }

  @Test
  void slotsAreSharedAcrossRoutesAndTiesGoByOrder() {
    Capacity c = new Capacity(4, Map.of("gpu", 1));
    Capacity.Member first = c.join(2, 0, () -> { });
    Capacity.Member second = c.join(2, 1, () -> { });
    assertTrue(second.take(Set.of("gpu")));
    assertFalse(first.take(Set.of("gpu")), "one gpu across routes");
    first.waiting(true);
    assertFalse(second.take(Set.of()), "same priority: the earlier route goes first");
    assertTrue(first.take(Set.of()));
    second.release(Set.of("gpu"));
    assertTrue(first.take(Set.of("gpu")));
  }
}
