/**
 * Snapshot + tail = whole log = live state, for rooms whose snapshots are current,
 * behind by a few events, or missing; read room by room and with one scan.
 */
import t from 'tap';
import type { AnyRoomReply } from '#shared/room/room.commands.js';
import { KvSnapshotStore, MemorySnapshotStore } from '../room.snapshots.js';
import { stateHash } from '../room.actor.js';
import { loadRooms, rebuildRoom } from '../room.recovery.js';
import { durableServiceUnderTest } from './service.harness.js';

const none = { publish: false, view: false, admin: false };

t.test('rooms come back from snapshots and log tails exactly as they were', async (t) => {
  const { bus, log, snapshots, service } = await durableServiceUnderTest(
    t,
    'recovery',
    { ROOM_SNAPSHOT_EVERY: '4', ROOM_SNAPSHOT_INTERVAL_MS: '3600000' },
    (bus) => KvSnapshotStore.open(bus.nc, { replicas: 1 }),
  );

  // 100 rooms with 0 to 11 further commands each: some snapshots are current, some behind.
  const rooms = Array.from({ length: 100 }, (_, i) => `room${i}`);
  for (const [i, id] of rooms.entries()) {
    const created: AnyRoomReply = await service.handle(id, {
      type: 'create',
      userId: 'owner',
      title: id,
      isPrivate: i % 3 === 0,
      maxViewers: 4,
    });
    if (!created.ok) t.fail(`create ${id}`);
    for (let k = 0; k < i % 12; k++) {
      const conn = { gateway: 'g', conn: `c${k}` };
      if (k % 4 === 3)
        await service.handle(id, {
          type: 'leave',
          peerId: `p${k - 1}`,
          userId: `u${k - 1}`,
          ...conn,
        });
      else
        await service.handle(id, {
          type: 'join',
          peerId: `p${k}`,
          userId: `u${k}`,
          role: k === 0 ? 'publisher' : 'viewer',
          perms: { ...none, view: true, publish: k === 0 },
          ...conn,
        });
    }
    if (i % 10 === 9)
      await service.handle(id, {
        type: 'set_status',
        status: 'live',
        userId: 'owner',
        perms: none,
      });
  }
  // Let the fire-and-forget snapshot writes land.
  await bus.flush();
  await new Promise((r) => setTimeout(r, 300));

  const live = new Map<string, string>();
  for (const id of rooms) {
    const reply = await service.handle(id, { type: 'state' });
    if (!reply.ok || !('hash' in reply)) throw new Error('no state');
    live.set(id, reply.hash);
  }

  const snaps = await snapshots.loadAll();
  const counts = await log.batchCounts();
  const behind = rooms.filter((id) => snaps.get(id)?.batches !== counts.get(id));
  t.ok(
    behind.length > 0 && behind.length < rooms.length,
    `some snapshots are behind their log (${behind.length} of ${rooms.length})`,
  );

  const loaded = await loadRooms(log, snapshots, () => true);
  t.equal(loaded.size, rooms.length, 'every room is found');
  t.same(
    rooms.filter((id) => stateHash(loaded.get(id)!.actor) !== live.get(id)),
    [],
    'snapshot + tail equals the live state (few stale rooms: read one by one)',
  );

  for (const id of rooms) {
    const { entry } = await rebuildRoom(log, id);
    if (stateHash(entry!.actor) !== live.get(id))
      t.fail(`${id}: whole-log replay differs from live state`);
  }
  t.pass('whole-log replay equals the live state for every room');

  // Many stale rooms take the single-scan path: drop all snapshots' freshness by appending more.
  for (const id of rooms.slice(0, 80)) {
    if (service.stateOf(id)?.status === 'ended') continue;
    await service.handle(id, {
      type: 'join',
      peerId: 'late',
      userId: 'late',
      role: 'viewer',
      perms: { ...none, view: true },
      gateway: 'g',
      conn: 'late',
    });
  }
  const scanned = await loadRooms(log, snapshots, () => true);
  const mismatched: string[] = [];
  for (const id of rooms) {
    const reply = await service.handle(id, { type: 'state' });
    if (reply.ok && 'hash' in reply && stateHash(scanned.get(id)!.actor) !== reply.hash)
      mismatched.push(id);
  }
  t.same(mismatched, [], 'snapshot + tail equals the live state (many stale rooms: one scan)');
});

t.test(
  'a snapshot of an older shape is passed over: the room comes back from its log',
  async (t) => {
    const { log, snapshots, service } = await durableServiceUnderTest(
      t,
      'recovery-old',
      {},
      () => new MemorySnapshotStore(),
    );
    await service.handle('old', { type: 'create', userId: 'o', title: 't', isPrivate: false });
    await service.handle('old', {
      type: 'join',
      peerId: 'p1',
      userId: 'u1',
      role: 'viewer',
      perms: none,
      gateway: 'g',
      conn: 'c',
    });
    const live = await service.handle('old', { type: 'state' });
    // What a build before the books wrote: members as a plain record, no stage.
    const [current] = (await snapshots.loadAll()).values();
    if (current === undefined) throw new Error('no snapshot');
    const context = (current.snapshot as unknown as { context: Record<string, unknown> }).context;
    const old = { ...context, members: { p1: {} } } as Record<string, unknown>;
    delete old.stage;
    await snapshots.save({
      ...current,
      batches: 2,
      snapshot: { ...current.snapshot, context: old } as unknown as typeof current.snapshot,
    });
    const loaded = await loadRooms(log, snapshots, () => true);
    const room = loaded.get('old');
    t.ok(room, 'the room is back');
    t.equal(
      room && stateHash(room.actor),
      live.ok && 'hash' in live ? live.hash : undefined,
      'as its log has it',
    );
  },
);
