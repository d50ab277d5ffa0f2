/**
 * The room service's expiry timers: one per room and deadline (members' resume
 * grace, a stopped stream's "gone" and "end"). A timer only queues the expiry in
 * the room's mailbox; the host decides what is due then.
 */
export class ExpiryTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Set by `clearAll` (the service stops): nothing is armed after it. */
  private stopped = false;

  constructor(
    /** Called when `deadline` has come for `roomId`. */
    private readonly fire: (roomId: string, deadline: number) => void,
    private readonly now: () => number,
  ) {}

  /** Arms a timer for `deadline`, unless the room has one for it already. */
  schedule(roomId: string, deadline: number): void {
    const key = `${roomId}:${deadline}`;
    // A command answered while the service stops may still ask: it must not keep the process up.
    if (this.stopped || this.timers.has(key)) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.fire(roomId, deadline);
      },
      Math.max(0, deadline - this.now()),
    );
    this.timers.set(key, timer);
  }

  /** Disarms the timers of a room this replica no longer holds. */
  clearRoom(roomId: string): void {
    for (const [key, t] of this.timers) {
      if (key.startsWith(`${roomId}:`)) {
        clearTimeout(t);
        this.timers.delete(key);
      }
    }
  }

  /** Disarms every timer for good: the service stops. */
  clearAll(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
