package dev.atsdispatch.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dashboard's observer sits in front of the service's: every notice must reach the one behind it. */
final class RecentObserverTest {
  @Test
  void everyNoticeOfTheObserverIsPassedOn() {
    List<String> missing = new ArrayList<>();
    for (Method m : TaskObserver.class.getDeclaredMethods()) {
      if (Modifier.isStatic(m.getModifiers()) || m.isSynthetic()) continue;
      try {
        Method own = RecentObserver.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
        assertTrue(!own.isDefault());
      } catch (NoSuchMethodException e) {
        missing.add(m.getName());
      }
    }
    assertEquals(List.of(), missing, "RecentObserver does not pass these on");
  }
}
