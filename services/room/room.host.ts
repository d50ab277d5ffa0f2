/**
 * The host loop of the rooms this replica holds: decide → append → broadcast →
 * snapshot. Commands arrive here one at a time per room (the mailbox serializes
 * their decisions) and already checked against their schemas (room.nats.ts).
 * Appends are batched per room (room.pipeline.ts): `decide` returns once the
 * command is decided; its answer comes once the log holds what it recorded.
 *
 * What must hold:
 * - A command is answered only after its recorded events are in the room log, and
 *   a room's commands are answered (and their events broadcast) in decision order.
 * - Everything nondeterministic (time, ids, secrets) is made here and passed into
 *   the machine inside the command.
 */
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import { ErrorCode } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import { isTracing, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import type { Decision } from './room.actor.js';
import { createRoom } from './room.create.js';
import { decideCommand, type Committed, type MachineCommand } from './room.decide.js';
import type { RoomEnvironment } from './room.environment.js';
import type { RoomLog } from './room.log.js';
import type { Pending } from './room.mailbox.js';
import { RoomPipeline, type Outcome } from './room.pipeline.js';
import { rebuildRoom, type RoomEntry } from './room.recovery.js';
import { fail } from './room.replies.js';
import { SnapshotWriter } from './room.snapshot.writer.js';
import type { SnapshotStore } from './room.snapshots.js';
import { RoomStatsPublisher } from './room.stats.js';
import { RetiredRooms } from './room.retired.js';

export interface RoomHostOptions {
  bus: Bus;
  config: Config['room'];
  log: RoomLog;
  snapshots: SnapshotStore;
  logger: Logger;
  env: RoomEnvironment;
  /** The replica answering (`state` tells it). */
  replicaId: () => string;
  /** Arms a timer that expires the room's due members and stream deadlines at `at`. */
  scheduleExpiry: (roomId: string, at: number) => void;
  /** True while the room's partition is ours (a batch of a room that moved is not appended). */
  owns: (roomId: string) => boolean;
  /** Commands not run because their room moved to another replica. */
  moved: (commands: number) => void;
  /** A room this replica let go of because it ended (its timers may go). */
  retired: (roomId: string) => void;
}

export class RoomHost {
  /** The rooms this replica holds. */
  readonly rooms = new Map<string, RoomEntry>();
  /** Rooms whose log is not known for sure, with where it is known to reach: read back before use. */
  private readonly failedRooms = new Map<string, number>();
  /**
   * The rooms' appends. A room with decided events the log has not confirmed is
   * `busy`: its state is ahead of the log, so no snapshot of it then, or a crash
   * (or a failed append) would restore a transition the log never held.
   */
  private readonly pipeline: RoomPipeline;
  private readonly stats: RoomStatsPublisher;
  private readonly snapshots: SnapshotWriter;
  /** Ended rooms this replica let go of (room.retired.ts). */
  readonly retiredRooms: RetiredRooms;

  constructor(private readonly o: RoomHostOptions) {
    this.retiredRooms = new RetiredRooms(o.config.endedKept);
    this.stats = new RoomStatsPublisher(o.bus, o.config.statsIntervalMs, () => o.env.now());
    this.pipeline = new RoomPipeline({
      log: o.log,
      batchMax: o.config.appendBatchMax,
      owns: o.owns,
      confirmed: (roomId, entry, batch) => {
        if (entry.actor.ended) {
          this.stats.clear(roomId);
          void this.retire(roomId);
          return;
        }
        this.stats.changed(roomId, batch.before, batch.after);
        if (this.snapshots.due(entry, this.o.config.snapshotEvery)) void this.snapshot(roomId);
      },
      failed: async (roomId, err, commands, moved) => {
        if (moved) this.o.moved(commands);
        else this.o.logger.warn('append failed; reloading the room from its log', { roomId, err });
        await this.reload(roomId);
      },
    });
    this.snapshots = new SnapshotWriter(
      this.rooms,
      o.snapshots,
      (id) => this.pipeline.busy(id),
      o.logger,
    );
  }

  /** Handles one command and waits for its answer (rejects with a RoomcastError when the log failed). */
  async handle(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply> {
    return (await this.decide(roomId, cmd)).answer;
  }

  /** Resolves when the rooms `which` selects have nothing unconfirmed. */
  settled(which?: (roomId: string) => boolean): Promise<void> {
    return this.pipeline.settled(which);
  }

  /** Forgets a room this replica no longer holds. */
  drop(roomId: string): void {
    this.rooms.get(roomId)?.actor.stop();
    this.rooms.delete(roomId);
    this.stats.clear(roomId);
  }

  get statsTimers(): number {
    return this.stats.armed;
  }

  stop(): void {
    this.stats.clearAll();
    for (const r of this.rooms.values()) r.actor.stop();
  }

  /**
   * Decides one command; the caller has serialized it with the room's others. Resolves
   * once decided (when the room can take it: no rebuild under way, room in the next
   * batch); the answer follows.
   */
  async decide(roomId: string, cmd: RoomCommand): Promise<Pending> {
    if (!isSubjectToken(roomId)) return now(fail(ErrorCode.BAD_FRAME, 'invalid room id'));
    const unreadable = await this.ready(roomId);
    if (unreadable !== undefined) return unreadable;
    // From here on nothing waits: the command is decided against the room as it is now.
    if (cmd.type === 'create') {
      if (this.rooms.has(roomId)) return this.after(roomId, fail(ErrorCode.ROOM_EXISTS));
      const { reply, entry, unsure } = await createRoom(this.o, roomId, cmd);
      // Maybe in the log after all: read back at its next command (a retried create finds it).
      if (unsure) this.failedRooms.set(roomId, 0);
      if (entry !== undefined) {
        this.rooms.set(roomId, entry);
        // A first snapshot right away: a restart then finds the room without scanning the log.
        void this.snapshot(roomId);
      }
      return now(reply);
    }
    let entry = this.rooms.get(roomId);
    if (entry === undefined) {
      try {
        entry = await this.retiredRooms.find(roomId, this.o.log, this.o.snapshots);
      } catch {
        return now(fail(ErrorCode.UNAVAILABLE, 'the room log cannot be read; try again'));
      }
      if (entry === undefined) return this.after(roomId, fail(ErrorCode.ROOM_NOT_FOUND));
    }
    return decideCommand(
      {
        config: this.o.config,
        env: this.o.env,
        replicaId: this.o.replicaId,
        commit: (command, deadlines) => this.commit(roomId, entry, command, deadlines),
        after: (reply) => this.after(roomId, reply),
      },
      entry.actor,
      cmd,
    );
  }

  /**
   * Resolves when the room can take a command (its log readable, no rebuild under
   * way, room in its next batch); with the refusal when its log cannot be read.
   */
  private async ready(roomId: string): Promise<Pending | undefined> {
    for (;;) {
      const reaches = this.failedRooms.get(roomId);
      if (reaches !== undefined) {
        this.failedRooms.delete(roomId);
        await this.reload(roomId, reaches);
        if (this.failedRooms.has(roomId))
          return now(fail(ErrorCode.UNAVAILABLE, 'the room log cannot be read; try again'));
      }
      if (this.pipeline.canTake(roomId)) return undefined;
      await this.pipeline.changed(roomId);
    }
  }

  /**
   * Decides a command and hands what it recorded to the pipeline. Its answer (and its
   * broadcasts, and the expiry timers it needs) wait for the batch holding its events,
   * or, if it recorded none, for every command decided before it: nothing is broadcast
   * or answered that the log does not hold. When the batch fails the room is rebuilt
   * from its log (room.pipeline.ts) and the caller hears UNAVAILABLE.
   */
  private commit(
    roomId: string,
    entry: RoomEntry,
    command: MachineCommand,
    deadlines: () => number[] = () => [],
  ): Committed {
    const s0 = entry.actor.state;
    const seq = s0.seq;
    const before = { viewers: s0.viewers, peakViewers: s0.peakViewers };
    let d: Decision = { recorded: [], refused: undefined, broadcasts: [] };
    // The span lasts until the log confirms the batch holding the command's events.
    void withSpan(
      'room transition',
      { 'roomcast.room': roomId, 'roomcast.command': command.type },
      () => {
        d = entry.actor.decide(command);
        // Built only when traced: every command of every room passes here.
        if (isTracing())
          setSpanAttributes({
            'roomcast.recorded': d.recorded.map((e) => e.type).join(','),
            ...(d.refused ? { 'roomcast.refused': d.refused.code } : {}),
          });
        if (d.recorded.length === 0) return undefined;
        const s = entry.actor.state;
        const after = { viewers: s.viewers, peakViewers: s.peakViewers };
        return this.pipeline.add(roomId, entry, seq, d.recorded, before, after);
      },
    );
    const decided = d;
    const due = deadlines();
    if (decided.recorded.length === 0) {
      // Nothing changed: deadlines the room has are armed now (a timer only queues an expiry).
      for (const deadline of due) this.o.scheduleExpiry(roomId, deadline);
      return { d: decided, answer: (reply) => this.after(roomId, reply) };
    }
    const done = this.pipeline.barrier(roomId);
    return {
      d: decided,
      answer: (reply) => ({
        answer: done.then((failed) => {
          if (failed !== undefined) throw failed;
          for (const b of decided.broadcasts) this.o.bus.publish(subjects.roomBroadcast(roomId), b);
          for (const e of decided.recorded)
            if (e.type === 'member_disconnected') this.o.scheduleExpiry(roomId, e.awayUntil);
          for (const deadline of due) this.o.scheduleExpiry(roomId, deadline);
          return reply;
        }),
      }),
    };
  }

  /** A reply for a command that recorded nothing: sent after every command decided before it. */
  private after(roomId: string, reply: AnyRoomReply): Pending {
    return {
      answer: this.pipeline.barrier(roomId).then((failed: Outcome) => {
        if (failed !== undefined) throw failed;
        return reply;
      }),
    };
  }

  /** Replaces the room with what its log says; if the log cannot be read, drops it until it can. */
  private async reload(roomId: string, reaches = 0): Promise<void> {
    const old = this.rooms.get(roomId);
    // What the log is known to hold: a read that ends short of it is stale (a NATS
    // node just elected answering from a store that has not caught up), never the room.
    const known = Math.max(reaches, old?.streamSeq ?? 0);
    try {
      const { entry } = await rebuildRoom(this.o.log, roomId);
      if ((entry?.streamSeq ?? 0) < known) throw new Error(`log read ends before ${known}`);
      // Its room_stats go on: they only ever held confirmed numbers.
      if (entry !== undefined) {
        this.rooms.set(roomId, entry);
        if (entry.actor.ended) void this.retire(roomId);
      } else {
        this.rooms.delete(roomId);
        this.stats.clear(roomId);
      }
    } catch (err) {
      // Unreadable now (NATS down): forget it; it is read back at its next command, or
      // with its partition's next load.
      this.o.logger.error('room reload failed', { roomId, err });
      this.rooms.delete(roomId);
      this.stats.clear(roomId);
      this.failedRooms.set(roomId, known);
    }
    old?.actor.stop();
  }

  /**
   * Lets an ended room go once a snapshot saying it ended is stored (room.retired.ts),
   * and takes it out of the log's index of open rooms. While that write fails the room
   * stays held; the next takeover of its partition reads its tail and retires it then.
   */
  async retire(roomId: string): Promise<void> {
    const entry = this.rooms.get(roomId);
    if (entry === undefined || !entry.actor.ended) return;
    if (entry.snapSeq < entry.actor.state.seq) await this.snapshot(roomId);
    if (this.rooms.get(roomId) !== entry || entry.snapSeq < entry.actor.state.seq) return;
    this.rooms.delete(roomId);
    this.stats.clear(roomId);
    this.retiredRooms.add(roomId, entry);
    this.o.retired(roomId);
    // Only now: an entry closed before the snapshot is stored could lose an open room.
    // A close that fails leaves the entry; the next takeover finds the room ended.
    await this.o.log.close(roomId).catch((err: unknown) => {
      this.o.logger.warn('closing the room in the index failed', { roomId, err });
    });
  }

  /** Writes the room's snapshot, unless it has unconfirmed events (see room.snapshot.writer.ts). */
  snapshot(roomId: string): Promise<void> {
    return this.snapshots.snapshot(roomId);
  }

  /** Snapshots every room with events not in its snapshot yet. */
  snapshotDirty(): Promise<void> {
    return this.snapshots.dirty();
  }

  /** Applies what is due at `deadline` (timers may fire a little early by the wall clock). */
  async expire(roomId: string, deadline: number): Promise<Pending> {
    const unreadable = await this.ready(roomId);
    if (unreadable !== undefined) return unreadable;
    const entry = this.rooms.get(roomId);
    if (entry === undefined || entry.actor.ended) return this.after(roomId, { ok: true });
    const c = this.commit(roomId, entry, {
      type: 'expire',
      at: Math.max(this.o.env.now(), deadline),
    });
    return c.answer({ ok: true });
  }
}

/** A reply that waits for nothing. */
const now = (reply: AnyRoomReply): Pending => ({ answer: Promise.resolve(reply) });
