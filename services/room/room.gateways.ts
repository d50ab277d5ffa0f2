/**
 * Gateways' beacons (`gw.<id>.alive`): the members held by a gateway that stopped
 * beaconing are treated as dropped, so they get the resume grace instead of staying
 * in their rooms for ever.
 */
import type { Logger } from '#shared/runtime/log.js';
import { membersOf, type Member } from '#shared/room/room.state.js';
import type { RoomEntry } from './room.recovery.js';

export class GatewayWatch {
  /** When each gateway was last heard from (or first named). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly o: { timeoutMs: number; now: () => number; logger: Logger }) {}

  heard(gateway: string): void {
    this.seen.set(gateway, this.o.now());
  }

  /** A gateway a loaded room names: one not heard from yet gets a full timeout from now. */
  named(gateway: string): void {
    if (!this.seen.has(gateway)) this.seen.set(gateway, this.o.now());
  }

  /** The members of `rooms` still present on gateways silent past the timeout (forgotten now). */
  dropped(rooms: ReadonlyMap<string, RoomEntry>): [roomId: string, member: Member][] {
    const now = this.o.now();
    const dead = new Set<string>();
    for (const [gateway, seen] of this.seen) if (now - seen > this.o.timeoutMs) dead.add(gateway);
    if (dead.size === 0) return [];
    for (const g of dead) this.seen.delete(g);
    this.o.logger.warn('gateways presumed dead', { gateways: [...dead] });
    const out: [string, Member][] = [];
    for (const [roomId, { actor }] of rooms) {
      if (actor.ended) continue;
      for (const m of membersOf(actor.state))
        if (dead.has(m.gateway) && m.awayUntil === null) out.push([roomId, m]);
    }
    return out;
  }
}
