package dev.atsdispatch.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;

/** The one source of the version string: the Maven project version, filtered into a resource. */
public final class Version implements CommandLine.IVersionProvider {
  public static String get() {
    Properties p = new Properties();
    try (InputStream in = Version.class.getResourceAsStream("/dev/atsdispatch/version.properties")) {
      if (in != null) p.load(in);
    } catch (IOException e) {
      // fall through to "unknown"
    }
    return p.getProperty("version", "unknown");
  }

  @Override
  public String[] getVersion() {
    return new String[] {"ats-dispatch " + get()};
  }
}
