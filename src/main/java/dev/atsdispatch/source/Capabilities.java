package dev.atsdispatch.source;

/**
 * What a source can do beyond offers, claims and reports. {@code list}: a reconcile listing of
 * pending tasks. {@code cancelEvents}: it says when a task is cancelled. {@code priorities}: its
 * tasks carry a priority worth ordering by. {@code deliveryCount}: it counts deliveries itself
 * (the strike count then comes from it). {@code threads}: a task has a message thread (progress
 * messages, and the attempt count shared by several services). {@code delayedRelease}: a task
 * given back can be held back for a while. {@code lookups}: a task's status can be read by its id
 * (without it, a task naming others in {@code depends_on} cannot wait for them and is refused).
 */
public record Capabilities(boolean list, boolean cancelEvents, boolean priorities,
    boolean deliveryCount, boolean threads, boolean delayedRelease, boolean lookups) {}
