/**
 * Room-service replicas share the rooms, one owner per room: commands reach the
 * owner wherever it runs; a dead owner's rooms move to a survivor with their
 * state; a paused owner (SIGSTOP past its lease) never writes again once resumed.
 */
import t, { type Test } from 'tap';
import { Bus } from '#shared/runtime/bus.js';
import { RoomClient } from '#shared/room/room.client.js';
import { asReply } from './reply.js';
import { memberOf, type RoomState } from '#shared/room/room.state.js';
import { createLogger } from '#shared/runtime/log.js';
import type { RoomCommand, RoomReplies, RoomReply } from '#shared/room/room.commands.js';
import { JetStreamRoomLog, type StoredBatch } from '../room.log.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';

const none = { publish: false, view: false, admin: false };
type State = RoomReplies['state'];

async function setup(t: Test, rooms: number) {
  const nats = await startNats();
  const env = (id: string) => ({
    NATS_URL: nats.url,
    LOG_LEVEL: 'info',
    ROOM_REPLICA_ID: id,
    ROOM_PARTITIONS: '8',
    ROOM_LEASE_MS: '1500',
    ROOM_SNAPSHOT_INTERVAL_MS: '500',
    ROOM_RESUME_GRACE_MS: '600000',
  });
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name: 'replicas-test',
    requestTimeoutMs: 3000,
    log: createLogger('test', 'error'),
  });
  const client = new RoomClient(bus);
  const a = await startService(t, 'room', env('replica-a'));
  const b = await startService(t, 'room', env('replica-b'));
  t.teardown(async () => {
    await a.signal('SIGCONT');
    await Promise.all([a.signal('SIGKILL'), b.signal('SIGKILL')]);
    await bus.close();
    await nats.stop();
  });

  /**
   * Asks until an answer other than "try again" comes, as a caller should: a command
   * that meets its partition changing hands is answered UNAVAILABLE, or not at all
   * when it arrives while no replica owns the partition.
   */
  const ask = async <T>(roomId: string, cmd: RoomCommand): Promise<RoomReply<T>> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await asReply<T>(client.send(roomId, cmd, { timeoutMs: 1000 }));
        if (r.ok || r.error.code !== 'UNAVAILABLE' || attempt >= 20) return r;
        await new Promise((resolve) => setTimeout(resolve, 50));
      } catch (err) {
        if (attempt >= 20) throw err;
      }
    }
  };
  const state = async (roomId: string): Promise<State> => {
    const r = await ask<State>(roomId, { type: 'state' });
    if (!r.ok) throw new Error(`${roomId}: ${r.error.code}`);
    return r;
  };

  // Wait until the second replica has its share: both answer for some rooms.
  const ids = Array.from({ length: rooms }, (_, i) => `rep${i}`);
  for (const id of ids) {
    const r = await ask<object>(id, {
      type: 'create',
      userId: 'owner',
      title: id,
      isPrivate: false,
      maxViewers: 50,
    });
    // A create whose answer was lost (a partition changing hands as the second replica
    // arrives, or a slow machine) is retried by ask(); ROOM_EXISTS then means it landed.
    if (!r.ok && r.error.code !== 'ROOM_EXISTS') throw new Error(`create ${id}: ${r.error.code}`);
    const j = await ask(id, {
      type: 'join',
      peerId: 'p0',
      userId: 'owner',
      role: 'publisher',
      perms: none,
      gateway: 'g',
      conn: 'c0',
    });
    if (!j.ok && j.error.code !== 'ALREADY_JOINED') throw new Error(`join ${id}: ${j.error.code}`);
  }
  for (let i = 0; i < 50; i++) {
    const owners = new Set((await Promise.all(ids.map(state))).map((s) => s.owner));
    if (owners.size === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { nats, bus, client, a, b, ids, ask, state };
}

/** A room's log must be one writer's history: room sequences follow each other with no gap and no repeat. */
function contiguous(batches: StoredBatch[]): boolean {
  let next = 1;
  for (const { batch } of batches) {
    if (batch.seq !== next) return false;
    next += batch.events.length;
  }
  return true;
}

t.test('replicas share the rooms and a dead owner’s rooms move with their state', async (t) => {
  const { a, ids, state } = await setup(t, 120);
  const before = new Map((await Promise.all(ids.map(state))).map((s, i) => [ids[i]!, s]));
  const owners = [...before.values()].map((s) => s.owner);
  t.ok(owners.includes('replica-a') && owners.includes('replica-b'), 'both replicas own rooms');

  const started = Date.now();
  await a.signal('SIGKILL');
  const after = await Promise.all(ids.map(state));
  t.comment(`every room answered again ${Date.now() - started} ms after the kill (lease 1500 ms)`);
  t.same(
    after.filter((s) => s.owner !== 'replica-b'),
    [],
    'the survivor owns every room',
  );
  t.same(
    ids.filter((id, i) => after[i]!.hash !== before.get(id)!.hash),
    [],
    'every room kept its state across the failover',
  );
});

t.test('a replica paused past its lease never writes again', async (t) => {
  const { a, b, bus, client, ids, ask, state } = await setup(t, 60);
  const ofA = (await Promise.all(ids.map(state)))
    .filter((s) => s.owner === 'replica-a')
    .map((s) => (s.state as { roomId: string }).roomId);
  t.ok(ofA.length > 0, `replica a owns ${ofA.length} rooms`);

  // Traffic to a's rooms, and a is frozen in the middle of it.
  const burst = ofA.map((id, k) =>
    asReply(
      client.send(
        id,
        {
          type: 'join',
          peerId: `x${k}`,
          userId: `u${k}`,
          role: 'viewer',
          perms: none,
          gateway: 'g',
          conn: `cx${k}`,
        },
        { timeoutMs: 1000 },
      ),
    ).catch(() => undefined),
  );
  await a.signal('SIGSTOP');
  await Promise.all(burst);

  // b takes a's rooms over (their state comes from the log) and serves them.
  for (const id of ofA) {
    let s = await state(id);
    while (s.owner !== 'replica-b') s = await state(id);
  }
  for (const [k, id] of ofA.entries()) {
    await ask(id, {
      type: 'join',
      peerId: `y${k}`,
      userId: `v${k}`,
      role: 'viewer',
      perms: none,
      gateway: 'g',
      conn: `cy${k}`,
    });
  }
  await a.signal('SIGCONT');
  // a wakes up with its lease long gone, and commands (some queued while it slept) arriving.
  await a.waitFor(/partitions changed.*"lost":\[\d/);
  for (const [k, id] of ofA.entries()) {
    const r = await ask(id, {
      type: 'join',
      peerId: `z${k}`,
      userId: `w${k}`,
      role: 'viewer',
      perms: none,
      gateway: 'g',
      conn: `cz${k}`,
    });
    // ALREADY_JOINED only when ask() retried a join whose first answer was lost.
    t.ok(r.ok || r.error.code === 'ALREADY_JOINED', `${id}: join after a resumed`);
    const s = await state(id);
    t.equal(s.owner, 'replica-b', `${id}: answered by b`);
    t.ok(memberOf(s.state as RoomState, `z${k}`), `${id}: the join is in its state`);
  }

  const log = await JetStreamRoomLog.open(bus.nc, {
    writer: 'replicas-test',
    replicas: 1,
    timeoutMs: 3000,
  });
  for (const id of ofA) {
    const batches = await log.readRoom(id, 0);
    t.ok(contiguous(batches), `${id}: one history, no gap, no repeat`);
    const writers = batches.map((x) => x.msgId?.split(':')[2]);
    const lastA = writers.lastIndexOf('replica-a');
    const firstB = writers.indexOf('replica-b');
    t.ok(firstB === -1 || lastA < firstB, `${id}: nothing written by a after b took over`);
  }
  t.notOk(
    b.lines.some((l) => l.includes('"level":"error"')),
    'b logged no errors',
  );
});
