package dev.atsdispatch.ats;

import java.time.Duration;

/** The {@link AtsClientContract} over the http transport. */
final class HttpAtsClientTest extends AtsClientContract {
  @Override
  AtsClient newClient(AtsSettings settings) {
    return new HttpAtsClient(settings, Duration.ofSeconds(30));
  }

  @Override
  boolean fullLargeResponses() {
    return true;
  }
}
