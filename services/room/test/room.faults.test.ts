/**
 * Faults under the room service: nats-server killed and restarted in the middle of
 * traffic, and commands for a room whose owner just died. Every command gets an
 * answer or a clear error; nothing acknowledged is lost.
 */
import t from 'tap';
import { Bus } from '#shared/runtime/bus.js';
import { RoomClient } from '#shared/room/room.client.js';
import { asReply } from './reply.js';
import { RoomcastError } from '#shared/wire/errors.js';
import { createLogger } from '#shared/runtime/log.js';
import type { AnyRoomReply, RoomReplies } from '#shared/room/room.commands.js';
import { stateHash } from '../room.actor.js';
import { JetStreamRoomLog } from '../room.log.js';
import { rebuildRoom } from '../room.recovery.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';
import { membersOf, type RoomState } from '#shared/room/room.state.js';
import { viewerJoin } from './fixtures.js';
t.test(
  'nats-server killed and restarted during traffic: acknowledged transitions survive',
  async (t) => {
    const nats = await startNats();
    const room = await startService(t, 'room', {
      NATS_URL: nats.url,
      LOG_LEVEL: 'info',
      ROOM_LEASE_MS: '1500',
      ROOM_RESUME_GRACE_MS: '600000',
    });
    const bus = await Bus.connect({
      ...nats.connectOptions(),
      name: 'faults',
      requestTimeoutMs: 1500,
      log: createLogger('test', 'error'),
    });
    const client = new RoomClient(bus);
    t.teardown(async () => {
      await room.signal('SIGKILL');
      await bus.close();
      await nats.stop();
    });

    const rooms = Array.from({ length: 20 }, (_, i) => `f${i}`);
    for (const id of rooms) {
      const r = await asReply(
        client.send(id, {
          type: 'create',
          userId: 'o',
          title: id,
          isPrivate: false,
          maxViewers: 1000,
        }),
      );
      t.ok(r.ok, `created ${id}`);
    }
    /** peer ids whose join was acknowledged, per room */
    const acked = new Map<string, string[]>(rooms.map((id) => [id, []]));
    const failures = new Map<string, number>();
    let stop = false;
    let n = 0;
    const traffic = rooms.map(async (id) => {
      while (!stop) {
        const peerId = `p${n++}`;
        try {
          const r = await asReply(client.send(id, viewerJoin(peerId)));
          if (r.ok) acked.get(id)!.push(peerId);
          else failures.set(r.error.code, (failures.get(r.error.code) ?? 0) + 1);
        } catch (err) {
          const code = err instanceof RoomcastError ? err.code : 'OTHER';
          failures.set(code, (failures.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await nats.kill(true);
    await new Promise((r) => setTimeout(r, 300));
    await nats.restart();
    // Traffic flows again through the restarted server.
    const resumed = [...acked.values()].reduce((a, b) => a + b.length, 0);
    for (
      let i = 0;
      i < 100 && [...acked.values()].reduce((a, b) => a + b.length, 0) < resumed + 50;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await Promise.all(traffic);
    t.ok(
      [...acked.values()].reduce((a, b) => a + b.length, 0) > resumed,
      'joins are acknowledged again after the restart',
    );
    t.ok(
      failures.size > 0,
      `meanwhile commands failed with clear errors: ${JSON.stringify(Object.fromEntries(failures))}`,
    );
    t.same(
      [...failures.keys()].filter((c) => c !== 'UNAVAILABLE'),
      [],
      'every failure is UNAVAILABLE (try again), never a wrong answer',
    );

    const log = await JetStreamRoomLog.open(bus.nc, {
      writer: 'faults',
      replicas: 1,
      timeoutMs: 3000,
    });
    for (const id of rooms) {
      const r = await asReply<RoomReplies['state']>(
        client.send(id, { type: 'state' }, { timeoutMs: 5000 }),
      );
      if (!r.ok) {
        t.fail(`${id}: ${r.error.code}`);
        continue;
      }
      const members = membersOf(r.state as RoomState).map((m) => m.peerId);
      const lost = acked.get(id)!.filter((p) => !members.includes(p));
      t.same(lost, [], `${id}: every acknowledged join is still there`);
      const { entry } = await rebuildRoom(log, id);
      t.equal(entry && stateHash(entry.actor), r.hash, `${id}: the live room equals its log`);
    }
  },
);

t.test('a command for a room whose owner just died gets UNAVAILABLE, not silence', async (t) => {
  const nats = await startNats();
  const env = { NATS_URL: nats.url, LOG_LEVEL: 'info', ROOM_LEASE_MS: '1000' };
  let room = await startService(t, 'room', env);
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name: 'owner-died',
    requestTimeoutMs: 1000,
    log: createLogger('test', 'error'),
  });
  const client = new RoomClient(bus);
  t.teardown(async () => {
    await room.signal('SIGKILL');
    await bus.close();
    await nats.stop();
  });
  const created = await asReply(
    client.send('orphan', {
      type: 'create',
      userId: 'o',
      title: 't',
      isPrivate: false,
    }),
  );
  t.ok(created.ok);
  await room.signal('SIGKILL');
  await t.rejects(
    asReply(client.send('orphan', { type: 'get' })),
    { name: 'RoomcastError', code: 'UNAVAILABLE' },
    'no owner: a clear, typed error at once',
  );
  room = await startService(t, 'room', env);
  let reply: AnyRoomReply | undefined;
  while (reply === undefined) {
    reply = await asReply(client.send('orphan', { type: 'get' })).catch(() => undefined);
  }
  t.ok(reply.ok, 'a new owner answers for the room again');
});
