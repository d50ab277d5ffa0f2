/**
 * A busy room: many commands at once are decided in order, appended in batches
 * (group commit), each answered only once its batch is in the log; a failed batch
 * takes every command decided after it down with it, and the room is its log again.
 * Its viewer count goes out as coalesced `room_stats`, never one frame per join.
 */
import t from 'tap';
import type { Msg } from '@nats-io/nats-core';
import { decode } from '#shared/runtime/bus.js';
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { RoomStats } from '#shared/wire/protocol.js';
import { subjects } from '#shared/wire/subjects.js';
import { stateHash } from '../room.actor.js';
import { MemoryRoomLog } from '../room.log.js';
import { rebuildRoom } from '../room.recovery.js';
import { MemorySnapshotStore } from '../room.snapshots.js';
import { outcome, serviceUnderTest } from './service.harness.js';
import { none } from './fixtures.js';
import { membersOf } from '#shared/room/room.state.js';

const viewer = (peerId: string) => ({
  peerId,
  userId: `u-${peerId}`,
  role: 'viewer' as const,
  perms: none,
  gateway: 'g',
  conn: `c-${peerId}`,
});

/** A log that takes `delayMs` per append (a JetStream round trip), counts appends, and fails those `failing` picks. */
class SlowLog extends MemoryRoomLog {
  appends = 0;
  failing: (n: number, events: readonly RoomEvent[]) => boolean = () => false;
  constructor(private readonly delayMs: number) {
    super();
  }
  override async append(...args: Parameters<MemoryRoomLog['append']>): Promise<number> {
    const n = ++this.appends;
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failing(n, args[1])) throw new Error('NATS went away');
    return super.append(...args);
  }
}

/** Every event of the room's log, in order. */
async function eventsOf(log: MemoryRoomLog, roomId: string): Promise<RoomEvent[]> {
  return (await log.readRoom(roomId, 0)).flatMap((b) => b.batch.events);
}

t.test('1,000 concurrent joins: all acknowledged, each once in the log, in batches', async (t) => {
  const log = new SlowLog(5);
  const { rooms, bus } = await serviceUnderTest(t, { log, snapshots: new MemorySnapshotStore() });
  await rooms.create('r', { userId: 'o', title: 't', isPrivate: false, maxViewers: 5000 });
  const seqs: number[] = [];
  const sub = bus.subscribe(subjects.roomBroadcast('r'), (m: Msg) => {
    const b = decode<RoomBroadcast>(m.data);
    if (b.type === 'peer_joined' || b.type === 'peer_left') seqs.push(b.seq);
  });
  t.teardown(() => sub.unsubscribe());
  const before = log.appends;
  const peers = Array.from({ length: 1000 }, (_, i) => `p${i}`);
  const acked = await Promise.all(
    peers.map((p) => rooms.join('r', viewer(p), { timeoutMs: 10_000 }).then((m) => m.seq)),
  );
  t.equal(acked.length, 1000, 'every join acknowledged');
  t.equal(new Set(acked).size, 1000, 'each at its own room sequence');

  const joined = (await eventsOf(log, 'r')).flatMap((e) =>
    e.type === 'member_joined' ? [e.peerId] : [],
  );
  t.equal(joined.length, 1000, 'the log holds 1,000 joins');
  t.same(new Set(joined), new Set(peers), 'each peer exactly once');
  const appends = log.appends - before;
  t.ok(appends < 200, `in ${appends} appends, not one per join`);

  const stored = await log.readRoom('r', 0);
  let seq = 0;
  for (const b of stored) {
    t.equal(b.batch.seq, seq + 1, `batch at ${b.batch.seq} follows the last one`);
    seq += b.batch.events.length;
  }
  await bus.flush();
  t.equal(seqs.length, 0, 'the audience is not announced: no peer_joined for 1,000 joins');

  // Kicks are broadcast (the member's gateway acts on them): 100 at once, in room order.
  await Promise.all(
    peers
      .slice(0, 100)
      .map((p) =>
        rooms.kick(
          'r',
          { peerId: p, reason: 'x', userId: 'o', perms: none },
          { timeoutMs: 10_000 },
        ),
      ),
  );
  await bus.flush();
  for (let i = 0; i < 50 && seqs.length < 100; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(seqs.length, 100, 'one peer_left per kick');
  t.same(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'broadcasts go out in room order',
  );
});

t.test('a failed batch: its commands and every later one UNAVAILABLE, room = log', async (t) => {
  const log = new SlowLog(20);
  const { rooms, service } = await serviceUnderTest(
    t,
    { log, snapshots: new MemorySnapshotStore() },
    { ROOM_APPEND_BATCH_MAX: '10' },
  );
  await rooms.create('r', { userId: 'o', title: 't', isPrivate: false, maxViewers: 5000 });
  const first = log.appends;
  // Join 1 goes alone; joins 2-11 gather in the second batch, which fails; joins 12-21
  // were decided after it (the third batch, gathering): they fail with it. Joins 22-50
  // wait for a free batch, then for the room's rebuild, and are decided on the log's state.
  log.failing = (n) => n === first + 2;
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      outcome(rooms.join('r', viewer(`p${i}`), { timeoutMs: 10_000 })),
    ),
  );
  t.same(
    results,
    [
      'ok',
      ...Array.from({ length: 20 }, () => 'UNAVAILABLE'),
      ...Array.from({ length: 29 }, () => 'ok'),
    ],
    'the failed batch and the one decided after it are UNAVAILABLE, the rest go on',
  );

  const state = service.stateOf('r');
  const { entry } = await rebuildRoom(log, 'r');
  t.equal(state?.seq, entry?.actor.state.seq, 'the room is at its log sequence');
  t.equal(entry && stateHash(entry.actor), (await rooms.state('r')).hash, 'and equals its log');
  const acked = results.flatMap((r, i) => (r === 'ok' ? [`p${i}`] : []));
  t.same(
    (state === undefined ? [] : membersOf(state)).map((m) => m.peerId).sort(),
    acked.sort(),
    'its members are exactly the acknowledged joins',
  );

  // The room takes commands again: the failed joins retried succeed.
  const retried = await Promise.all(
    results.flatMap((r, i) => (r === 'ok' ? [] : [outcome(rooms.join('r', viewer(`p${i}`)))])),
  );
  t.same(new Set(retried), new Set(['ok']), 'the retries are acknowledged');
  t.equal(service.stateOf('r')?.members.size, 50, 'all 50 in');
});

t.test('commands without events are answered in order with the rest', async (t) => {
  const log = new SlowLog(10);
  const { rooms } = await serviceUnderTest(t, { log, snapshots: new MemorySnapshotStore() });
  await rooms.create('r', { userId: 'o', title: 't', isPrivate: false, maxViewers: 5000 });
  const order: string[] = [];
  const track = (name: string, p: Promise<unknown>) =>
    p.then(
      () => order.push(name),
      () => order.push(`${name}!`),
    );
  await Promise.all([
    track('join1', rooms.join('r', viewer('a'))),
    track('join2', rooms.join('r', viewer('b'))),
    track('get', rooms.get('r')),
    // Refused (already a member): decided against the unconfirmed join, answered after it.
    track('dup', rooms.join('r', viewer('b'))),
    track('join3', rooms.join('r', viewer('c'))),
  ]);
  t.same(order, ['join1', 'join2', 'get', 'dup!', 'join3'], 'answers in the order decided');
});

t.test('room_stats: coalesced, the final count last, nothing while nothing changes', async (t) => {
  const intervalMs = 100;
  const log = new SlowLog(1);
  const { rooms, bus, service } = await serviceUnderTest(
    t,
    { log, snapshots: new MemorySnapshotStore() },
    { ROOM_STATS_INTERVAL_MS: String(intervalMs) },
  );
  await rooms.create('r', { userId: 'o', title: 't', isPrivate: false, maxViewers: 5000 });
  const stats: RoomStats[] = [];
  const sub = bus.subscribe(subjects.roomBroadcast('r'), (m: Msg) => {
    const b = decode<RoomBroadcast>(m.data);
    if (b.type === 'room_stats') stats.push(b);
  });
  t.teardown(() => sub.unsubscribe());
  await bus.flush();

  // A member on stage is not audience: the numbers do not change, nothing is sent.
  await rooms.join('r', { ...viewer('pub'), role: 'publisher', userId: 'o' });
  await rooms.get('r');
  await new Promise((r) => setTimeout(r, intervalMs * 2));
  t.same(stats, [], 'no room_stats while the numbers stay');

  const started = Date.now();
  const joins = 200;
  // In waves, so the storm spans several intervals.
  for (let w = 0; w < 4; w++) {
    await Promise.all(
      Array.from({ length: joins / 4 }, (_, i) => rooms.join('r', viewer(`v${w}-${i}`))),
    );
    await new Promise((r) => setTimeout(r, intervalMs / 2));
  }
  const elapsed = Date.now() - started;
  await new Promise((r) => setTimeout(r, intervalMs * 3));
  await bus.flush();
  const bound = Math.floor(elapsed / intervalMs) + 2;
  t.ok(stats.length >= 1, `${stats.length} room_stats frames`);
  t.ok(
    stats.length <= bound,
    `${stats.length} frames for ${joins} joins in ${elapsed} ms: at most ${bound}`,
  );
  t.same(stats.at(-1), { type: 'room_stats', room: 'r', viewers: joins, peakViewers: joins });
  const seen = stats.length;
  await rooms.get('r');
  await new Promise((r) => setTimeout(r, intervalMs * 3));
  t.equal(stats.length, seen, 'nothing more once the numbers stay');

  // A leave changes them again: one more frame with the new count.
  await rooms.leave('r', { peerId: 'v0-0', userId: 'u-v0-0', gateway: 'g', conn: 'c-v0-0' });
  await new Promise((r) => setTimeout(r, intervalMs * 3));
  t.same(stats.at(-1), { type: 'room_stats', room: 'r', viewers: joins - 1, peakViewers: joins });
  t.equal(service.statsTimers, 0, 'no timer left armed');
});
