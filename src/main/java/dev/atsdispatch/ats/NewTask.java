package dev.atsdispatch.ats;

import com.fasterxml.jackson.databind.JsonNode;

/** What {@link AtsClient#create} sends; null description or payload are left out. */
public record NewTask(String title, String description, JsonNode payload, int priority,
    String channel, String type) {
  public NewTask {
    if (title == null || title.isBlank()) throw new IllegalArgumentException("title is required");
    if (priority < 1 || priority > 10) {
      throw new IllegalArgumentException("priority must be from 1 to 10, got " + priority);
    }
    if (type == null) type = "task";
  }
}
