/**
 * Snapshots larger than one NATS message (a room of thousands of members) are
 * stored in parts: they come back whole, one generation of parts is kept, parts no
 * header names are purged, and a snapshot with a part missing is passed over (the
 * room then comes back from its log).
 */
import t, { type Test } from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Bus } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import { bucketNames } from '#shared/runtime/streams.js';
import { loadConfig } from '#config/config.js';
import { JetStreamRoomLog } from '../room.log.js';
import { KvSnapshotStore } from '../room.snapshots.js';
import { RoomService } from '../room.service.js';
import { RoomActor, stateHash } from '../room.actor.js';
import { loadRoom, loadRooms } from '../room.recovery.js';
import { startNats } from '../../../test/helpers/nats.js';

const none = { publish: false, view: false, admin: false };

/** A room service with snapshots in parts of 4 KiB, as the room user, and an operator connection. */
async function system(t: Test) {
  const nats = await startNats();
  const logger = createLogger('test', 'error');
  const config = loadConfig({
    NATS_URL: nats.url,
    ROOM_SNAPSHOT_EVERY: '50',
    ROOM_SNAPSHOT_INTERVAL_MS: '3600000',
  });
  const bus = await Bus.connect({
    ...nats.connectOptions(Credential.room),
    name: 'snapshots',
    requestTimeoutMs: 5000,
    log: logger,
  });
  const log = await JetStreamRoomLog.open(bus.nc, { writer: 'w1', replicas: 1, timeoutMs: 5000 });
  // Parts of 4 KiB: a room of 300 members needs several.
  const snapshots = await KvSnapshotStore.open(bus.nc, { replicas: 1, partBytes: 4096 });
  const service = new RoomService({ bus, config: config.room, log, snapshots, logger });
  await service.start();
  const operator = await Bus.connect({
    ...nats.connectOptions(),
    name: 'operator',
    requestTimeoutMs: 5000,
    log: logger,
  });
  t.teardown(async () => {
    await service.stop();
    await operator.close();
    await bus.close();
    await nats.stop();
  });
  return { service, snapshots, log, bus, operator };
}

/** Creates `roomId` with `viewers` members (300 make a snapshot of several 4 KiB parts). */
async function roomOf(service: RoomService, roomId: string, viewers: number): Promise<void> {
  await service.handle(roomId, {
    type: 'create',
    userId: 'owner',
    title: roomId,
    isPrivate: false,
    maxViewers: 1000,
  });
  for (let i = 0; i < viewers; i++) {
    const reply = await service.handle(roomId, {
      type: 'join',
      peerId: `peer-${i}`,
      userId: `user-${i}`,
      role: 'viewer',
      perms: none,
      gateway: 'g',
      conn: `c${i}`,
    });
    if (!reply.ok) throw new Error(`join ${i}`);
  }
}

t.test('a snapshot larger than a message is stored in parts and comes back whole', async (t) => {
  const { service, snapshots, log, bus, operator } = await system(t);
  const kv = await new Kvm(operator.nc).open(bucketNames.roomSnapshots);
  const keys = async () => {
    const out: string[] = [];
    for await (const k of await kv.keys()) out.push(k);
    return out.sort();
  };

  await roomOf(service, 'big', 300);
  // Let the fire-and-forget snapshot writes land.
  await bus.flush();
  await new Promise((r) => setTimeout(r, 500));
  const live = await service.handle('big', { type: 'state' });
  if (!live.ok || !('hash' in live)) throw new Error('no state');

  const stored = await keys();
  const parts = stored.filter((k) => k.startsWith('big.'));
  t.ok(parts.length > 1, `the snapshot went in ${parts.length} parts`);
  t.equal(
    new Set(parts.map((k) => k.split('.')[1])).size,
    1,
    'one generation of parts is kept (the earlier ones were purged)',
  );

  const loaded = await loadRooms(log, snapshots, () => true);
  t.equal(stateHash(loaded.get('big')!.actor), live.hash, 'parts + tail equal the live state');
  const fromStore = await (await KvSnapshotStore.open(bus.nc, { replicas: 1 })).loadAll();
  t.ok((fromStore.get('big')?.seq ?? 0) > 50, 'a fresh store reads the parted snapshot back');
  const one = await loadRoom(log, await KvSnapshotStore.open(bus.nc, { replicas: 1 }), 'big');
  t.equal(one && stateHash(one.actor), live.hash, 'and so does a read of that one room');

  // A part left by a write cut short (no header names it) is purged on load.
  await kv.put('big.999999.0', new TextEncoder().encode('{"partial'));
  await (await KvSnapshotStore.open(bus.nc, { replicas: 1 })).loadAll();
  t.notOk((await keys()).includes('big.999999.0'), 'an orphan part is purged');

  // A part gone missing: the snapshot is passed over, the room comes back from its log.
  const [first] = parts;
  await kv.purge(first!);
  const missing = await (await KvSnapshotStore.open(bus.nc, { replicas: 1 })).loadAll();
  t.notOk(missing.has('big'), 'a snapshot with a part missing is not used');
  const store = await KvSnapshotStore.open(bus.nc, { replicas: 1 });
  t.equal(await store.load('big'), undefined, 'by a read of that one room either');
  const rebuilt = await loadRooms(
    log,
    await KvSnapshotStore.open(bus.nc, { replicas: 1 }),
    () => true,
  );
  t.equal(stateHash(rebuilt.get('big')!.actor), live.hash, 'the log alone gives the same room');
});

t.test(
  "an ended room's last snapshot is kept apart, and its live keys are purged whole",
  async (t) => {
    const { service, snapshots, log, bus, operator } = await system(t);
    await roomOf(service, 'big', 300);
    await roomOf(service, 'small', 1);
    await bus.flush();
    await new Promise((r) => setTimeout(r, 500));
    const ended = await service.handle('big', {
      type: 'set_status',
      status: 'ended',
      userId: 'owner',
      perms: none,
    });
    t.ok(ended.ok, 'the big room ends');
    const deadline = Date.now() + 5000;
    while (service.holds('big') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    t.notOk(service.holds('big'), 'and is let go once its last snapshot is stored');

    const jsm = await jetstreamManager(operator.nc);
    const subjectsOf = async (stream: string, filter: string) =>
      Object.keys(
        (await jsm.streams.info(stream, { subjects_filter: filter })).state.subjects ?? {},
      );
    t.same(
      await subjectsOf(`KV_${bucketNames.roomSnapshots}`, `$KV.${bucketNames.roomSnapshots}.big.>`),
      [],
      'its parts are gone, markers and all',
    );
    t.same(
      await subjectsOf(`KV_${bucketNames.roomSnapshots}`, `$KV.${bucketNames.roomSnapshots}.big`),
      [],
      'so is its own key',
    );
    t.same(
      await subjectsOf(`KV_${bucketNames.roomEnded}`, '>'),
      [`$KV.${bucketNames.roomEnded}.big`],
      'its last snapshot is with the ended rooms',
    );

    const fresh = await KvSnapshotStore.open(bus.nc, { replicas: 1 });
    t.same([...(await fresh.loadAll()).keys()], ['small'], 'a takeover reads live rooms only');
    t.same([...(await fresh.endedRooms())], ['big'], 'and the ended ones by name');
    const last = await fresh.load('big');
    t.ok(last !== undefined && RoomActor.endedIn(last.snapshot), 'one read brings it back ended');
    const loaded = await loadRooms(log, snapshots, () => true);
    t.same([...loaded.keys()], ['small'], 'recovery skips it by name');
    const answer = await service.handle('big', { type: 'get' });
    t.equal(
      answer.ok && 'room' in answer ? answer.room.status : undefined,
      'ended',
      '`get` still answers',
    );
  },
);

t.test('a full read brings back every live room, past one fetch, and only them', async (t) => {
  const { snapshots } = await system(t);
  const ids = Array.from({ length: 1500 }, (_, i) => `many${i}`);
  await Promise.all(
    ids.map((roomId, i) => {
      const actor = RoomActor.create({
        type: 'room_created',
        v: 1,
        at: 0,
        roomId,
        ownerId: 'o',
        settings: { title: 't', isPrivate: false, maxViewers: 5 },
        streamKey: 'k',
      });
      return snapshots.save({
        v: 1,
        roomId,
        seq: 1,
        streamSeq: i + 1,
        batches: 1,
        snapshot: actor.persisted(),
      });
    }),
  );
  const read = await snapshots.loadAll();
  t.same([...read.keys()].sort(), ids.sort(), 'every one of 1,500 (a fetch carries 1,000)');
  t.same([...(await snapshots.loadAll()).keys()].length, 1500, 'and again');
});
