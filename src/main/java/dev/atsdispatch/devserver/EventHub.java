package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Fans committed task events out to WebSocket connections. {@link #accept} is called by the store
 * under its lock, so every connection's queue receives events in commit order; each connection
 * applies its own subscription filter and sends without blocking the caller. The text and its
 * size are computed once per event and shared by every connection's queue.
 */
final class EventHub implements Consumer<TaskEvent> {
  private final Set<WsConnection> connections = ConcurrentHashMap.newKeySet();
  private final ObjectMapper mapper;

  EventHub(ObjectMapper mapper) {
    this.mapper = mapper;
  }

  void add(WsConnection c) {
    connections.add(c);
  }

  void remove(WsConnection c) {
    connections.remove(c);
  }

  int size() {
    return connections.size();
  }

  @Override
  public void accept(TaskEvent e) {
    String text = e.text(mapper);
    long bytes = WsConnection.utf8Length(text);
    for (WsConnection c : connections) c.offer(e, text, bytes);
  }

  void closeAll() {
    for (WsConnection c : connections) c.close(1001, "server stopping");
    connections.clear();
  }
}
