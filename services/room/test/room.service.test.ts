/**
 * Room-service rules that depend on its clock and timers, with an injected clock.
 */
import t from 'tap';
import { createMetrics } from '#shared/runtime/metrics.js';
import { MemoryRoomLog } from '../room.log.js';
import type { RoomCommand } from '#shared/room/room.commands.js';
import { loadRooms } from '../room.recovery.js';
import { systemEnvironment } from '../room.service.js';
import { outcome, serviceUnderTest } from './service.harness.js';
import { handedLeases, HeldLog } from './leases.harness.js';
import { MemorySnapshotStore } from '../room.snapshots.js';
import { until } from '../../../test/helpers/deadline.js';
import { memberOf, type RoomState } from '#shared/room/room.state.js';

const none = { publish: false, view: false, admin: false };

/** The join of viewer `p` that the tests below hold up. */
const viewerJoin: RoomCommand = {
  type: 'join',
  peerId: 'p',
  userId: 'u',
  role: 'viewer',
  perms: none,
  gateway: 'g',
  conn: 'c',
};

t.test('a member whose expiry timer fires early (by the wall clock) still times out', async (t) => {
  let now = 1_000_000;
  const { service } = await serviceUnderTest(
    t,
    { log: new MemoryRoomLog(), env: { now: () => now, id: (n) => systemEnvironment.id(n) } },
    { ROOM_RESUME_GRACE_MS: '30' },
  );
  await service.handle('r', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('r', {
    type: 'join',
    peerId: 'p',
    userId: 'u',
    role: 'publisher',
    perms: { ...none, publish: true },
    gateway: 'g',
    conn: 'c',
  });
  await service.handle('r', { type: 'disconnect', peerId: 'p', gateway: 'g', conn: 'c' });
  const awayUntil = memberOf(service.stateOf('r'), 'p')?.awayUntil;
  t.equal(awayUntil, now + 30);
  // The timer fires (after ~30 ms of real time) while the service's clock still reads 1 ms before the deadline.
  now = (awayUntil ?? 0) - 1;
  await new Promise((r) => setTimeout(r, 150));
  t.equal(memberOf(service.stateOf('r'), 'p'), undefined, 'the member timed out');
  t.equal(service.stateOf('r')?.publisher, null, 'and gave the publisher slot back');
});

t.test('room gauges: rooms by status, members by role, publishers by kind', async (t) => {
  const { service } = await serviceUnderTest(t, { log: new MemoryRoomLog() });
  const conn = (c: string) => ({ gateway: 'g', conn: c });
  await service.handle('a', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('b', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('c', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('a', {
    type: 'join',
    peerId: 'p',
    userId: 'o',
    role: 'publisher',
    perms: none,
    ...conn('1'),
  });
  await service.handle('a', {
    type: 'join',
    peerId: 'v',
    userId: 'x',
    role: 'viewer',
    perms: none,
    ...conn('2'),
  });
  await service.handle('b', { type: 'set_status', status: 'live', userId: 'o', perms: none });
  await service.handle('c', { type: 'set_status', status: 'ended', userId: 'o', perms: none });

  // An ended room is let go once its last snapshot is stored (room.retired.ts).
  await until(() => !service.holds('c'), 'the ended room is let go');
  const m = createMetrics();
  service.reportMetrics(m);
  const read = (name: string) =>
    Object.fromEntries(
      (m.snapshot().find((s) => s.spec.name === name)?.points ?? []).map((p) => [
        Object.values(p.attrs).join(','),
        p.value,
      ]),
    );
  t.same(read('rooms'), { preparing: 1, live: 1, ended: 0 });
  t.same(read('room_members'), { publisher: 1, cohost: 0, viewer: 1 });
  t.same(read('room_publishers'), { peer: 1, stream: 0 });
  const loads = () =>
    m.snapshot().find((s) => s.spec.name === 'room_partition_load_seconds')?.points[0]?.count;
  t.equal(loads(), 1, "the start's load of every partition is timed once");
  service.reportMetrics(m);
  t.equal(loads(), 1, 'and not again at the next sample');
});

t.test('a snapshot never holds a transition its log does not (append in flight)', async (t) => {
  const log = new HeldLog();
  const snapshots = new MemorySnapshotStore();
  const { service } = await serviceUnderTest(
    t,
    { log, snapshots },
    { ROOM_SNAPSHOT_INTERVAL_MS: '100', ROOM_SNAPSHOT_EVERY: '1000' },
  );
  await service.handle('r', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await until(() => snapshots.records.has('r'), 'the created room is snapshotted');
  t.equal(snapshots.records.get('r')?.seq, 1, 'the created room is snapshotted');

  const release = log.holdAppends();
  const join = service.handle('r', viewerJoin);
  // Several snapshot intervals pass while the append is held.
  await new Promise((r) => setTimeout(r, 350));
  t.equal(snapshots.records.get('r')?.seq, 1, 'no snapshot of the unconfirmed join');

  // The append fails: the log never holds the join, so neither may anything restored.
  log.fail = true;
  release();
  await t.rejects(join, { code: 'UNAVAILABLE' }, 'the unconfirmed join is refused');
  log.fail = false;
  await new Promise((r) => setTimeout(r, 250));
  const loaded = await loadRooms(log, snapshots, () => true);
  t.equal(loaded.get('r')?.actor.state.seq, 1, 'a restart finds the room as its log has it');
  t.equal(loaded.get('r')?.actor.state.members.size, 0, 'without the join');
  t.equal(service.stateOf('r')?.seq, 1, 'and so does the running service');

  // After a confirmed append the next interval snapshots it, with the stream position that goes with it.
  const ok = await service.handle('r', viewerJoin);
  t.ok(ok.ok, 'a confirmed join');
  await until(() => snapshots.records.get('r')?.seq === 2, 'the confirmed join is snapshotted');
  const snap = snapshots.records.get('r');
  t.equal(snap?.seq, 2, 'snapshotted');
  t.equal(snap?.batches, 2, 'with the batches its log holds');
});

t.test('a lease lost and taken back while a command is under way keeps the command', async (t) => {
  const { leases, owned, report } = handedLeases();
  const log = new HeldLog();
  const { rooms } = await serviceUnderTest(t, {
    log,
    snapshots: new MemorySnapshotStore(),
    leases,
  });
  const ask = (cmd: RoomCommand) => rooms.send('r', cmd, { timeoutMs: 2000 });
  t.equal(
    await outcome(ask({ type: 'create', userId: 'o', title: 't', isPrivate: false })),
    'ok',
    'created',
  );

  const release = log.holdAppends();
  const join = ask(viewerJoin);
  await log.appendHeld;
  // The lease lapses and is taken back (two reports, the second before the first is done).
  owned.delete(0);
  void report([], [0]);
  owned.add(0);
  void report([0], []);
  const state = rooms.state('r', { timeoutMs: 2000 });
  await new Promise((r) => setTimeout(r, 50));
  release();
  t.equal(await outcome(join), 'ok', 'the join is acknowledged');
  const s = await state;
  t.ok(s.seq === 2, 'a read after it sees it');
  const again = await rooms.state('r', { timeoutMs: 2000 });
  t.ok(memberOf(again.state as RoomState, 'p'), 'and the room holds the member');
});

t.test(
  'handed over mid-command: the running command is answered, the next is not run but told so',
  async (t) => {
    const { leases, owned, report } = handedLeases();
    const log = new HeldLog();
    const { rooms, service } = await serviceUnderTest(t, {
      log,
      snapshots: new MemorySnapshotStore(),
      leases,
    });
    const ask = (cmd: RoomCommand) => outcome(rooms.send('r', cmd, { timeoutMs: 2000 }));
    t.equal(
      await ask({ type: 'create', userId: 'o', title: 't', isPrivate: false }),
      'ok',
      'created',
    );

    const release = log.holdAppends();
    const first = ask(viewerJoin);
    await log.appendHeld;
    const second = ask({ ...viewerJoin, peerId: 'q', conn: 'c2' });
    // Commands are taken in the order they arrive: once a later one (for another room,
    // not queued behind the held append) is answered, the second join is in the mailbox.
    const barrier = await outcome(rooms.state('elsewhere', { timeoutMs: 2000 }));
    t.not(barrier, 'ok', 'the barrier command was answered');
    // The partition is given back (a replica joined) while the first join's append is open
    // and the second join waits behind it in the room's mailbox.
    owned.delete(0);
    const handedOver = report([], [0]);
    release();
    t.equal(await first, 'ok', 'the join that was under way is answered: its event is in the log');
    const moved = await second;
    t.same(
      moved,
      'UNAVAILABLE',
      'the join that had not started is answered UNAVAILABLE at once (its retry reaches the new owner)',
    );
    await handedOver;
    const events = (await log.readRoom('r', 0)).flatMap((b) => b.batch.events.map((e) => e.type));
    t.same(
      events,
      ['room_created', 'member_joined'],
      'the log holds the first join, not the second',
    );
    const m = createMetrics();
    service.reportMetrics(m);
    const value = (name: string) =>
      m.snapshot().find((s) => s.spec.name === name)?.points[0]?.value;
    t.equal(value('room_commands_moved'), 1, 'the command not run is counted');
    t.equal(value('room_partitions'), 0, 'and the replica owns no partition now');
  },
);

t.test('snapshots of a growing room are amortized: one per half its size in events', async (t) => {
  const snapshots = new MemorySnapshotStore();
  let saves = 0;
  const save = snapshots.save.bind(snapshots);
  snapshots.save = (record) => {
    saves++;
    return save(record);
  };
  const { service } = await serviceUnderTest(
    t,
    { log: new MemoryRoomLog(), snapshots },
    { ROOM_SNAPSHOT_EVERY: '4', ROOM_SNAPSHOT_INTERVAL_MS: '3600000' },
  );
  await service.handle('r', {
    type: 'create',
    userId: 'o',
    title: 't',
    isPrivate: false,
    maxViewers: 1000,
  });
  for (let i = 0; i < 200; i++)
    await service.handle('r', { ...viewerJoin, peerId: `p${i}`, conn: `c${i}` });
  // Every 4 events would be 50 snapshots; every max(4, members/2) is about log1.5(200/8) + 2 more.
  t.ok(saves > 3, `${saves} snapshots written`);
  t.ok(saves <= 15, `${saves} snapshots for 200 joins, not 50`);
  t.ok(
    (snapshots.records.get('r')?.seq ?? 0) > 100,
    'the last one is recent (within half the room)',
  );
});
