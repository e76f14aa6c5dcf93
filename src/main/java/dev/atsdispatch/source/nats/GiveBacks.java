package dev.atsdispatch.source.nats;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.KeyValue;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.StorageType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How often each task message was given back without a strike (a graceful shutdown's {@code nak}),
 * kept in a JetStream key-value bucket that every worker on the stream shares, so that the
 * delivery count less these is the strike count whichever worker reads it. Keys are
 * {@code <stream>.<stream sequence>}; entries expire with the tasks (7 days). Where the bucket
 * cannot be used (no permission, a node down), a give-back counts as a strike, as a lease that ran
 * out would: nothing waits on it. Thread-safe (jnats's KeyValue is).
 */
final class GiveBacks {
  private static final Logger log = LoggerFactory.getLogger(GiveBacks.class);
  static final String BUCKET = "ats_dispatch_givebacks";
  private static final int BUCKET_NOT_FOUND = 10059;

  private final KeyValue kv;

  private GiveBacks(KeyValue kv) {
    this.kv = kv;
  }

  /** The bucket, made if missing; null (and a warning) when it cannot be had. */
  static GiveBacks open(Connection nc, int replicas) {
    try {
      try {
        nc.keyValueManagement().getStatus(BUCKET);
      } catch (JetStreamApiException e) {
        if (e.getApiErrorCode() != BUCKET_NOT_FOUND && e.getErrorCode() != 404) throw e;
        nc.keyValueManagement().create(KeyValueConfiguration.builder().name(BUCKET).maxHistoryPerKey(1)
            .ttl(Duration.ofDays(7)).storageType(StorageType.File).replicas(replicas).build());
      }
      return new GiveBacks(nc.keyValue(BUCKET));
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      log.warn("key-value bucket {} cannot be used ({}); a task given back on shutdown will count as a strike",
          BUCKET, e.getMessage());
      return null;
    }
  }

  /** Give-backs recorded for one message (0 when none, or when the bucket does not answer). */
  int of(String stream, long seq) {
    try {
      KeyValueEntry e = kv.get(key(stream, seq));
      return e == null || e.getValue() == null ? 0 : Integer.parseInt(new String(e.getValue(), StandardCharsets.US_ASCII));
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      log.debug("give-backs of {} {} unknown: {}", stream, seq, e.toString());
      return 0;
    }
  }

  /** Records one more give-back of a message; false when it could not be recorded. */
  boolean add(String stream, long seq) {
    String key = key(stream, seq);
    for (int i = 0; i < 5; i++) {
      try {
        KeyValueEntry e = kv.get(key);
        if (e == null || e.getValue() == null) {
          kv.create(key, "1".getBytes(StandardCharsets.US_ASCII));
        } else {
          int n = Integer.parseInt(new String(e.getValue(), StandardCharsets.US_ASCII)) + 1;
          kv.update(key, Integer.toString(n).getBytes(StandardCharsets.US_ASCII), e.getRevision());
        }
        return true;
      } catch (JetStreamApiException raced) {
        // another worker wrote it meanwhile (wrong last sequence): read again
      } catch (IOException | RuntimeException e) {
        log.warn("give-back of {} {} not recorded ({}); it will count as a strike", stream, seq, e.toString());
        return false;
      }
    }
    return false;
  }

  private static String key(String stream, long seq) {
    return stream + "." + seq;
  }
}
