package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.WireTime;
import java.time.Instant;

/** An organization (ats-protocol.md §2.10). */
record Org(long id, String slug, String name, Instant createdAt) {
  ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("id", id);
    n.put("slug", slug);
    n.put("name", name);
    n.put("created_at", WireTime.format(createdAt));
    return n;
  }

  static Org fromJson(JsonNode n) {
    return new Org(n.path("id").asLong(), n.path("slug").asText(), n.path("name").asText(),
        WireTime.parse(n.path("created_at").asText()));
  }
}
