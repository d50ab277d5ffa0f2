/**
 * Ended rooms leave the replica (room.retired.ts): memory and takeovers do not grow
 * with every room ever held, and a command for an ended room is answered as before.
 */
import t from 'tap';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { MemoryRoomLog, type StoredBatch } from '../room.log.js';
import { MemorySnapshotStore } from '../room.snapshots.js';
import { RoomActor } from '../room.actor.js';
import { loadRooms } from '../room.recovery.js';
import { serviceUnderTest } from './service.harness.js';
import { until } from '../../../test/helpers/deadline.js';
import { none, viewerJoin } from './fixtures.js';

const create: RoomCommand = { type: 'create', userId: 'o', title: 't', isPrivate: false };
const end: RoomCommand = { type: 'set_status', status: 'ended', userId: 'o', perms: none };

/** 'ok', or the code the command was refused with. */
const outcome = async (reply: Promise<AnyRoomReply>): Promise<string> => {
  const r = await reply;
  return r.ok ? 'ok' : r.error.code;
};

/** A memory log that counts whole-room reads and last-sequence lookups. */
class CountingLog extends MemoryRoomLog {
  reads = 0;
  lookups = 0;
  override readRoom(roomId: string, after: number): Promise<StoredBatch[]> {
    this.reads++;
    return super.readRoom(roomId, after);
  }
  override lastOf(roomId: string): Promise<number> {
    this.lookups++;
    return super.lastOf(roomId);
  }
}

/** Snapshots in memory, counting the reads of one room, and can be made unreadable. */
class CountingSnapshots extends MemorySnapshotStore {
  loads = 0;
  broken = false;
  override load(roomId: string): ReturnType<MemorySnapshotStore['load']> {
    this.loads++;
    if (this.broken) return Promise.reject(new Error('NATS went away'));
    return super.load(roomId);
  }
}

for (const kept of ['1024', '0']) {
  t.test(
    `an ended room is let go and still answered as ended (ROOM_ENDED_KEPT=${kept})`,
    async (t) => {
      const log = new CountingLog();
      const snapshots = new CountingSnapshots();
      const { service } = await serviceUnderTest(t, { log, snapshots }, { ROOM_ENDED_KEPT: kept });
      await service.handle('r', create);
      await service.handle('r', viewerJoin('v1'));
      await service.handle('r', end);
      await until(() => !service.holds('r'), 'the ended room is let go');
      t.equal(service.size, 0, 'the replica holds no room');
      const snap = snapshots.ended.get('r');
      t.ok(
        snap !== undefined && RoomActor.endedIn(snap.snapshot),
        'its last snapshot, kept with the ended rooms, says it ended',
      );
      t.notOk(snapshots.records.has('r'), 'no live snapshot of it is left for takeovers to read');

      const [readsBefore, lookupsBefore] = [log.reads, log.lookups];
      t.equal(
        await outcome(service.handle('r', viewerJoin('v2'))),
        'ROOM_ENDED',
        'a join is refused as ended',
      );
      t.equal(await outcome(service.handle('r', create)), 'ROOM_EXISTS', 'its id is not reused');
      const got = await service.handle('r', { type: 'get' });
      t.equal(
        got.ok && 'room' in got ? got.room.status : undefined,
        'ended',
        '`get` shows it ended',
      );
      t.equal(
        await outcome(service.handle('nope', viewerJoin('v3'))),
        'ROOM_NOT_FOUND',
        'an unknown room',
      );
      // Kept at hand: nothing read; not kept: its snapshot read back each time. Never
      // its log; for the room it never had, one read of the snapshots finding none.
      if (kept === '0') t.ok(snapshots.loads >= 3, 'read back from its snapshot');
      else t.equal(snapshots.loads, 1, 'kept at hand (the one read: the unknown room)');
      t.equal(log.lookups - lookupsBefore, 0, 'no lookup of a subject in the log');
      t.equal(log.reads - readsBefore, 0, 'no read of the log');
      t.equal(service.size, 0, 'and it is not held again');

      if (kept === '0') {
        snapshots.broken = true;
        t.equal(
          await outcome(service.handle('r', viewerJoin('v4'))),
          'UNAVAILABLE',
          'an ended room whose snapshot cannot be read is UNAVAILABLE, never "not found"',
        );
      }
    },
  );
}

t.test(
  'a takeover skips ended rooms whose snapshot says so and retires those it finds ended',
  async (t) => {
    const log = new MemoryRoomLog();
    const snapshots = new MemorySnapshotStore();
    const first = await serviceUnderTest(t, { log, snapshots });
    for (const id of ['live', 'ended', 'behind']) await first.service.handle(id, create);
    await until(() => snapshots.records.size === 3, 'the created rooms are snapshotted');
    // `behind` ends with its last snapshot taken before (a write that failed, say).
    const before = snapshots.records.get('behind');
    await first.service.handle('ended', end);
    await first.service.handle('behind', end);
    await until(() => first.service.size === 1, 'both ended rooms are let go');
    await first.service.stop();
    // As if the ended snapshot's write had failed: only the one from before is there,
    // and the room is still in the log's index (it leaves it once that write is stored).
    snapshots.ended.delete('behind');
    if (before !== undefined) await snapshots.save(before);
    t.same([...log.open], ['live'], 'the ended rooms left the index');
    log.open.add('behind');

    const loaded = await loadRooms(log, snapshots, () => true);
    t.same(
      [...loaded.keys()].sort(),
      ['behind', 'live'],
      'the ended room with a current snapshot is not loaded',
    );

    const second = await serviceUnderTest(t, { log, snapshots });
    await until(() => second.service.size === 1, 'the room found ended is retired');
    t.equal(second.service.stateOf('live')?.status, 'preparing', 'the live room is held');
    const snap = snapshots.ended.get('behind');
    t.ok(snap !== undefined && RoomActor.endedIn(snap.snapshot), 'its snapshot now says it ended');
    t.same([...snapshots.records.keys()], ['live'], 'only the live room has a live snapshot');
    t.same(
      [...(await loadRooms(log, snapshots, () => true)).keys()],
      ['live'],
      'so the next takeover skips it too',
    );
  },
);
