package dev.atsdispatch.ats;

/**
 * A task event from the WebSocket: its name ({@code task.created} …) and the task it carries,
 * without outputs (its reason only when short), and light ({@link Task#toLight()}) when its description or title was
 * too long to keep ({@link EventWatcher}).
 */
public record AtsEvent(String type, Task task) {}
