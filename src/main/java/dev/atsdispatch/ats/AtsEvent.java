package dev.atsdispatch.ats;

/** A task event from the WebSocket: its name ({@code task.created} …) and the task it carries. */
public record AtsEvent(String type, Task task) {}
