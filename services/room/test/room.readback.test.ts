/**
 * A replica never takes a room for gone because of one bad moment: a load installs
 * every room it read even if its lease looked lapsed then; a room whose log read
 * ends short of what the replica knows is read again; a create whose answer was
 * lost is read back at the room's next command. Each was found by the chaos run
 * (README "Rooms dropped by a takeover"): rooms in the log that answered "not found".
 */
import t from 'tap';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { RoomcastError } from '#shared/wire/errors.js';
import type { LeaseListener, Leases } from '../room.leases.js';
import { MemoryRoomLog, type LogPosition, type StoredBatch } from '../room.log.js';
import { MemorySnapshotStore } from '../room.snapshots.js';
import { serviceUnderTest } from './service.harness.js';
import { viewerJoin } from './fixtures.js';

const create: RoomCommand = { type: 'create', userId: 'o', title: 't', isPrivate: false };

/** 'ok', or the code the command was refused with (in its reply, or as the log failing it). */
const outcome = async (reply: Promise<AnyRoomReply>): Promise<string> => {
  try {
    const r = await reply;
    return r.ok ? 'ok' : r.error.code;
  } catch (err) {
    if (err instanceof RoomcastError) return err.code;
    throw err;
  }
};

/** Every partition, whose leases look lapsed while `lapsed` says so (a renewal late, not lost). */
class LateLeases implements Leases {
  readonly partitions = 4;
  readonly replicaId = 'late';
  lapsed = true;
  private started = false;
  async start(listener: LeaseListener): Promise<void> {
    this.started = true;
    await listener([0, 1, 2, 3], []);
  }
  owns(): boolean {
    return this.started && !this.lapsed;
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

t.test('a load keeps the rooms of a partition whose lease only looked lapsed', async (t) => {
  const log = new MemoryRoomLog();
  const snapshots = new MemorySnapshotStore();
  const first = await serviceUnderTest(t, { log, snapshots });
  for (const id of ['a', 'b', 'c']) await first.service.handle(id, create);
  await first.service.stop();

  const leases = new LateLeases();
  const second = await serviceUnderTest(t, { log, snapshots, leases });
  // Renewed after all: no partition was lost.
  leases.lapsed = false;
  t.same(
    ['a', 'b', 'c'].map((id) => second.service.holds(id)),
    [true, true, true],
    'every room it read is held',
  );
  t.equal(await outcome(second.service.handle('a', viewerJoin('v'))), 'ok', 'and answers');
});

/** A memory log whose appends and reads can be made to fail as a NATS failover does. */
class FailoverLog extends MemoryRoomLog {
  /** The next append is stored but its answer lost. */
  loseAnswer = false;
  /** Reads see the log as it was `staleBy` batches ago (a node's store catching up). */
  staleBy = 0;
  override async append(
    roomId: string,
    events: readonly RoomEvent[],
    at: LogPosition,
  ): Promise<number> {
    const seq = await super.append(roomId, events, at);
    if (!this.loseAnswer) return seq;
    this.loseAnswer = false;
    throw new Error('TimeoutError: no PubAck');
  }
  override async readRoom(roomId: string, after: number): Promise<StoredBatch[]> {
    const all = await super.readRoom(roomId, after);
    return all.slice(0, Math.max(0, all.length - this.staleBy));
  }
}

t.test('a room whose log read ends short is read again, never taken for gone', async (t) => {
  const log = new FailoverLog();
  const { service } = await serviceUnderTest(t, { log });
  await service.handle('r', create);
  t.equal(await outcome(service.handle('r', viewerJoin('v1'))), 'ok');
  // An append's answer is lost (the room is read back from its log), and that read
  // is answered by a store two batches behind: the room seems never created.
  log.loseAnswer = true;
  log.staleBy = 2;
  t.equal(await outcome(service.handle('r', viewerJoin('v2'))), 'UNAVAILABLE', 'the join');
  t.equal(
    await outcome(service.handle('r', { type: 'get' })),
    'UNAVAILABLE',
    'while reads are short: UNAVAILABLE (try again), never ROOM_NOT_FOUND',
  );
  log.staleBy = 0;
  t.equal(await outcome(service.handle('r', { type: 'get' })), 'ok', 'once reads catch up');
  t.equal(
    service.stateOf('r')?.audience,
    2,
    'the room as its log holds it (the join whose answer was lost too)',
  );
});

t.test('a create whose answer was lost is read back at its next command', async (t) => {
  const log = new FailoverLog();
  const { service } = await serviceUnderTest(t, { log });
  log.loseAnswer = true;
  // Stored, its answer lost, and the read back finds a stale log: the creator hears
  // UNAVAILABLE although the room exists.
  log.staleBy = 1;
  t.equal(await outcome(service.handle('r', create)), 'UNAVAILABLE', 'the create');
  log.staleBy = 0;
  t.equal(
    await outcome(service.handle('r', viewerJoin('v'))),
    'ok',
    'the next command finds the room in its log (before: "not found" until a takeover)',
  );
  t.equal(await outcome(service.handle('r', create)), 'ROOM_EXISTS', 'and a retried create');
});
