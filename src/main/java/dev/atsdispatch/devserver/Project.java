package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.time.WireTime;
import java.time.Instant;

/** A project inside an organization; scoped task routes resolve to one (ats-protocol.md §1.3). */
record Project(long id, long orgId, String slug, String name, String description,
    Instant createdAt) {
  ObjectNode toJson(String orgSlug) {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("id", id);
    n.put("org_id", orgId);
    n.put("organization", orgSlug);
    n.put("slug", slug);
    n.put("name", name);
    n.put("description", description);
    n.put("created_at", WireTime.format(createdAt));
    return n;
  }

  static Project fromJson(JsonNode n) {
    JsonNode d = n.get("description");
    return new Project(n.path("id").asLong(), n.path("org_id").asLong(), n.path("slug").asText(),
        n.path("name").asText(), d == null || d.isNull() ? null : d.asText(),
        WireTime.parse(n.path("created_at").asText()));
  }
}
