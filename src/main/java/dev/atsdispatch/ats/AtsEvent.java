package dev.atsdispatch.ats;

/**
 * A task event from the WebSocket: its name ({@code task.created} …) and the task it carries, as a
 * light task ({@link Task#toLight()}: no description, outputs or reason).
 */
public record AtsEvent(String type, Task task) {}
