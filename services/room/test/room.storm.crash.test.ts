/**
 * kill -9 of the room service in the middle of a join storm on one room (appends
 * batched): no acknowledged join is lost, and the log holds each join once.
 */
import t from 'tap';
import { stateHash } from '../room.actor.js';
import { JetStreamRoomLog } from '../room.log.js';
import { rebuildRoom } from '../room.recovery.js';
import { none } from './fixtures.js';
import { roomProcessUnderTest } from './process.harness.js';
import { memberOf, type RoomState } from '#shared/room/room.state.js';

const JOINS = 500;

t.test('kill -9 during a join storm: every acknowledged join survives, once', async (t) => {
  const { bus, rooms, start } = await roomProcessUnderTest(t, 'storm-test', {
    ROOM_SNAPSHOT_EVERY: '16',
    ROOM_SNAPSHOT_INTERVAL_MS: '200',
    // Small batches: the storm spans many appends, and the kill lands between them.
    ROOM_APPEND_BATCH_MAX: '16',
  });
  let service = await start();
  await rooms.create('storm', { userId: 'o', title: 'storm', isPrivate: false, maxViewers: 5000 });

  const acked: string[] = [];
  const failed = new Map<string, number>();
  let killed: Promise<void> | undefined;
  await Promise.all(
    Array.from({ length: JOINS }, async (_, i) => {
      const peerId = `v${i}`;
      try {
        await rooms.join(
          'storm',
          { peerId, userId: `u${i}`, role: 'viewer', perms: none, gateway: 'g', conn: peerId },
          { timeoutMs: 3000 },
        );
        acked.push(peerId);
        // Killed once a third of the storm is acknowledged: the rest is in flight or queued.
        if (acked.length === Math.floor(JOINS / 3)) killed = service.signal('SIGKILL');
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'OTHER';
        failed.set(code, (failed.get(code) ?? 0) + 1);
      }
    }),
  );
  await killed;
  t.ok(killed !== undefined, 'the service was killed mid-storm');
  t.ok(acked.length < JOINS, `${acked.length} joins acknowledged before the kill`);
  t.same(
    [...failed.keys()].filter((c) => c !== 'UNAVAILABLE'),
    [],
    `the others failed UNAVAILABLE (${JSON.stringify(Object.fromEntries(failed))})`,
  );

  service = await start();
  const after = await rooms.state('storm', { timeoutMs: 10_000 });
  const lost = acked.filter((p) => memberOf(after.state as RoomState, p) === undefined);
  t.same(lost, [], `all ${acked.length} acknowledged joins are members of the rebuilt room`);

  const log = await JetStreamRoomLog.open(bus.nc, {
    writer: 'storm-check',
    replicas: 1,
    timeoutMs: 5000,
  });
  const { entry, batches } = await rebuildRoom(log, 'storm');
  const joined = new Map<string, number>();
  for (const e of batches.flatMap((b) => b.events)) {
    if (e.type === 'member_joined') joined.set(e.peerId, (joined.get(e.peerId) ?? 0) + 1);
  }
  t.same(
    [...joined].filter(([, n]) => n !== 1),
    [],
    'the log holds each join at most once',
  );
  t.same(
    acked.filter((p) => joined.get(p) !== 1),
    [],
    'and every acknowledged join exactly once',
  );
  t.ok(batches.length < joined.size, `${joined.size} joins in ${batches.length} batches`);
  t.equal(entry && stateHash(entry.actor), after.hash, 'the rebuilt room equals its log');
});
