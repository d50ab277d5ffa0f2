/** A room log and leases that a test holds and hands out, to stage handovers. */
import { MemoryRoomLog } from '../room.log.js';
import type { LeaseListener, Leases } from '../room.leases.js';

/** A log whose appends can be held open (the actor has decided, the log has not confirmed) or fail. */
export class HeldLog extends MemoryRoomLog {
  hold: Promise<void> | undefined;
  fail = false;
  /** Resolves once an append waits on the hold (the actor has decided): no sleeping and hoping. */
  appendHeld: Promise<void> = Promise.resolve();
  private arrived = () => {};
  override async append(...args: Parameters<MemoryRoomLog['append']>): Promise<number> {
    if (this.hold !== undefined) {
      this.arrived();
      await this.hold;
    }
    if (this.fail) throw new Error('NATS went away');
    return super.append(...args);
  }
  /** Holds every append from now until the returned function is called. */
  holdAppends(): () => void {
    let release = () => {};
    this.hold = new Promise<void>((r) => (release = r));
    this.appendHeld = new Promise<void>((r) => (this.arrived = r));
    return () => {
      this.hold = undefined;
      release();
    };
  }
}

/**
 * One partition's lease that the test hands out and takes back: `owned` is what
 * owns() says, `report` tells the service of a change as KvLeases does (without waiting).
 */
export function handedLeases(): {
  leases: Leases;
  owned: Set<number>;
  report: (gained: number[], lost: number[]) => Promise<void>;
} {
  const owned = new Set<number>();
  let listener: LeaseListener = () => undefined;
  const leases: Leases = {
    partitions: 1,
    replicaId: 'r1',
    start: (l) => {
      listener = l;
      owned.add(0);
      void l([0], []);
      return Promise.resolve();
    },
    owns: (p) => owned.has(p),
    stop: () => Promise.resolve(),
  };
  return { leases, owned, report: async (gained, lost) => listener(gained, lost) };
}
