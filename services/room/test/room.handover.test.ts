/**
 * A partition whose lease lapsed here and was taken back in one renewal (the lease
 * bucket electing a leader after a NATS node died): its rooms stay held.
 */
import t from 'tap';
import type { RoomCommand } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { MemoryRoomLog, type StoredBatch } from '../room.log.js';
import { MemorySnapshotStore } from '../room.snapshots.js';
import { outcome, serviceUnderTest } from './service.harness.js';
import { handedLeases, HeldLog } from './leases.harness.js';

/** Counts reads of a room's log (a room dropped and loaded again is read). */
class CountedLog extends HeldLog {
  reads = 0;
  override readRoom(roomId: string, after: number): Promise<StoredBatch[]> {
    this.reads++;
    return super.readRoom(roomId, after);
  }
}

const join: RoomCommand = {
  type: 'join',
  peerId: 'p',
  userId: 'u',
  role: 'viewer',
  perms: { publish: false, view: false, admin: false },
  gateway: 'g',
  conn: 'c',
};

t.test('a partition lost and taken back in one change keeps its rooms as they are', async (t) => {
  const { leases, report } = handedLeases();
  const log = new CountedLog();
  const { rooms, service } = await serviceUnderTest(t, {
    log,
    snapshots: new MemorySnapshotStore(),
    leases,
  });
  const create: RoomCommand = { type: 'create', userId: 'o', title: 't', isPrivate: false };
  t.equal(await outcome(rooms.send('r', create, { timeoutMs: 2000 })), 'ok', 'created');

  const release = log.holdAppends();
  const joining = outcome(rooms.send('r', join, { timeoutMs: 2000 }));
  await log.appendHeld;
  // Meanwhile another replica held the partition for a moment and created a room.
  const created: RoomEvent = {
    type: 'room_created',
    v: 1,
    at: 1,
    roomId: 'elsewhere',
    ownerId: 'o',
    settings: { title: 't', isPrivate: false, maxViewers: 5 },
    streamKey: 'k',
  };
  await MemoryRoomLog.prototype.append.call(log, 'elsewhere', [created], { seq: 0, streamSeq: 0 });
  const reads = log.reads;

  const change = report([0], [0]).then(() => 'applied');
  const waited = new Promise((r) => setTimeout(() => r('waiting'), 1000));
  t.equal(
    await Promise.race([change, waited]),
    'applied',
    'the change does not wait for the command under way',
  );
  t.ok(service.holds('elsewhere'), 'a room created elsewhere meanwhile is loaded');
  release();
  t.equal(await joining, 'ok', 'the command under way is answered');
  t.equal(service.stateOf('r')?.members.size, 1, 'on the room as it was held');
  t.equal(log.reads - reads, 1, 'whose log is not read again (the new room is)');
});
