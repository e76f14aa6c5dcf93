package dev.atsdispatch.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.testing.Http;
import dev.atsdispatch.time.WireTime;

/** An ATS channel on the dev server, through its REST API. Harness main thread only. */
final class AtsQueue implements BenchQueue {
  private final Http http;
  private final String channel;

  AtsQueue(String url, String channel) {
    this.http = new Http(url, "human", "bench", "Bench");
    this.channel = channel;
  }

  @Override
  public String source() {
    return "ats";
  }

  @Override
  public String create(String key, JsonNode payload) {
    ObjectNode b = JsonNodeFactory.instance.objectNode();
    b.put("title", key);
    b.put("channel", channel);
    if (payload != null) b.set("payload", payload);
    Http.Resp r = http.post("/tasks", b);
    if (r.status() != 201) throw new BenchFailure("create " + key + ": " + r.status() + " " + r.text());
    return r.task().path("id").asText();
  }

  private int count(String statuses) {
    Http.Resp r = http.get("/tasks?channel=" + channel + "&status=" + statuses + "&limit=1");
    if (r.status() != 200) throw new BenchFailure("list: " + r.status() + " " + r.text());
    return r.body().path("count").asInt();
  }

  @Override
  public int open() {
    return count("pending,in_progress");
  }

  @Override
  public int completed() {
    return count("completed");
  }

  @Override
  public int failed() {
    return count("failed");
  }

  @Override
  public Long lastCompletionNs() {
    Http.Resp last = http.get("/tasks?channel=" + channel + "&status=completed&sort_by=updated_at&sort_dir=desc&limit=1");
    String at = last.body().path("tasks").path(0).path("completed_at").asText(null);
    if (at == null) return null;
    var i = WireTime.parse(at);
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  @Override
  public boolean dependencies() {
    return true;
  }

  @Override
  public void close() {}
}
