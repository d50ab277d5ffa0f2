/**
 * The room service: one actor per room, commands on `room.<id>.cmd`, broadcasts on
 * `room.<id>.bcast`. This file is the composition root and the partition glue; the
 * jobs are in their own files:
 * - room.nats.ts: subscriptions, decoding and checking commands, responding;
 * - room.mailbox.ts: commands for one room decided one at a time, in arrival order;
 * - room.host.ts: decide → append → broadcast → snapshot (room.decide.ts: what each
 *   command becomes; room.pipeline.ts: batched appends; room.stats.ts: room_stats);
 * - room.timers.ts: expiry timers; room.leases.ts: which partitions are ours.
 */
import type { Subscription } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import type { Metrics } from '#shared/runtime/metrics.js';
import { withSpan } from '#shared/runtime/telemetry.js';
import { membersOf, type RoomState } from '#shared/room/room.state.js';
import { systemEnvironment, type RoomEnvironment } from './room.environment.js';
import { RoomHost } from './room.host.js';
import { SoleOwner, partitionOf, type Leases } from './room.leases.js';
import type { RoomLog } from './room.log.js';
import { Mailboxes, type Pending } from './room.mailbox.js';
import { subscribeCommands, subscribeHeartbeats } from './room.nats.js';
import { GatewayWatch } from './room.gateways.js';
import { reportRooms } from './room.gauges.js';
import { loadRooms } from './room.recovery.js';
import { MemorySnapshotStore, type SnapshotStore } from './room.snapshots.js';
import { streamDeadlines } from './room.stream.js';
import { ExpiryTimers } from './room.timers.js';

export { systemEnvironment, type RoomEnvironment } from './room.environment.js';

export interface RoomServiceOptions {
  bus: Bus;
  config: Config['room'];
  log: RoomLog;
  /** Where snapshots go; in memory when absent. */
  snapshots?: SnapshotStore;
  /** Which partitions this replica owns; all of them when absent. */
  leases?: Leases;
  logger: Logger;
  env?: RoomEnvironment;
}

export class RoomService {
  private readonly host: RoomHost;
  private readonly mailboxes: Mailboxes;
  private readonly expiries: ExpiryTimers;
  /** Partitions being loaded: their commands wait for the load. */
  private readonly loading = new Map<number, Promise<void>>();
  /** The lease change being applied: the next one starts after it. */
  private leaseChanges: Promise<void> = Promise.resolve();
  /** Owned partitions whose rooms could not be loaded yet. */
  private readonly unloaded = new Set<number>();
  private readonly gateways: GatewayWatch;
  /** Commands dropped because their partition moved before their turn: counted, and reported as a delta. */
  private commandsMoved = 0;
  private commandsMovedReported = 0;
  /** Partition loads (s) since the last metrics sample; at most 64 (leases flapping). */
  private readonly partitionLoads: number[] = [];
  private readonly subs: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly env: RoomEnvironment;
  private readonly leases: Leases;
  private readonly snapshots: SnapshotStore;

  constructor(private readonly o: RoomServiceOptions) {
    this.env = o.env ?? systemEnvironment;
    this.leases = o.leases ?? new SoleOwner();
    this.snapshots = o.snapshots ?? new MemorySnapshotStore();
    this.mailboxes = new Mailboxes(o.logger);
    this.gateways = new GatewayWatch({
      timeoutMs: o.config.gatewayTimeoutMs,
      now: () => this.env.now(),
      logger: o.logger,
    });
    this.expiries = new ExpiryTimers(
      (roomId, deadline) =>
        void this.mailboxes.enqueue(roomId, () => this.host.expire(roomId, deadline)),
      () => this.env.now(),
    );
    this.host = new RoomHost({
      bus: o.bus,
      config: o.config,
      log: o.log,
      snapshots: this.snapshots,
      logger: o.logger,
      env: this.env,
      replicaId: () => this.leases.replicaId,
      scheduleExpiry: (roomId, at) => this.expiries.schedule(roomId, at),
      owns: (roomId) => this.leases.owns(this.partitionOf(roomId)),
      moved: (commands) => (this.commandsMoved += commands),
      retired: (roomId) => this.expiries.clearRoom(roomId),
    });
  }

  /** Takes its leases, loads the rooms it owns, then answers their commands. */
  async start(): Promise<void> {
    // Every replica hears every command and answers only for the partitions it owns:
    // callers need not know which replica that is, and a moved partition needs no resubscribe.
    this.subs.push(
      ...subscribeCommands(this.o.bus, {
        owns: (roomId) => this.leases.owns(this.partitionOf(roomId)),
        run: (roomId, cmd) => this.run(roomId, cmd),
      }),
    );
    this.subs.push(subscribeHeartbeats(this.o.bus, (gateway) => this.gateways.heard(gateway)));
    // Registered with the server before the first lease: the owner of a room hears its commands.
    await this.o.bus.flush();
    await this.leases.start((gained, lost) => this.onLeases(gained, lost));
    // Commands for partitions being loaded wait for the load; `ready` is after it.
    await Promise.allSettled([...this.loading.values()]);
    this.timers.push(
      setInterval(() => this.sweepGateways(), Math.max(250, this.o.config.gatewayTimeoutMs / 3)),
    );
    this.timers.push(
      setInterval(() => void this.host.snapshotDirty(), this.o.config.snapshotIntervalMs),
    );
  }

  /**
   * Stops taking commands, finishes those under way, snapshots, and gives the leases
   * back. Once: a second call waits for the first.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }
  private stopping: Promise<void> | undefined;

  private async stopOnce(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    for (const t of this.timers) clearInterval(t);
    this.expiries.clearAll();
    await Promise.allSettled([...this.loading.values()]);
    await Promise.allSettled(this.mailboxes.queued());
    await this.host.settled();
    await this.host.snapshotDirty();
    await this.leases.stop();
    this.host.stop();
  }

  /** `room_stats` timers armed now (tests: none is left behind). */
  get statsTimers(): number {
    return this.host.statsTimers;
  }

  /** The number of rooms this service holds. */
  get size(): number {
    return this.host.rooms.size;
  }

  /** Sets the room gauges from the rooms this replica holds (called before each metrics sample). */
  reportMetrics(m: Metrics): void {
    reportRooms(m, this.host.rooms.values());
    let owned = 0;
    for (let p = 0; p < this.leases.partitions; p++) if (this.leases.owns(p)) owned++;
    m.roomPartitions.set(owned);
    m.roomCommandsMoved.add(this.commandsMoved - this.commandsMovedReported);
    this.commandsMovedReported = this.commandsMoved;
    for (const seconds of this.partitionLoads.splice(0)) m.roomPartitionLoad.record(seconds);
  }

  /** Read-only view of one room's state, held or ended and still at hand (tests, metrics). */
  stateOf(roomId: string): RoomState | undefined {
    return (this.host.rooms.get(roomId) ?? this.host.retiredRooms.peek(roomId))?.actor.state;
  }

  /** True while the replica holds the room (an ended room is let go: room.retired.ts). */
  holds(roomId: string): boolean {
    return this.host.rooms.has(roomId);
  }

  /** Handles one command; the caller has serialized it with the room's others. */
  handle(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply> {
    return this.host.handle(roomId, cmd);
  }

  private partitionOf(roomId: string): number {
    return partitionOf(roomId, this.leases.partitions);
  }

  /** A checked command from the bus: queued in its room's mailbox, after its partition's load. */
  private run(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply> {
    const partition = this.partitionOf(roomId);
    const loaded = this.loading.get(partition) ?? Promise.resolve();
    return this.mailboxes.enqueue(roomId, async () => {
      await loaded;
      // Lost the partition before the command's turn came: not run here, and the caller
      // hears so at once rather than timing out (no other replica owned it when it came);
      // its retry reaches the new owner. One started while we owned the partition finishes
      // before the partition is handed over (changeLeases waits for it): its answer is true.
      if (!this.leases.owns(partition)) {
        this.commandsMoved++;
        return now(unavailable('the room is moving to another replica; try again'));
      }
      if (this.unloaded.has(partition))
        return now(unavailable('this room is being loaded; try again'));
      // The span lasts until the answer; the mailbox moves on once the command is decided.
      let decided: Promise<Pending> = Promise.resolve(now(unavailable('not decided')));
      const answer = withSpan(
        `room ${cmd.type}`,
        { 'roomcast.room': roomId, 'roomcast.command': cmd.type },
        () => (decided = this.host.decide(roomId, cmd)).then((p) => p.answer),
      );
      await decided;
      return { answer };
    });
  }

  /**
   * A lease change, as the leases report it (without waiting for us). Changes are
   * applied one at a time, in order: two loads never race to install rooms, and an
   * older load never replaces what a newer command did. What must be decided at
   * once is decided here, before anything else runs:
   * - work already queued for rooms of lost partitions is the work that finishes
   *   before they are dropped;
   * - commands that arrive from now on for gained partitions wait until their rooms
   *   are loaded.
   * A partition lost and taken back in one renewal (its lease lapsed here while the
   * bucket elected a leader) is not dropped, which cost seconds of waiting for its
   * commands: its rooms stay held and only the others are loaded. One written by
   * another replica meanwhile refuses our next append (the log's fence) and is read back.
   */
  private onLeases(gained: number[], reported: number[]): Promise<void> {
    const back = new Set(gained.filter((p) => reported.includes(p)));
    const lost = reported.filter((p) => !back.has(p));
    const gone = new Set(lost);
    const queued = this.mailboxes.queued((id) => gone.has(this.partitionOf(id)));
    let opened = () => {};
    const gate = new Promise<void>((r) => (opened = r));
    for (const p of gained) this.loading.set(p, gate);
    const told = this.env.now();
    const change = this.leaseChanges
      .then(() => this.changeLeases(gained, lost, queued, told))
      .finally(() => {
        opened();
        for (const p of gained) if (this.loading.get(p) === gate) this.loading.delete(p);
      });
    this.leaseChanges = change.catch(() => undefined);
    return change;
  }

  /**
   * Drops (after a last snapshot) the rooms of lost partitions, then loads those of
   * gained ones. How long each step took is logged: a command for a gained partition
   * waits for all of it (`told` is when the change was reported).
   */
  private async changeLeases(
    gained: number[],
    lost: number[],
    queued: Promise<unknown>[],
    told: number,
  ): Promise<void> {
    if (lost.length > 0) {
      const gone = new Set(lost);
      const leaving = [...this.host.rooms.keys()].filter((id) => gone.has(this.partitionOf(id)));
      const began = this.env.now();
      await Promise.allSettled(queued);
      const queuedAt = this.env.now();
      await this.host.settled((id) => gone.has(this.partitionOf(id)));
      const settledAt = this.env.now();
      await Promise.allSettled(leaving.map((id) => this.host.snapshot(id)));
      for (const id of leaving) {
        this.host.drop(id);
        this.expiries.clearRoom(id);
      }
      this.host.retiredRooms.forget((id) => gone.has(this.partitionOf(id)));
      this.o.logger.info('partitions dropped', {
        partitions: lost,
        rooms: leaving.length,
        queuedMs: queuedAt - began,
        settledMs: settledAt - queuedAt,
        snapshotsMs: this.env.now() - settledAt,
      });
    }
    for (const p of lost) this.unloaded.delete(p);
    if (gained.length === 0) return;
    const wanted = new Set(gained);
    try {
      const started = this.env.now();
      const loaded = await loadRooms(
        this.o.log,
        this.snapshots,
        (id) => wanted.has(this.partitionOf(id)),
        this.o.logger,
      );
      for (const [id, entry] of loaded) {
        // Still held (its partition taken back): kept as it is, commands under way and all.
        if (this.host.rooms.has(id)) continue;
        // Held even when the lease looks lapsed now: a partition really lost is a change of
        // its own, after this one, that drops them; one only late to renew keeps them.
        this.host.rooms.set(id, entry);
        for (const m of membersOf(entry.actor.state)) {
          // Gateways we have not heard from yet get a full timeout from now.
          this.gateways.named(m.gateway);
          if (m.awayUntil !== null) this.expiries.schedule(id, m.awayUntil);
        }
        // A stopped stream's "publisher gone" and "room ends" deadlines outlive a restart too.
        for (const deadline of streamDeadlines(entry.actor.state))
          this.expiries.schedule(id, deadline);
        // Found ended by reading its tail: its snapshot is written and it is let go.
        if (entry.actor.ended) void this.host.retire(id);
      }
      const ms = this.env.now() - started;
      this.o.logger.info('partitions loaded', {
        partitions: gained,
        rooms: loaded.size,
        ms,
        // From the change's report to the load's start (the changes before it, the drop).
        waitedMs: started - told,
      });
      if (this.partitionLoads.length < 64) this.partitionLoads.push(ms / 1000);
      for (const p of gained) this.unloaded.delete(p);
    } catch (err) {
      // Owned but not loaded (NATS unreachable?): answer UNAVAILABLE, never "not found", and retry.
      this.o.logger.error('loading partitions failed; retrying', { partitions: gained, err });
      for (const p of gained) this.unloaded.add(p);
      const retry = setTimeout(() => {
        this.timers = this.timers.filter((t) => t !== retry);
        void this.onLeases(
          gained.filter((p) => this.leases.owns(p) && this.unloaded.has(p)),
          [],
        );
      }, 1000);
      this.timers.push(retry);
    }
  }

  /** Members held by a gateway that stopped beaconing are treated as dropped: they get the resume grace. */
  private sweepGateways(): void {
    for (const [roomId, m] of this.gateways.dropped(this.host.rooms)) {
      const { peerId, gateway, conn } = m;
      void this.mailboxes.enqueue(roomId, () =>
        this.host.decide(roomId, { type: 'disconnect', peerId, gateway, conn }),
      );
    }
  }
}

const unavailable = (message: string): AnyRoomReply => ({
  ok: false,
  error: errorBody(ErrorCode.UNAVAILABLE, message),
});

const now = (reply: AnyRoomReply): Pending => ({ answer: Promise.resolve(reply) });
