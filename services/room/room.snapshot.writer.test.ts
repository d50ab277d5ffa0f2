import t from 'tap';
import { createLogger } from '#shared/runtime/log.js';
import { RoomActor } from './room.actor.js';
import type { RoomEntry } from './room.recovery.js';
import { SnapshotWriter } from './room.snapshot.writer.js';
import { MemorySnapshotStore, type SnapshotRecord, type SnapshotStore } from './room.snapshots.js';

const created = {
  type: 'room_created' as const,
  v: 1 as const,
  at: 1,
  roomId: 'r1',
  ownerId: 'owner',
  settings: { title: 'r1', isPrivate: false, maxViewers: 10 },
  streamKey: 'k'.repeat(24),
};

function entryOf(): RoomEntry {
  return { actor: RoomActor.create(created), streamSeq: 1, batches: 1, snapSeq: 0 };
}

t.test(
  'a written snapshot moves snapSeq; a failed one is remembered, not retried at once',
  async (t) => {
    const logger = createLogger('test', 'error');
    const ok = new MemorySnapshotStore();
    const rooms = new Map([['r1', entryOf()]]);
    await new SnapshotWriter(rooms, ok, () => false, logger).snapshot('r1');
    t.equal(rooms.get('r1')!.snapSeq, 1, 'written: the snapshot sequence is the room sequence');
    t.equal(ok.records.get('r1')?.seq, 1, 'and the store holds it');

    let tries = 0;
    const failing: SnapshotStore = {
      save: (_r: SnapshotRecord) => {
        tries++;
        return Promise.reject(new Error('maximum payload exceeded'));
      },
      loadAll: () => Promise.resolve(new Map()),
      endedRooms: () => Promise.resolve(new Set()),
      load: () => Promise.resolve(undefined),
    };
    const other = new Map([['r1', entryOf()]]);
    await new SnapshotWriter(other, failing, () => false, logger).snapshot('r1');
    t.equal(tries, 1, 'the write was tried');
    t.equal(other.get('r1')!.snapSeq, 0, 'a failed write does not count as written');
    t.equal(other.get('r1')!.snapFailedSeq, 1, 'but its sequence is kept, so the cadence waits');

    const busy = new Map([['r1', entryOf()]]);
    await new SnapshotWriter(busy, failing, () => true, logger).snapshot('r1');
    t.equal(tries, 1, 'a room with unconfirmed events is not written at all');
  },
);
