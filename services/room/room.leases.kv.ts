/**
 * Partition leases in the JetStream KV bucket `room-leases` (the contract is in
 * room.leases.ts): renewed by compare-and-set every third of the lease, taken when
 * free up to a fair share of the live replicas, given back beyond it.
 *
 * What must hold here:
 * - Only a key another replica wrote ends a lease early; a renewal that failed (the
 *   bucket electing a leader) is retried soon, and the lease's own clock ends it.
 * - A partition is never owned before the listener has been told it was gained.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { performance } from 'node:perf_hooks';
import {
  bucketNames,
  kvKeys,
  isWrongLastSequence,
  leaseRenewMs,
  openLeaseBucket,
} from '#shared/runtime/streams.js';
import type { Logger } from '#shared/runtime/log.js';
import type { LeaseListener, Leases } from './room.leases.js';

interface Held {
  revision: number;
  /** Local monotonic time after which the lease may have lapsed. */
  validUntil: number;
}

export interface KvLeasesOptions {
  replicaId: string;
  partitions: number;
  /** Lease lifetime (the bucket's TTL), in ms. */
  leaseMs: number;
  replicas: number;
  log: Logger;
}

const partitionKey = (p: number) => `partition.${p}`;
const replicaKey = (id: string) => `replica.${id}`;

export class KvLeases implements Leases {
  private readonly held = new Map<number, Held>();
  private timer: NodeJS.Timeout | undefined;
  /** When the last of other replicas' keys seen lapsing expires (server clock, ms). */
  private lapseAt: number | undefined;
  /** In the last tick a renewal, or taking back a key of our own, failed with no news of another owner. */
  private retrySoon = false;
  private extraTimer: NodeJS.Timeout | undefined;
  private watcher: { stop(): void } | undefined;
  /** Settles once the watch is set up (or could not be). */
  private watchStarted: Promise<unknown> = Promise.resolve();
  private listener: LeaseListener = () => undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The live replicas counted last (one before any count). */
  private lastLive = 1;
  readonly partitions: number;
  readonly replicaId: string;

  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly o: KvLeasesOptions,
  ) {
    this.partitions = o.partitions;
    this.replicaId = o.replicaId;
  }

  static async open(nc: NatsConnection, o: KvLeasesOptions): Promise<KvLeases> {
    const kv = await openLeaseBucket(nc, bucketNames.roomLeases, o.leaseMs, o.replicas);
    return new KvLeases(kv, await jetstreamManager(nc), o);
  }

  private get renewMs(): number {
    return leaseRenewMs(this.o.leaseMs);
  }

  async start(listener: LeaseListener): Promise<void> {
    this.listener = listener;
    await this.tick();
    this.timer = setInterval(() => this.queueTick(), this.renewMs);
    void this.watchReleases();
  }

  owns(partition: number): boolean {
    const h = this.held.get(partition);
    return h !== undefined && performance.now() < h.validUntil;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.extraTimer);
    // The watch may still be being set up: it must end before the connection does.
    await this.watchStarted;
    this.watcher?.stop();
    await this.ticking.catch(() => undefined);
    const release = [...this.held.keys()];
    this.held.clear();
    await Promise.allSettled([
      ...release.map((p) => this.kv.delete(partitionKey(p))),
      this.kv.delete(replicaKey(this.o.replicaId)),
    ]);
  }

  /** Renews what we hold, takes free partitions up to our fair share, gives back the excess. */
  private async tick(): Promise<void> {
    try {
      await this.renewAndTake();
    } finally {
      this.scheduleExtraTick();
    }
  }

  private async renewAndTake(): Promise<void> {
    if (this.stopped) return;
    const gained: number[] = [];
    const lost: number[] = [];
    const now = () => performance.now();

    // A lease whose validity ran out locally (we were paused, or renewals failed) is gone.
    for (const [p, h] of this.held) {
      if (now() >= h.validUntil) {
        this.held.delete(p);
        lost.push(p);
      }
    }
    // All renewals at once: on a busy replica one KV round trip is slow enough;
    // one after the other, the last partitions' leases would lapse while they wait.
    const sent = now();
    const validUntil = sent + this.o.leaseMs - this.renewMs / 2;
    await Promise.all(
      [...this.held].map(async ([p, h]) => {
        try {
          const revision = await this.kv.update(partitionKey(p), this.o.replicaId, h.revision);
          this.held.set(p, { revision, validUntil });
        } catch (err) {
          // Only a key someone else wrote means the lease is gone. A failed renewal (the
          // bucket electing a leader after a NATS node died, a timeout) is not news: the
          // lease holds until its own clock runs out (checked above), and a tick within a
          // quarter period tries again. Dropping it at once cost every room a reload.
          if (!isWrongLastSequence(err)) {
            this.retrySoon = true;
            return;
          }
          // Our own renewal may have landed while its answer was lost.
          const revision = await this.take(p, false);
          if (revision !== undefined) this.held.set(p, { revision, validUntil });
          else {
            this.held.delete(p);
            lost.push(p);
          }
        }
      }),
    );

    const share = Math.ceil(this.partitions / (await this.liveReplicas()));
    // Taken partitions are not ours to answer for until the listener hears of them
    // (below, in the same turn): a command arriving while we still take the next
    // partition would otherwise find the service without the partition's rooms and
    // be answered ROOM_NOT_FOUND (or create a room that already exists).
    const taken = new Map<number, Held>();
    for (let p = 0; p < this.partitions; p++) {
      if (this.held.has(p)) continue;
      // Beyond our share, a key still ours (from before a restart, or a lease that lapsed
      // here while renewals failed) is freed for the others, not taken: taking it and
      // giving it back in the same tick had the service load the partition's rooms only
      // to drop them (seen after a NATS node returned: leases flapping for a second).
      if (this.held.size + taken.size >= share) {
        await this.freeOurs(p);
        continue;
      }
      const taking = now();
      const revision = await this.take(p, true);
      if (revision !== undefined) {
        taken.set(p, { revision, validUntil: taking + this.o.leaseMs - this.renewMs / 2 });
        gained.push(p);
      }
    }
    // No await from here to the listener's call: ownership and the news of it are one step.
    // stop() may have run while we took them (TypeScript still narrows `stopped` to false).
    if (this.stopped as boolean) {
      await Promise.allSettled([...taken.keys()].map((p) => this.kv.delete(partitionKey(p))));
      return;
    }
    for (const [p, h] of taken) this.held.set(p, h);
    // More than our share (a replica joined): give the highest back. We stop answering
    // for them first, let the service snapshot them, then free the keys for the others.
    const extra = [...this.held.keys()]
      .sort((a, b) => b - a)
      .slice(0, Math.max(0, this.held.size - share));
    for (const p of extra) {
      this.held.delete(p);
      lost.push(p);
    }
    if (gained.length === 0 && lost.length === 0) return;
    this.o.log.info('partitions changed', { gained, lost, held: [...this.held.keys()] });
    // Not awaited: loading a partition's rooms can take longer than a renewal period,
    // and renewals must never wait for it. The keys given back are freed once the
    // service has snapshotted their rooms.
    void Promise.resolve(this.listener(gained, lost))
      .catch((err: unknown) => this.o.log.error('lease listener failed', { err }))
      .then(() => Promise.allSettled(extra.map((p) => this.kv.delete(partitionKey(p)))));
  }

  /**
   * Takes a free partition, or one this replica id held before a restart (a replica
   * with a stable ROOM_REPLICA_ID need not wait for its own lease to lapse; the
   * append fence still guards the log should two processes share an id). Undefined
   * when another replica holds it.
   */
  private async take(p: number, mayCreate: boolean): Promise<number | undefined> {
    try {
      if (mayCreate) return await this.kv.create(partitionKey(p), this.o.replicaId);
    } catch {
      // Not free: maybe still ours.
    }
    return this.ifOurs(p, (revision) =>
      this.kv.update(partitionKey(p), this.o.replicaId, revision),
    );
  }

  /** Deletes the partition's key if it is still ours (compare-and-delete); best effort. */
  private async freeOurs(p: number): Promise<void> {
    await this.ifOurs(p, (revision) => this.kv.delete(partitionKey(p), { previousSeq: revision }));
  }

  /**
   * Runs `act` with the revision of the partition's key when this replica id holds it;
   * undefined otherwise (noting when another's lease lapses) or when it failed.
   */
  private async ifOurs<T>(
    p: number,
    act: (revision: number) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      const entry = await this.kv.get(partitionKey(p));
      if (entry?.operation !== 'PUT') return undefined;
      if (entry.string() !== this.o.replicaId) {
        this.othersExpire(entry.created);
        return undefined;
      }
      return await act(entry.revision);
    } catch {
      // Our own key not taken back or freed: the read may have come from a replica of
      // the bucket that lags (KV reads are direct gets, answered by any replica), or the
      // bucket is electing. Soon again, rather than a renewal period later.
      this.retrySoon = true;
      return undefined;
    }
  }

  /**
   * Live replicas, from their presence keys (which expire with the same TTL); the last
   * count when the bucket cannot say. The keys come from `kvKeys` (one stream-info
   * request, never a consumer): ticks run one at a time, so a consumer setup that
   * waited forever on a dead node would stop every renewal.
   */
  private async liveReplicas(): Promise<number> {
    try {
      await this.kv.put(replicaKey(this.o.replicaId), '1');
      let n = 0;
      for (const key of await kvKeys(this.jsm, bucketNames.roomLeases, replicaKey('*'))) {
        // A stopped replica leaves its key deleted (a marker), not gone.
        const entry = key === replicaKey(this.o.replicaId) ? undefined : await this.kv.get(key);
        if (entry !== undefined && entry?.operation !== 'PUT') continue;
        n++;
        if (entry !== undefined) this.othersExpire(entry.created);
      }
      this.lastLive = Math.max(1, n);
    } catch {
      // The bucket electing a leader: nothing learnt.
    }
    return this.lastLive;
  }

  /**
   * Notes when another replica's key, last written at `written` (the server's clock),
   * expires if it is not renewed. A live replica renews well before; a dead one's keys
   * all lapse within moments of each other, and the tick after that takes its
   * partitions: without this, up to a renewal period after the lease ran out.
   */
  private othersExpire(written: Date): void {
    const at = written.getTime() + this.o.leaseMs;
    // Only a key due before the next regular tick matters.
    if (at - Date.now() > this.renewMs) return;
    this.lapseAt = Math.max(this.lapseAt ?? 0, at);
  }

  /**
   * After a tick, an extra one: just after the last of the keys seen lapsing, or soon
   * when a renewal failed (the bucket is back within seconds of an election, and the
   * lease must be renewed before its own clock runs out).
   */
  private scheduleExtraTick(): void {
    const lapse = this.lapseAt === undefined ? undefined : this.lapseAt + LAPSE_MARGIN_MS;
    const retry = this.retrySoon ? Date.now() + this.renewMs / 4 : undefined;
    this.lapseAt = undefined;
    this.retrySoon = false;
    const at = Math.min(lapse ?? Infinity, retry ?? Infinity);
    if (at === Infinity || this.stopped) return;
    clearTimeout(this.extraTimer);
    // The server drops an expired key within milliseconds; the margin covers clock skew too.
    this.extraTimer = setTimeout(() => this.queueTick(), Math.max(0, at - Date.now()));
  }

  /**
   * A partition given back (its key deleted: a replica handing over its excess, or
   * stopping) is taken at once rather than at our next tick: between the two no
   * replica answers for its rooms. An expired key is not seen here (nats-server 2.9
   * removes it silently); the lapse tick covers that. When the watch ends (its node
   * died), the ticks alone go on.
   */
  private async watchReleases(): Promise<void> {
    try {
      const setUp = this.kv.watch({ key: 'partition.*', include: KvWatchInclude.UpdatesOnly });
      this.watchStarted = setUp.catch(() => undefined);
      const watcher = await setUp;
      this.watcher = watcher;
      if (this.stopped) watcher.stop();
      for await (const e of watcher) if (e.operation !== 'PUT') this.queueTick();
    } catch (err) {
      this.o.log.warn('lease watch ended; partitions given back are taken at the next tick', {
        err,
      });
    }
  }

  /** One tick at a time: a slow KV must not pile renewals up. */
  private queueTick(): void {
    this.ticking = this.ticking
      .then(() => this.tick())
      .catch((err: unknown) => this.o.log.warn('lease tick failed', { err }));
  }
}

/** How long after a lapsing key's expiry its partition is tried, in ms. */
const LAPSE_MARGIN_MS = 50;
