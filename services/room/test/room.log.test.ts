import t, { type Test } from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { JetStreamRoomLog, LogConflictError, MemoryRoomLog, type RoomLog } from '../room.log.js';
import { startNats } from '../../../test/helpers/nats.js';

const created = (roomId: string): RoomEvent => ({
  type: 'room_created',
  v: 1,
  at: 1,
  roomId,
  ownerId: 'o',
  settings: { title: 't', isPrivate: false, maxViewers: 5 },
  streamKey: 'k',
});
const left = (peerId: string): RoomEvent => ({ type: 'member_left', v: 1, at: 2, peerId });

async function contract(t: Test, open: (writer: string) => Promise<RoomLog>) {
  const a = await open('writer-a');
  const b = await open('writer-b');
  // As a first load does on a log written before the index: built, here empty.
  await a.indexRooms([]);

  const s1 = await a.append('r1', [created('r1')], { seq: 0, streamSeq: 0 });
  const s2 = await a.append('r2', [created('r2')], { seq: 0, streamSeq: 0 });
  const s3 = await a.append('r1', [left('p1'), left('p2')], { seq: 1, streamSeq: s1 });
  t.ok(s1 < s2 && s2 < s3, 'stream sequences grow');

  await t.rejects(
    a.append('r1', [left('p3')], { seq: 1, streamSeq: s1 }),
    LogConflictError,
    'a stale position is fenced',
  );
  await t.rejects(
    b.append('r1', [left('p3')], { seq: 3, streamSeq: s1 }),
    LogConflictError,
    'another writer on a stale view is fenced',
  );
  await t.rejects(
    b.append('r2', [created('r2')], { seq: 0, streamSeq: 0 }),
    LogConflictError,
    'a room id cannot be created twice',
  );

  const r1 = await a.readRoom('r1', 0);
  t.same(
    r1.map((x) => [x.batch.seq, x.batch.events.map((e) => e.type)]),
    [
      [1, ['room_created']],
      [2, ['member_left', 'member_left']],
    ],
    'a batch keeps its events together; room sequences count events',
  );
  t.same(
    (await a.readRoom('r1', s1)).map((x) => x.streamSeq),
    [s3],
    'tail after a stream sequence',
  );
  const all: string[] = [];
  await a.scan(0, (x) => all.push(`${x.batch.roomId}:${x.batch.seq}`));
  t.same(all, ['r1:1', 'r2:1', 'r1:2'], 'scan reads every room in log order');
  t.same([...(await a.batchCounts())].sort(), [
    ['r1', 2],
    ['r2', 1],
  ]);
  t.same(await a.readRoom('nope', 0), [], 'an unknown room has no batches');

  t.same((await b.openRooms())?.sort(), ['r1', 'r2'], 'each room is in the index once');
  await a.close('r2');
  await a.close('never-there');
  t.same(await b.openRooms(), ['r1'], 'a closed room leaves the index');
  await t.rejects(
    b.append('r2', [created('r2')], { seq: 0, streamSeq: 0 }),
    LogConflictError,
    "a create of a closed room's id is refused by the log",
  );
  t.same(
    (await b.openRooms())?.sort(),
    ['r1', 'r2'],
    'yet its entry is there: an entry is written before its append is tried',
  );
}

t.test('memory log', async (t) => {
  const shared = new MemoryRoomLog();
  await contract(t, async () => shared);
});

t.test('JetStream log', async (t) => {
  const nats = await startNats();
  const nc = await connect(nats.connectOptions());
  t.teardown(async () => {
    await nc.close();
    await nats.stop();
  });
  await contract(t, (writer) =>
    JetStreamRoomLog.open(nc, { writer, replicas: 1, timeoutMs: 2000 }),
  );

  t.test('the index: unbuilt until built; a closed room leaves nothing to list', async (t) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(streamNames.roomLive);
    const log = await JetStreamRoomLog.open(nc, { writer: 'idx', replicas: 1, timeoutMs: 2000 });
    await log.append('i1', [created('i1')], { seq: 0, streamSeq: 0 });
    t.equal(await log.openRooms(), undefined, 'a log whose index was never built says so');
    await log.indexRooms(['i0']);
    t.same((await log.openRooms())?.sort(), ['i0', 'i1'], 'built: its entries, not its own record');
    await log.close('i1');
    const info = await jsm.streams.info(streamNames.roomLive, {
      subjects_filter: subjects.liveAll,
    });
    t.same(
      Object.keys(info.state.subjects ?? {}).sort(),
      [subjects.liveIndexBuilt, subjects.roomLive('i0')],
      'no message of the closed room is left for a takeover to list',
    );
    t.same(info.config.deny_purge, true, 'and the index is never purged (roomLiveConfig)');
  });

  t.test('a retried append is stored once', async (t) => {
    const log = await JetStreamRoomLog.open(nc, { writer: 'retry', replicas: 1, timeoutMs: 2000 });
    const at = { seq: 0, streamSeq: 0 };
    const first = await log.append('dup', [created('dup')], at);
    // The same writer sends the same batch again (its ack was lost): same position back, nothing new stored.
    const again = await log.append('dup', [created('dup')], at);
    t.equal(again, first, 'the retry answers with the original position');
    t.equal((await log.readRoom('dup', 0)).length, 1, 'stored once');
  });

  t.test('appends survive a nats-server restart', async (t) => {
    const log = await JetStreamRoomLog.open(nc, {
      writer: 'restart',
      replicas: 1,
      timeoutMs: 2000,
    });
    const s = await log.append('durable', [created('durable')], { seq: 0, streamSeq: 0 });
    await nats.kill(true);
    await nats.restart();
    let back;
    for (let attempt = 0; back === undefined; attempt++) {
      // The client reconnects on its own; reads fail until it has.
      back = await log.readRoom('durable', 0).catch((err: unknown) => {
        if (attempt > 100) throw err;
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 100));
      });
    }
    t.same(
      back.map((b) => b.streamSeq),
      [s],
      'the acknowledged batch is there after kill -9 of nats-server',
    );
  });
});
