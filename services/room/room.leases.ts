/**
 * Which room-service replica owns which rooms.
 *
 * Rooms are spread over a fixed number of partitions (a stable hash of the room
 * id). A replica owns a partition while it holds its lease: a key in the JetStream
 * KV bucket `room-leases`, whose TTL the *server* enforces, renewed by
 * compare-and-set. Safety does not rest on the lease alone: every append is also
 * fenced on the room's last stream sequence (room.log.ts), so a replica that was
 * paused past its lease cannot overwrite what the new owner wrote.
 *
 * The KV implementation is room.leases.kv.ts; `SoleOwner` here serves a single
 * replica (tests, the in-memory mode).
 *
 * What must hold:
 * - A replica stops answering for a partition as soon as its own clock says the
 *   lease may have lapsed (checked before every command, so a process resumed
 *   after SIGSTOP is silent until it renews or learns it lost).
 * - Replicas share the partitions: each aims for its fair share of the live
 *   replicas and gives back what it holds beyond that.
 */

/** FNV-1a, 32 bit: a stable partition for a room id, the same in every replica and release. */
export function partitionOf(roomId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < roomId.length; i++) {
    h ^= roomId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

export type LeaseListener = (gained: number[], lost: number[]) => void | Promise<void>;

export interface Leases {
  readonly partitions: number;
  readonly replicaId: string;
  /** Takes the first leases and tells the listener (without waiting for it). */
  start(listener: LeaseListener): Promise<void>;
  /**
   * True while this replica may answer for `partition`. Never true for a partition
   * before the listener has been told it was gained: the service sets up the wait
   * for its rooms in that call, so no command runs ahead of the load.
   */
  owns(partition: number): boolean;
  /** Gives every lease back (graceful shutdown: survivors take over at once). */
  stop(): Promise<void>;
}

/** One replica that owns everything: tests and the in-memory mode. */
export class SoleOwner implements Leases {
  readonly replicaId = 'sole';
  /** Owned from the listener's call on (the contract of `owns`), not from construction. */
  private started = false;
  constructor(readonly partitions = 1) {}
  async start(listener: LeaseListener): Promise<void> {
    this.started = true;
    await listener(
      Array.from({ length: this.partitions }, (_, i) => i),
      [],
    );
  }

  owns(): boolean {
    return this.started;
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
