package dev.atsdispatch.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

final class EnvTextTest {
  @Test
  void controlCharactersAndLoneSurrogatesBecomeReplacementCharacters() {
    assertEquals("a\uFFFDb\tc\uFFFD\uFFFDd", EnvText.clean("a\u0000b\tc\n\u007fd", 100));
    assertEquals("x\uFFFDy\uD83D\uDE00", EnvText.clean("x\uD800y\uD83D\uDE00", 100));
    assertEquals("", EnvText.clean(null, 10));
  }

  @Test
  void cutAtTheCapWithoutSplittingAPair() {
    assertEquals("abc\u2026", EnvText.clean("abcdef", 3));
    assertEquals("ab\u2026", EnvText.clean("ab\uD83D\uDE00", 3)); // the pair would be split: left out whole
    String huge = "t".repeat(200 * 1024);
    String c = EnvText.clean(huge, EnvText.TITLE_MAX);
    assertEquals(EnvText.TITLE_MAX + 1, c.length());
    assertTrue(c.endsWith("\u2026"));
  }

  @Test
  void whatItMakesThe_OS_Takes() throws Exception {
    String nasty = "x\u0000\n\uD800" + "y".repeat(300 * 1024);
    ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "printf %s \"$V\" | wc -c");
    pb.environment().put("V", EnvText.clean(nasty, EnvText.TITLE_MAX));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes()).trim();
    assertEquals(0, p.waitFor());
    assertTrue(Integer.parseInt(out) > EnvText.TITLE_MAX - 10, out);
  }
}
