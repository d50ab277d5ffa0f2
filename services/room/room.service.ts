/**
 * The room service: one actor per room, commands on `room.<id>.cmd`, broadcasts on
 * `room.<id>.bcast`.
 *
 * What must hold:
 * - Commands for one room are handled one at a time, in arrival order (a mailbox
 *   per room), so two joins racing for the publisher slot are decided in order.
 * - A command is answered only after its recorded events are in the room log.
 * - Everything nondeterministic (time, ids, secrets) is made here and passed into
 *   the machine inside the command.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import { decode, type Bus } from '#shared/runtime/bus.js';
import { ErrorCode, RoomcastError, errorBody, type ErrorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { LeaveReason } from '#shared/wire/protocol.js';
import type {
  AnyRoomReply,
  Membership,
  RoomBroadcast,
  RoomCommand,
} from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import { readGatewayBeacon } from '#shared/wire/gateway.beacon.js';
import type { Metrics } from '#shared/runtime/metrics.js';
import { setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import { RoomActor, stateHash, type Decision } from './room.actor.js';
import { SoleOwner, partitionOf, type Leases } from './room.leases.js';
import { LogConflictError, type LogPosition, type RoomLog } from './room.log.js';
import { loadRooms, rebuildRoom, type RoomEntry } from './room.recovery.js';
import { MemorySnapshotStore, type SnapshotRecord, type SnapshotStore } from './room.snapshots.js';
import { peersOf, toLiveRoom, type RoomState } from '#shared/room/room.state.js';
import { streamCommand, streamDeadlines, streamReply } from './room.stream.js';

/** Sources of everything the machine must not make itself. */
export interface RoomEnvironment {
  now(): number;
  /** A new id that is a valid subject token. */
  id(bytes: number): string;
}

export const systemEnvironment: RoomEnvironment = {
  now: () => Date.now(),
  id: (bytes) => randomBytes(bytes).toString('base64url'),
};

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

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const leaveReasons: Partial<Record<RoomEvent['type'], LeaveReason>> = {
  member_left: 'left',
  member_timed_out: 'timeout',
  member_kicked: 'kicked',
};

/** The broadcast a recorded event becomes, if members must see it. */
function broadcastOf(roomId: string, e: RoomEvent, seq: number): RoomBroadcast | undefined {
  switch (e.type) {
    case 'member_joined':
      return {
        type: 'peer_joined',
        room: roomId,
        peer: { peerId: e.peerId, userId: e.userId, role: e.role },
        seq,
      };
    case 'member_left':
    case 'member_timed_out':
    case 'member_kicked':
      return {
        type: 'peer_left',
        room: roomId,
        peerId: e.peerId,
        reason: leaveReasons[e.type] ?? 'left',
        ...(e.type === 'member_kicked' ? { detail: e.reason } : {}),
        seq,
      };
    case 'member_resumed':
      return {
        type: 'peer_resumed',
        room: roomId,
        peerId: e.peerId,
        gateway: e.gateway,
        conn: e.conn,
        seq,
      };
    case 'status_changed':
      return { type: 'room_status', room: roomId, status: e.to, seq };
    case 'room_created':
    case 'member_disconnected':
    case 'publisher_granted':
    case 'publisher_released':
    case 'publisher_refused':
    case 'settings_changed':
    case 'stream_confirmed':
    case 'stream_stopped':
    case 'publisher_gone':
    case 'stream_viewer_joined':
    case 'stream_viewer_left':
    case 'hand_raised':
    case 'hand_lowered':
    case 'member_promoted':
    case 'member_demoted':
      return undefined;
  }
}

export class RoomService {
  private readonly rooms = new Map<string, RoomEntry>();
  /** Per-room mailbox: the promise of the last queued command. */
  private readonly mailboxes = new Map<string, Promise<unknown>>();
  /** Partitions being loaded: their commands wait for the load. */
  private readonly loading = new Map<number, Promise<void>>();
  /** The lease change being applied: the next one starts after it. */
  private leaseChanges: Promise<void> = Promise.resolve();
  /** Owned partitions whose rooms could not be loaded yet. */
  private readonly unloaded = new Set<number>();
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly gatewaysSeen = new Map<string, number>();
  /** Rooms dropped because their log could not be read: reloaded on their next command. */
  private readonly failedRooms = new Set<string>();
  /** Rooms with a snapshot write under way (one at a time per room). */
  private readonly snapshotting = new Set<string>();
  /**
   * Rooms whose actor has decided a command the log has not confirmed yet. Their
   * state is ahead of the log until the append returns: no snapshot of it then,
   * or a crash (or a failed append) would restore a transition the log never held.
   */
  private readonly appending = new Set<string>();
  /** Commands dropped because their partition moved before their turn: counted, and reported as a delta. */
  private commandsMoved = 0;
  private commandsMovedReported = 0;
  private readonly subs: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly env: RoomEnvironment;
  private readonly leases: Leases;
  private readonly snapshots: SnapshotStore;

  constructor(private readonly o: RoomServiceOptions) {
    this.env = o.env ?? systemEnvironment;
    this.leases = o.leases ?? new SoleOwner();
    this.snapshots = o.snapshots ?? new MemorySnapshotStore();
  }

  /** Takes its leases, loads the rooms it owns, then answers their commands. */
  async start(): Promise<void> {
    // Every replica hears every command and answers only for the partitions it owns:
    // callers need not know which replica that is, and a moved partition needs no resubscribe.
    this.subs.push(this.o.bus.subscribe(subjects.roomCommandAll, (msg) => this.onCommand(msg)));
    this.subs.push(
      this.o.bus.subscribe(subjects.gatewayHeartbeatAll, (msg) => {
        this.gatewaysSeen.set(readGatewayBeacon(msg.subject, msg.data).gateway, this.env.now());
      }),
    );
    // Registered with the server before the first lease: the owner of a room hears its commands.
    await this.o.bus.flush();
    await this.leases.start((gained, lost) => this.onLeases(gained, lost));
    // Commands for partitions being loaded wait for the load; `ready` is after it.
    await Promise.allSettled([...this.loading.values()]);
    this.timers.push(
      setInterval(() => this.sweepGateways(), Math.max(250, this.o.config.gatewayTimeoutMs / 3)),
    );
    this.timers.push(
      setInterval(() => void this.snapshotDirty(), this.o.config.snapshotIntervalMs),
    );
  }

  /** Stops taking commands, finishes those under way, snapshots, and gives the leases back. */
  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    for (const t of this.timers) clearInterval(t);
    for (const t of this.expiryTimers.values()) clearTimeout(t);
    await Promise.allSettled([...this.loading.values()]);
    await Promise.allSettled([...this.mailboxes.values()]);
    await this.snapshotDirty(true);
    await this.leases.stop();
    for (const r of this.rooms.values()) r.actor.stop();
  }

  /** The number of rooms this service holds. */
  get size(): number {
    return this.rooms.size;
  }

  /** Sets the room gauges from the rooms this replica holds (called before each metrics sample). */
  reportMetrics(m: Metrics): void {
    const byStatus = { preparing: 0, live: 0, ended: 0 };
    const byRole = { publisher: 0, cohost: 0, viewer: 0 };
    const byKind = { peer: 0, stream: 0 };
    for (const { actor } of this.rooms.values()) {
      const s = actor.state;
      byStatus[s.status]++;
      for (const member of Object.values(s.members)) byRole[member.role]++;
      if (s.publisher !== null) byKind[s.publisher.kind]++;
    }
    for (const [status, n] of Object.entries(byStatus)) m.rooms.set(n, { status });
    for (const [role, n] of Object.entries(byRole)) m.members.set(n, { role });
    for (const [kind, n] of Object.entries(byKind)) m.publishers.set(n, { kind });
    let owned = 0;
    for (let p = 0; p < this.leases.partitions; p++) if (this.leases.owns(p)) owned++;
    m.roomPartitions.set(owned);
    m.roomCommandsMoved.add(this.commandsMoved - this.commandsMovedReported);
    this.commandsMovedReported = this.commandsMoved;
  }

  /** Read-only view of one room's state (tests, metrics). */
  stateOf(roomId: string): RoomState | undefined {
    return this.rooms.get(roomId)?.actor.state;
  }

  private partitionOf(roomId: string): number {
    return partitionOf(roomId, this.leases.partitions);
  }

  private onCommand(msg: Msg): void {
    const roomId = msg.subject.split('.')[1] ?? '';
    const partition = this.partitionOf(roomId);
    if (!this.leases.owns(partition)) return; // its owner answers
    let cmd: RoomCommand;
    try {
      cmd = decode<RoomCommand>(msg.data);
    } catch {
      this.o.bus.respond(msg, {
        ok: false,
        error: errorBody(ErrorCode.BAD_FRAME, 'command is not JSON'),
      });
      return;
    }
    const loaded = this.loading.get(partition) ?? Promise.resolve();
    void this.enqueue(roomId, async () => {
      await loaded;
      // Lost the partition before the command's turn came: it is not run here, and
      // the caller hears so at once rather than timing out (no other replica answers
      // it: none owned the partition when it arrived). Its retry reaches the new
      // owner. A command that started while we owned the partition finishes before
      // the partition is handed over (changeLeases waits for it), so its answer is true.
      if (!this.leases.owns(partition)) {
        this.commandsMoved++;
        return fail(ErrorCode.UNAVAILABLE, 'the room is moving to another replica; try again');
      }
      if (this.unloaded.has(partition))
        return fail(ErrorCode.UNAVAILABLE, 'this room is being loaded; try again');
      return withSpan(
        `room ${cmd.type}`,
        { 'roomcast.room': roomId, 'roomcast.command': cmd.type },
        () => this.handle(roomId, cmd),
      );
    }).then((reply) => this.o.bus.respond(msg, reply));
  }

  /** Runs `task` after every earlier task of the same room; never rejects. */
  private enqueue(roomId: string, task: () => Promise<AnyRoomReply>): Promise<AnyRoomReply> {
    const prev = this.mailboxes.get(roomId) ?? Promise.resolve();
    const run = prev.then(task).catch((err: unknown): AnyRoomReply => {
      if (err instanceof RoomcastError) return { ok: false, error: err.toBody() };
      this.o.logger.error('command failed', { roomId, err });
      return { ok: false, error: errorBody(ErrorCode.INTERNAL) };
    });
    this.mailboxes.set(roomId, run);
    void run.then(() => {
      if (this.mailboxes.get(roomId) === run) this.mailboxes.delete(roomId);
    });
    return run;
  }

  /**
   * A lease change, as the leases report it (without waiting for us). Changes are
   * applied one at a time, in order: two loads never race to install rooms, and an
   * older load never replaces what a newer command did. What must be decided at
   * once is decided here, before anything else runs:
   * - work already queued for rooms of lost partitions is the work that finishes
   *   before they are dropped;
   * - commands that arrive from now on for gained partitions (a partition lost and
   *   taken back in one renewal is both) wait until their rooms are loaded.
   */
  private onLeases(gained: number[], lost: number[]): Promise<void> {
    const gone = new Set(lost);
    const queued = [...this.mailboxes]
      .filter(([id]) => gone.has(this.partitionOf(id)))
      .map(([, work]) => work);
    let opened = () => {};
    const gate = new Promise<void>((r) => (opened = r));
    for (const p of gained) this.loading.set(p, gate);
    const change = this.leaseChanges
      .then(() => this.changeLeases(gained, lost, queued))
      .finally(() => {
        opened();
        for (const p of gained) if (this.loading.get(p) === gate) this.loading.delete(p);
      });
    this.leaseChanges = change.catch(() => undefined);
    return change;
  }

  /** Drops (after a last snapshot) the rooms of lost partitions, then loads those of gained ones. */
  private async changeLeases(
    gained: number[],
    lost: number[],
    queued: Promise<unknown>[],
  ): Promise<void> {
    if (lost.length > 0) {
      const gone = new Set(lost);
      const leaving = [...this.rooms.keys()].filter((id) => gone.has(this.partitionOf(id)));
      await Promise.allSettled(queued);
      await Promise.allSettled(leaving.map((id) => this.snapshot(id)));
      for (const id of leaving) {
        this.rooms.get(id)?.actor.stop();
        this.rooms.delete(id);
        for (const [key, t] of this.expiryTimers) {
          if (key.startsWith(`${id}:`)) {
            clearTimeout(t);
            this.expiryTimers.delete(key);
          }
        }
      }
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
      const now = this.env.now();
      for (const [id, entry] of loaded) {
        // Lost again while loading: not ours to hold.
        if (!this.leases.owns(this.partitionOf(id))) continue;
        this.rooms.set(id, entry);
        for (const m of Object.values(entry.actor.state.members)) {
          // Gateways we have not heard from yet get a full timeout from now.
          if (!this.gatewaysSeen.has(m.gateway)) this.gatewaysSeen.set(m.gateway, now);
          if (m.awayUntil !== null) this.scheduleExpiry(id, m.awayUntil);
        }
        // A stopped stream's "publisher gone" and "room ends" deadlines outlive a restart too.
        for (const deadline of streamDeadlines(entry.actor.state))
          this.scheduleExpiry(id, deadline);
      }
      this.o.logger.info('partitions loaded', {
        partitions: gained,
        rooms: loaded.size,
        ms: now - started,
      });
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

  /** Handles one command; the caller has serialized it with the room's others. */
  async handle(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply> {
    if (!isSubjectToken(roomId)) return fail(ErrorCode.BAD_FRAME, 'invalid room id');
    if (this.failedRooms.has(roomId)) {
      this.failedRooms.delete(roomId);
      await this.reload(roomId);
      if (this.failedRooms.has(roomId))
        return fail(ErrorCode.UNAVAILABLE, 'the room log cannot be read; try again');
    }
    if (cmd.type === 'create') return this.create(roomId, cmd);
    const entry = this.rooms.get(roomId);
    if (entry === undefined) return fail(ErrorCode.ROOM_NOT_FOUND);
    const room = entry.actor;
    if (cmd.type === 'state') {
      return {
        ok: true,
        seq: room.state.seq,
        status: room.status,
        hash: stateHash(room),
        state: room.state,
        owner: this.leases.replicaId,
      };
    }
    if (cmd.type === 'get') {
      const withKey = cmd.userId === undefined || cmd.userId === room.state.ownerId;
      const s = room.state;
      if (s.settings.isPrivate && cmd.userId !== undefined && cmd.userId !== s.ownerId) {
        const p = cmd.perms;
        if (p === undefined || !(p.view || p.publish || p.admin))
          return fail(ErrorCode.ROOM_NOT_FOUND);
      }
      return { ok: true, room: toLiveRoom(s, withKey), peers: peersOf(s) };
    }
    if (room.ended) return fail(ErrorCode.ROOM_ENDED);
    const at = this.env.now();

    switch (cmd.type) {
      case 'join': {
        const peerId = cmd.peerId;
        if (!isSubjectToken(peerId)) return fail(ErrorCode.BAD_FRAME, 'invalid peer id');
        const secret = this.env.id(24);
        const d = await this.commit(roomId, entry, {
          type: 'join',
          peerId,
          userId: cmd.userId,
          role: cmd.role,
          perms: cmd.perms,
          gateway: cmd.gateway,
          conn: cmd.conn,
          resumeHash: sha256(secret),
          at,
        });
        return d.refused
          ? refusal(d)
          : { ok: true, ...this.membership(room.state, peerId, `${peerId}.${secret}`) };
      }
      case 'resume': {
        const [peerId = '', secret = ''] = cmd.token.split('.');
        const d = await this.commit(roomId, entry, {
          type: 'resume',
          peerId,
          resumeHash: sha256(secret),
          userId: cmd.userId,
          gateway: cmd.gateway,
          conn: cmd.conn,
          at,
        });
        return d.refused
          ? refusal(d)
          : { ok: true, ...this.membership(room.state, peerId, cmd.token) };
      }
      case 'leave': {
        const d = await this.commit(roomId, entry, {
          type: 'leave',
          peerId: cmd.peerId,
          userId: cmd.userId,
          at,
        });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      case 'disconnect': {
        const awayUntil = at + this.o.config.resumeGraceMs;
        await this.commit(roomId, entry, {
          type: 'disconnect',
          peerId: cmd.peerId,
          conn: cmd.conn,
          awayUntil,
          at,
        });
        return { ok: true, seq: room.state.seq };
      }
      case 'set_status': {
        const d = await this.commit(roomId, entry, {
          type: 'set_status',
          status: cmd.status,
          userId: cmd.userId,
          perms: cmd.perms,
          at,
        });
        if (d.refused) {
          const current = room.state.status;
          return {
            ok: false,
            error: errorBody(
              d.refused.code,
              `${d.refused.message ?? d.refused.code} (status is ${current})`,
            ),
          };
        }
        return { ok: true, room: toLiveRoom(room.state, cmd.userId === room.state.ownerId) };
      }
      case 'kick': {
        const d = await this.commit(roomId, entry, {
          type: 'kick',
          peerId: cmd.peerId,
          reason: cmd.reason,
          userId: cmd.userId,
          perms: cmd.perms,
          at,
        });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      // The stream service (SRS's side): decided in room.stream.ts. The absence of a
      // stopped stream is timed with the member expiry timers.
      case 'stream_publish':
      case 'stream_confirm':
      case 'stream_unpublish':
      case 'stream_play':
      case 'stream_stop':
      case 'stream_sync':
      case 'stream_expire': {
        const { event, kick } = streamCommand(room.state, cmd, at);
        const d = await this.commit(roomId, entry, event);
        for (const deadline of streamDeadlines(room.state)) this.scheduleExpiry(roomId, deadline);
        return d.refused ? refusal(d) : streamReply(room.state, cmd, kick);
      }
      case 'stream_status':
        return streamReply(room.state, cmd, []);
      default:
        return fail(ErrorCode.BAD_FRAME, 'unknown command');
    }
  }

  private async create(
    roomId: string,
    cmd: Extract<RoomCommand, { type: 'create' }>,
  ): Promise<AnyRoomReply> {
    if (this.rooms.has(roomId)) return fail(ErrorCode.ROOM_EXISTS);
    const maxViewers = cmd.maxViewers ?? this.o.config.defaultMaxViewers;
    const maxTitle = this.o.config.maxTitleChars;
    if (typeof cmd.title !== 'string' || cmd.title.length === 0 || cmd.title.length > maxTitle) {
      return fail(ErrorCode.BAD_FRAME, `title: 1 to ${maxTitle} characters`);
    }
    if (
      !Number.isInteger(maxViewers) ||
      maxViewers < 1 ||
      maxViewers > this.o.config.maxViewersLimit
    ) {
      return fail(
        ErrorCode.BAD_FRAME,
        `maxViewers: an integer from 1 to ${this.o.config.maxViewersLimit}`,
      );
    }
    const created = {
      type: 'room_created',
      v: 1,
      at: this.env.now(),
      roomId,
      ownerId: cmd.userId,
      settings: { title: cmd.title, isPrivate: cmd.isPrivate, maxViewers },
      streamKey: this.env.id(24),
    } as const;
    let streamSeq: number;
    try {
      streamSeq = await this.o.log.append(roomId, [created], { seq: 0, streamSeq: 0 });
    } catch (err) {
      // A conflict here means the id is taken in the log although not loaded here: never reuse it.
      if (err instanceof LogConflictError) return fail(ErrorCode.ROOM_EXISTS);
      throw new RoomcastError(ErrorCode.UNAVAILABLE, 'the room log did not confirm the write', {
        cause: err,
      });
    }
    const entry: RoomEntry = {
      actor: RoomActor.create(created),
      streamSeq,
      batches: 1,
      snapSeq: 0,
    };
    this.rooms.set(roomId, entry);
    // A first snapshot right away: a restart then finds the room without scanning the log.
    void this.snapshot(roomId);
    return { ok: true, room: toLiveRoom(entry.actor.state, true) };
  }

  /**
   * Decides a command, appends what it recorded, then broadcasts: nothing is
   * broadcast or answered that the log does not hold. When the append fails the
   * actor is ahead of its log (or behind another writer's): the room is rebuilt
   * from the log before anything else touches it, and the caller hears UNAVAILABLE.
   */
  private async commit(
    roomId: string,
    entry: RoomEntry,
    command: Parameters<RoomActor['decide']>[0],
  ): Promise<Decision> {
    const at = { seq: entry.actor.state.seq, streamSeq: entry.streamSeq };
    // The span covers the decision and its append: a transition is done once it is in the log.
    const d = await withSpan(
      'room transition',
      { 'roomcast.room': roomId, 'roomcast.command': command.type },
      async () => {
        this.appending.add(roomId);
        try {
          const decision = entry.actor.decide(command);
          setSpanAttributes({
            'roomcast.recorded': decision.recorded.map((e) => e.type).join(','),
            ...(decision.refused ? { 'roomcast.refused': decision.refused.code } : {}),
          });
          if (decision.recorded.length > 0) await this.record(roomId, entry, decision, at);
          return decision;
        } finally {
          this.appending.delete(roomId);
        }
      },
    );
    if (d.recorded.length === 0) return d;
    d.recorded.forEach((e, i) => {
      const b = broadcastOf(roomId, e, at.seq + i + 1);
      if (b !== undefined) this.o.bus.publish(subjects.roomBroadcast(roomId), b);
      if (e.type === 'member_disconnected') this.scheduleExpiry(roomId, e.awayUntil);
    });
    if (entry.actor.state.seq - entry.snapSeq >= this.o.config.snapshotEvery)
      void this.snapshot(roomId);
    return d;
  }

  /** Appends what a decision recorded; when the log does not confirm it, the room is rebuilt from the log. */
  private async record(
    roomId: string,
    entry: RoomEntry,
    d: Decision,
    at: LogPosition,
  ): Promise<void> {
    try {
      entry.streamSeq = await this.o.log.append(roomId, d.recorded, at);
      entry.batches++;
    } catch (err) {
      this.o.logger.warn('append failed; reloading the room from its log', { roomId, err });
      await this.reload(roomId);
      throw new RoomcastError(
        ErrorCode.UNAVAILABLE,
        'the room log did not confirm the write; try again',
        { cause: err },
      );
    }
  }

  /** Replaces the room with what its log says; if the log cannot be read, drops it until it can. */
  private async reload(roomId: string): Promise<void> {
    const old = this.rooms.get(roomId);
    try {
      const { entry } = await rebuildRoom(this.o.log, roomId);
      if (entry === undefined) this.rooms.delete(roomId);
      else this.rooms.set(roomId, entry);
    } catch (err) {
      // Unreadable now (NATS down): forget it; the next load of its partition brings it back.
      this.o.logger.error('room reload failed', { roomId, err });
      this.rooms.delete(roomId);
      this.failedRooms.add(roomId);
    }
    old?.actor.stop();
  }

  /**
   * Writes the room's snapshot (at most one write per room in flight). Skipped while
   * an append is under way: the next interval (or the next commit) takes it.
   */
  private async snapshot(roomId: string): Promise<void> {
    const entry = this.rooms.get(roomId);
    if (entry === undefined || this.snapshotting.has(roomId) || this.appending.has(roomId)) return;
    this.snapshotting.add(roomId);
    const record: SnapshotRecord = {
      v: 1,
      roomId,
      seq: entry.actor.state.seq,
      streamSeq: entry.streamSeq,
      batches: entry.batches,
      snapshot: entry.actor.persisted(),
    };
    try {
      await this.snapshots.save(record);
      entry.snapSeq = Math.max(entry.snapSeq, record.seq);
    } catch (err) {
      this.o.logger.warn('snapshot failed', { roomId, err });
    } finally {
      this.snapshotting.delete(roomId);
    }
  }

  /** Snapshots every room with events not in its snapshot yet. */
  private async snapshotDirty(all = false): Promise<void> {
    const dirty = [...this.rooms]
      .filter(([, e]) => e.actor.state.seq > e.snapSeq)
      .map(([id]) => id);
    if (!all && dirty.length === 0) return;
    await Promise.allSettled(dirty.map((id) => this.snapshot(id)));
  }

  private scheduleExpiry(roomId: string, awayUntil: number): void {
    const key = `${roomId}:${awayUntil}`;
    if (this.expiryTimers.has(key)) return;
    const timer = setTimeout(
      () => {
        this.expiryTimers.delete(key);
        void this.enqueue(roomId, async () => {
          const entry = this.rooms.get(roomId);
          if (entry === undefined || entry.actor.ended) return { ok: true };
          // Timers may fire a little early by the wall clock: expire as of the deadline at the earliest.
          await this.commit(roomId, entry, {
            type: 'expire',
            at: Math.max(this.env.now(), awayUntil),
          });
          return { ok: true };
        });
      },
      Math.max(0, awayUntil - this.env.now()),
    );
    this.expiryTimers.set(key, timer);
  }

  /** Members held by a gateway that stopped beaconing are treated as dropped: they get the resume grace. */
  private sweepGateways(): void {
    const now = this.env.now();
    const dead = new Set<string>();
    for (const [gateway, seen] of this.gatewaysSeen) {
      if (now - seen > this.o.config.gatewayTimeoutMs) dead.add(gateway);
    }
    if (dead.size === 0) return;
    for (const g of dead) this.gatewaysSeen.delete(g);
    this.o.logger.warn('gateways presumed dead', { gateways: [...dead] });
    for (const [roomId, { actor }] of this.rooms) {
      if (actor.ended) continue;
      for (const m of Object.values(actor.state.members)) {
        if (!dead.has(m.gateway) || m.awayUntil !== null) continue;
        void this.enqueue(roomId, () =>
          this.handle(roomId, {
            type: 'disconnect',
            peerId: m.peerId,
            gateway: m.gateway,
            conn: m.conn,
          }),
        );
      }
    }
  }

  private membership(s: RoomState, peerId: string, resume: string): Membership {
    const me = s.members[peerId];
    return {
      peerId,
      role: me?.role ?? 'viewer',
      peers: peersOf(s).filter((p) => p.peerId !== peerId),
      status: s.status,
      resume,
      seq: s.seq,
    };
  }
}

function fail(code: ErrorCode, message?: string): { ok: false; error: ErrorBody } {
  return { ok: false, error: errorBody(code, message) };
}

function refusal(d: Decision): { ok: false; error: ErrorBody } {
  return fail(d.refused?.code ?? ErrorCode.INTERNAL, d.refused?.message);
}
