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
import { decode, type Bus } from '#shared/bus.js';
import { ErrorCode, RoomcastError, errorBody, type ErrorBody } from '#shared/errors.js';
import type { Logger } from '#shared/log.js';
import type { LeaveReason } from '#shared/protocol.js';
import type {
  AnyRoomReply,
  Membership,
  RoomBroadcast,
  RoomCommand,
} from '#shared/room.commands.js';
import type { RoomEvent } from '#shared/room.events.js';
import { isSubjectToken, subjects } from '#shared/subjects.js';
import { RoomActor, type Decision } from './room.actor.js';
import type { RoomLog } from './room.log.js';
import { peersOf, toLiveRoom, type RoomState } from './room.state.js';
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
  logger: Logger;
  env?: RoomEnvironment;
}

const MAX_TITLE = 200;
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
      return undefined;
  }
}

export class RoomService {
  private readonly rooms = new Map<string, RoomActor>();
  /** Per-room mailbox: the promise of the last queued command. */
  private readonly mailboxes = new Map<string, Promise<unknown>>();
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly gatewaysSeen = new Map<string, number>();
  private readonly subs: Subscription[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly env: RoomEnvironment;

  constructor(private readonly o: RoomServiceOptions) {
    this.env = o.env ?? systemEnvironment;
  }

  /** Starts taking commands (as one member of the `room` queue group). */
  start(): void {
    this.subs.push(
      this.o.bus.subscribe(subjects.roomCommandAll, (msg) => this.onCommand(msg), {
        queue: 'room',
      }),
    );
    this.subs.push(
      this.o.bus.subscribe(subjects.gatewayHeartbeatAll, (msg) => {
        this.gatewaysSeen.set(msg.subject.split('.')[1] ?? '', this.env.now());
      }),
    );
    this.sweepTimer = setInterval(
      () => this.sweepGateways(),
      Math.max(250, this.o.config.gatewayTimeoutMs / 3),
    );
  }

  /** Stops taking commands and waits for those under way. */
  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    clearInterval(this.sweepTimer);
    for (const t of this.expiryTimers.values()) clearTimeout(t);
    await Promise.allSettled([...this.mailboxes.values()]);
    for (const r of this.rooms.values()) r.stop();
  }

  /** The number of rooms this service holds. */
  get size(): number {
    return this.rooms.size;
  }

  /** Read-only view of one room's state (tests, metrics). */
  stateOf(roomId: string): RoomState | undefined {
    return this.rooms.get(roomId)?.state;
  }

  private onCommand(msg: Msg): void {
    const roomId = msg.subject.split('.')[1] ?? '';
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
    void this.enqueue(roomId, () => this.handle(roomId, cmd)).then((reply) =>
      this.o.bus.respond(msg, reply),
    );
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

  /** Handles one command; the caller has serialized it with the room's others. */
  async handle(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply> {
    if (!isSubjectToken(roomId)) return fail(ErrorCode.BAD_FRAME, 'invalid room id');
    if (cmd.type === 'create') return this.create(roomId, cmd);
    const room = this.rooms.get(roomId);
    if (room === undefined) return fail(ErrorCode.ROOM_NOT_FOUND);
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
        const d = await this.commit(roomId, room, {
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
        const d = await this.commit(roomId, room, {
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
        const d = await this.commit(roomId, room, {
          type: 'leave',
          peerId: cmd.peerId,
          userId: cmd.userId,
          at,
        });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      case 'disconnect': {
        const awayUntil = at + this.o.config.resumeGraceMs;
        await this.commit(roomId, room, {
          type: 'disconnect',
          peerId: cmd.peerId,
          conn: cmd.conn,
          awayUntil,
          at,
        });
        return { ok: true, seq: room.state.seq };
      }
      case 'set_status': {
        const d = await this.commit(roomId, room, {
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
        const d = await this.commit(roomId, room, {
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
        const d = await this.commit(roomId, room, event);
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
    if (typeof cmd.title !== 'string' || cmd.title.length === 0 || cmd.title.length > MAX_TITLE) {
      return fail(ErrorCode.BAD_FRAME, `title: 1 to ${MAX_TITLE} characters`);
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
    await this.o.log.append(roomId, [created], 0);
    const room = RoomActor.create(created);
    this.rooms.set(roomId, room);
    return { ok: true, room: toLiveRoom(room.state, true) };
  }

  /**
   * Decides a command, appends what it recorded, then broadcasts: nothing is
   * broadcast or answered that the log does not hold.
   */
  private async commit(
    roomId: string,
    room: RoomActor,
    command: Parameters<RoomActor['decide']>[0],
  ): Promise<Decision> {
    const seqBefore = room.state.seq;
    const d = room.decide(command);
    if (d.recorded.length === 0) return d;
    try {
      await this.o.log.append(roomId, d.recorded, seqBefore);
    } catch (err) {
      throw new RoomcastError(ErrorCode.UNAVAILABLE, 'the room log refused the write', {
        cause: err,
      });
    }
    d.recorded.forEach((e, i) => {
      const b = broadcastOf(roomId, e, seqBefore + i + 1);
      if (b !== undefined) this.o.bus.publish(subjects.roomBroadcast(roomId), b);
      if (e.type === 'member_disconnected') this.scheduleExpiry(roomId, e.awayUntil);
    });
    return d;
  }

  private scheduleExpiry(roomId: string, awayUntil: number): void {
    const key = `${roomId}:${awayUntil}`;
    if (this.expiryTimers.has(key)) return;
    const timer = setTimeout(
      () => {
        this.expiryTimers.delete(key);
        void this.enqueue(roomId, async () => {
          const room = this.rooms.get(roomId);
          if (room === undefined || room.ended) return { ok: true };
          await this.commit(roomId, room, { type: 'expire', at: this.env.now() });
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
    for (const [roomId, room] of this.rooms) {
      if (room.ended) continue;
      for (const m of Object.values(room.state.members)) {
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
