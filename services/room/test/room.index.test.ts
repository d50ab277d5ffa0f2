/**
 * The log's index of open rooms (room.log.ts) as a takeover uses it: what a load
 * reads follows the rooms open, not every room ever held; a log written before the
 * index has it built once; an entry whose create has not landed costs a read, never
 * a room.
 */
import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ensureStream, roomLiveConfig, streamNames } from '#shared/runtime/streams.js';
import type { RoomCommand } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { MemoryRoomLog, type RoomLog } from '../room.log.js';
import { KvSnapshotStore, MemorySnapshotStore } from '../room.snapshots.js';
import { loadRooms } from '../room.recovery.js';
import { durableServiceUnderTest } from './service.harness.js';

/** Counts what a load asks of the log. */
function counting(log: RoomLog) {
  const asked = { lastOf: 0, batchCounts: 0, openRooms: 0 };
  const wrapped: RoomLog = {
    append: (...a) => log.append(...a),
    readRoom: (...a) => log.readRoom(...a),
    scan: (...a) => log.scan(...a),
    lastOf: (id) => (asked.lastOf++, log.lastOf(id)),
    batchCounts: () => (asked.batchCounts++, log.batchCounts()),
    openRooms: () => (asked.openRooms++, log.openRooms()),
    indexRooms: (ids) => log.indexRooms(ids),
    close: (id) => log.close(id),
  };
  return { asked, log: wrapped };
}

const none = { publish: false, view: false, admin: false };
const create: RoomCommand = { type: 'create', userId: 'owner', title: 't', isPrivate: false };
const end: RoomCommand = { type: 'set_status', status: 'ended', userId: 'owner', perms: none };

t.test('a takeover reads the rooms open, not every room ever held', async (t) => {
  const { log, snapshots, service, nats } = await durableServiceUnderTest(
    t,
    'index',
    { ROOM_ENDED_KEPT: '0' },
    (bus) => KvSnapshotStore.open(bus.nc, { replicas: 1 }),
  );
  const open = ['o1', 'o2', 'o3'];
  const ended = Array.from({ length: 60 }, (_, i) => `e${i}`);
  const refused: string[] = [];
  for (const [id, cmd] of [
    ...[...open, ...ended].map((id) => [id, create] as const),
    ...ended.map((id) => [id, end] as const),
  ])
    if (!(await service.handle(id, cmd)).ok) refused.push(`${cmd.type} ${id}`);
  t.same(refused, [], 'every create and end is answered');
  const settle = Date.now() + 5000;
  while (((await log.openRooms()) ?? []).length > open.length && Date.now() < settle)
    await new Promise((r) => setTimeout(r, 20));
  t.same(
    (await log.openRooms())?.sort(),
    open,
    'an ended room leaves the index once its last snapshot is stored',
  );
  // The operator's connection: the room service's user may not delete a stream.
  const nc = await connect(nats.connectOptions());
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamNames.roomLive);
  t.equal(info.state.messages, open.length + 1, 'the open rooms and the record that it is built');

  const first = counting(log);
  const loaded = await loadRooms(first.log, snapshots, () => true);
  t.same([...loaded.keys()].sort(), open, 'the open rooms are loaded');
  t.same(
    first.asked,
    { lastOf: open.length, batchCounts: 0, openRooms: 1 },
    "one read per open room, and neither the log's subjects nor the ended rooms' names",
  );

  // A log written before the index: the same rooms, no index.
  await jsm.streams.delete(streamNames.roomLive);
  await ensureStream(jsm, roomLiveConfig(1));
  const before = counting(log);
  t.same(
    [...(await loadRooms(before.log, snapshots, () => true)).keys()].sort(),
    open,
    'a log written before the index: the same rooms load',
  );
  t.equal(before.asked.batchCounts, 1, "by reading the log's subjects once");
  t.same(
    (await log.openRooms())?.sort(),
    open,
    'and the index is built from them, less the rooms whose ended snapshot is stored',
  );
  const after = counting(log);
  await loadRooms(after.log, snapshots, () => true);
  t.equal(after.asked.batchCounts, 0, 'the next load reads the index');
});

t.test(
  'an entry whose create has not landed is kept, and its room found once it does',
  async (t) => {
    const log = new MemoryRoomLog();
    const snapshots = new MemorySnapshotStore();
    await log.indexRooms([]);
    // A creator wrote the entry, then stopped (paused, or its publish held while reconnecting).
    log.open.add('late');
    t.same([...(await loadRooms(log, snapshots, () => true)).keys()], [], 'nothing to load yet');
    t.ok(log.open.has('late'), 'the entry stays: its append may still land');
    const created: RoomEvent = {
      type: 'room_created',
      v: 1,
      at: 1,
      roomId: 'late',
      ownerId: 'owner',
      settings: { title: 't', isPrivate: false, maxViewers: 5 },
      streamKey: 'k',
    };
    await log.append('late', [created], { seq: 0, streamSeq: 0 });
    const loaded = await loadRooms(log, snapshots, () => true);
    t.equal(loaded.get('late')?.actor.state.status, 'preparing', 'the next load finds the room');
  },
);
