/**
 * One active alert service per deployment, any number standing by.
 *
 * The alert service owns a durable consumer of ROOM_EVENTS, the webhook's consumer
 * of ALERTS and one saved state: two running at once would split the room events
 * between them and overwrite each other's state. So an instance first takes the
 * lease: the key `leader` in the KV bucket `alert-leader`, whose TTL the *server*
 * enforces (ALERT_LEASE_MS), renewed by compare-and-set every third of it. A
 * standby tries to create the key at the same pace and becomes active once it is
 * free: the leader stopped and deleted it, or died and the TTL ran out.
 *
 * What must hold:
 * - `leading` turns false as soon as the local clock says the lease may have
 *   lapsed (a process resumed after SIGSTOP does nothing before it checks).
 * - A leader whose lease lapsed, or was taken, is told once (`onLost`); its own writes
 *   are fenced too (its saved state is written by compare-and-set), so a deposed
 *   leader cannot overwrite its successor's state even before it learns it lost.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { performance } from 'node:perf_hooks';
import type { Logger } from '#shared/runtime/log.js';
import {
  bucketNames,
  isWrongLastSequence,
  leaseRenewMs,
  openLeaseBucket,
} from '#shared/runtime/streams.js';

const LEADER_KEY = 'leader';

export interface LeaderLeaseOptions {
  /** Who holds the lease (the process instance id): shown to standbys and operators. */
  instance: string;
  /** Lifetime of the lease (the bucket's TTL), in ms. */
  leaseMs: number;
  replicas: number;
  log: Logger;
}

export class LeaderLease {
  private revision = 0;
  /** Local monotonic time after which the lease may have lapsed. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lost: () => void = () => undefined;

  private constructor(
    private readonly kv: KV,
    private readonly o: LeaderLeaseOptions,
  ) {}

  static async open(nc: NatsConnection, o: LeaderLeaseOptions): Promise<LeaderLease> {
    const kv = await openLeaseBucket(nc, bucketNames.alertLeader, o.leaseMs, o.replicas);
    return new LeaderLease(kv, o);
  }

  private get renewMs(): number {
    return leaseRenewMs(this.o.leaseMs);
  }

  /** True while this instance may act as the alert service. */
  get leading(): boolean {
    return this.revision > 0 && performance.now() < this.validUntil;
  }

  /** The instance holding the lease now, if any (for the standby's log line). */
  async holder(): Promise<string | undefined> {
    const e = await this.kv.get(LEADER_KEY).catch(() => null);
    return e?.operation === 'PUT' ? e.string() : undefined;
  }

  /**
   * Resolves true once this instance holds the lease (at once when it is free),
   * then renews it; `onLost` is called once if a renewal fails. Resolves false if
   * `release` was called first (stopped while standing by).
   */
  async acquire(onLost: () => void): Promise<boolean> {
    this.lost = onLost;
    for (;;) {
      if (this.stopped) return false;
      const taking = performance.now();
      try {
        const revision = await this.kv.create(LEADER_KEY, this.o.instance);
        // Released while the key was being created (TypeScript still narrows `stopped`
        // to false across the await): give it straight back.
        if (this.stopped as boolean) {
          await this.kv.delete(LEADER_KEY).catch(() => undefined);
          return false;
        }
        this.revision = revision;
        this.validUntil = taking + this.o.leaseMs - this.renewMs / 2;
        break;
      } catch {
        // Held by another instance (or NATS is away): try again a renewal period later.
        await new Promise((r) => setTimeout(r, this.renewMs));
      }
    }
    this.timer = setInterval(() => void this.renew(), this.renewMs);
    return true;
  }

  /** Steps down: the key is deleted so that a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.revision === 0) return;
    this.revision = 0;
    await this.kv.delete(LEADER_KEY).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.revision === 0) return;
    const sent = performance.now();
    // Lapsed already (the process was paused): another instance may lead by now.
    if (sent >= this.validUntil) return this.lose('the lease lapsed before it was renewed');
    try {
      this.revision = await this.kv.update(LEADER_KEY, this.o.instance, this.revision);
      this.validUntil = sent + this.o.leaseMs - this.renewMs / 2;
    } catch (err) {
      // Refused: another instance holds the key now. Any other failure (NATS slow or
      // away) is tried again at the next renewal, until the lease lapses (checked above).
      if (isWrongLastSequence(err)) this.lose('another instance holds the lease', err);
      else this.o.log.warn('alert lease not renewed; trying again', { err });
    }
  }

  private lose(why: string, err?: unknown): void {
    if (this.revision === 0) return;
    this.revision = 0;
    clearInterval(this.timer);
    this.o.log.error('alert leadership lost', { why, err });
    this.lost();
  }
}
