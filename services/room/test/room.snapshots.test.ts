/**
 * Snapshots larger than one NATS message (a room of thousands of members) are
 * stored in parts: they come back whole, one generation of parts is kept, parts no
 * header names are purged, and a snapshot with a part missing is passed over (the
 * room then comes back from its log).
 */
import t from 'tap';
import { Kvm } from '@nats-io/kv';
import { Bus } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import { bucketNames } from '#shared/runtime/streams.js';
import { loadConfig } from '#config/config.js';
import { JetStreamRoomLog } from '../room.log.js';
import { KvSnapshotStore } from '../room.snapshots.js';
import { RoomService } from '../room.service.js';
import { stateHash } from '../room.actor.js';
import { loadRoom, loadRooms } from '../room.recovery.js';
import { startNats } from '../../../test/helpers/nats.js';

const none = { publish: false, view: false, admin: false };

t.test('a snapshot larger than a message is stored in parts and comes back whole', async (t) => {
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
  const kv = await new Kvm(operator.nc).open(bucketNames.roomSnapshots);
  const keys = async () => {
    const out: string[] = [];
    for await (const k of await kv.keys()) out.push(k);
    return out.sort();
  };

  await service.handle('big', {
    type: 'create',
    userId: 'owner',
    title: 'big',
    isPrivate: false,
    maxViewers: 1000,
  });
  for (let i = 0; i < 300; i++) {
    const reply = await service.handle('big', {
      type: 'join',
      peerId: `peer-${i}`,
      userId: `user-${i}`,
      role: 'viewer',
      perms: none,
      gateway: 'g',
      conn: `c${i}`,
    });
    if (!reply.ok) t.fail(`join ${i}`);
  }
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
