import t from 'tap';
import type { Test } from 'tap';
import type { Msg } from '@nats-io/nats-core';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { subjects } from '#shared/wire/subjects.js';
import { ErrorCode, NoRespondersError, RequestTimeoutError } from '#shared/wire/errors.js';
import { startNats } from '../../test/helpers/nats.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';

/** A nats-server with two buses on it, a room's and a caller's, stopped at teardown. */
async function twoBuses(t: Test, requestTimeoutMs: number) {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const log = createLogger('test', 'error');
  const connect = (name: string) =>
    Bus.connect({ ...nats.connectOptions(), name, requestTimeoutMs, log });
  const server = await connect('room');
  const caller = await connect('caller');
  t.teardown(async () => {
    await caller.close();
    await server.close();
  });
  return { server, caller };
}

t.test('RoomClient: replies, refusals and the two transport failures', async (t) => {
  const { server, caller } = await twoBuses(t, 300);
  const seen: unknown[] = [];
  const subjectOf = new Map<string, string>();
  const answer = (msg: Msg) => {
    const cmd = JSON.parse(new TextDecoder().decode(msg.data)) as { type: string };
    seen.push(cmd);
    subjectOf.set(cmd.type, msg.subject);
    if (cmd.type === 'leave') server.respond(msg, { ok: true, seq: 7 });
    else if (cmd.type === 'kick') {
      server.respond(msg, { ok: false, error: { code: 'ROOM_FULL', message: 'full' } });
    } else if (cmd.type === 'get') {
      server.respond(msg, { ok: false, error: { code: 'FROM_THE_FUTURE', message: 'new' } });
    }
    // 'state' is never answered: the caller times out.
  };
  // Each command travels on the subject of who may send it (room.command.channels.ts).
  for (const subject of [
    subjects.roomCommand('r1'),
    subjects.roomServiceCommand('r1'),
    subjects.roomOpsCommand('r1'),
  ])
    server.subscribe(subject, answer);
  await server.nc.flush();
  const rooms = new RoomClient(caller);

  const left = await rooms.leave('r1', { peerId: 'p', userId: 'u', gateway: 'g', conn: 'c' });
  t.equal(left.seq, 7, 'a reply resolves with its fields');
  t.same(seen[0], { type: 'leave', peerId: 'p', userId: 'u', gateway: 'g', conn: 'c' });

  const refused = await rooms
    .kick('r1', { peerId: 'p', reason: 'x', userId: 'u', perms: {} as never })
    .catch((e: unknown) => e);
  t.ok(refused instanceof RoomRefusedError, 'a refusal is a RoomRefusedError');
  t.equal((refused as RoomRefusedError).code, ErrorCode.ROOM_FULL);
  t.equal((refused as RoomRefusedError).message, 'full');

  const unknown = await rooms.get('r1').catch((e: unknown) => e);
  t.equal((unknown as RoomRefusedError).code, ErrorCode.INTERNAL, 'an unknown code is INTERNAL');

  const timedOut = await rooms.state('r1', { timeoutMs: 100 }).catch((e: unknown) => e);
  t.ok(timedOut instanceof RequestTimeoutError, 'no answer in time: RequestTimeoutError');
  t.equal((timedOut as RequestTimeoutError).code, ErrorCode.UNAVAILABLE);
  t.match((timedOut as Error).message, /within 100 ms/);

  t.equal(subjectOf.get('leave'), subjects.roomCommand('r1'), 'a user command on cmd');
  t.equal(subjectOf.get('state'), subjects.roomOpsCommand('r1'), 'state on ops');
  await rooms.streamExpire('r1', { timeoutMs: 100 }).catch(() => undefined);
  t.equal(subjectOf.get('stream_expire'), subjects.roomServiceCommand('r1'), 'stream_* on svc');

  const nobody = await rooms.state('nobody-here').catch((e: unknown) => e);
  t.ok(nobody instanceof NoRespondersError, 'nobody subscribed: NoRespondersError');
  t.equal((nobody as NoRespondersError).code, ErrorCode.UNAVAILABLE);
});

t.test('RoomClient with lanes: a storm on one slow room is answered, not timed out', async (t) => {
  const { server, caller } = await twoBuses(t, 400);
  // A room that answers one command per 2 ms or more, in arrival order, as a busy
  // replica does: 500 commands take over a second, more than twice the callers' timeout.
  const inbox: Msg[] = [];
  let unanswered = 0;
  let mostUnanswered = 0;
  let working = false;
  const work = () => {
    const msg = inbox.shift();
    if (msg === undefined) {
      working = false;
      return;
    }
    setTimeout(() => {
      server.respond(msg, { ok: true, seq: 1 });
      unanswered--;
      work();
    }, 2);
  };
  server.subscribe(subjects.roomCommand('slow'), (msg) => {
    inbox.push(msg);
    mostUnanswered = Math.max(mostUnanswered, ++unanswered);
    if (!working) {
      working = true;
      work();
    }
  });
  await server.nc.flush();
  const leaveAll = (rooms: RoomClient) =>
    Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        rooms.leave('slow', { peerId: `p${i}`, userId: 'u', gateway: 'g', conn: 'c' }).then(
          () => 'ok',
          (e: unknown) => (e instanceof RequestTimeoutError ? 'timeout' : e),
        ),
      ),
    );

  // The storm the lanes are for: every command sent at once, the last ones time out.
  const unpaced = await leaveAll(new RoomClient(caller));
  t.ok(
    unpaced.filter((r) => r === 'timeout').length > 150,
    'without lanes, the back of the storm times out',
  );
  while (unanswered > 0) await new Promise((r) => setTimeout(r, 20));

  mostUnanswered = 0;
  const paced = await leaveAll(new RoomClient(caller, { inFlight: 4, queued: 1000 }));
  t.same(
    paced.filter((r) => r !== 'ok'),
    [],
    'with lanes, every one is answered',
  );
  t.ok(mostUnanswered <= 4, `never more than 4 waiting in the room's inbox (${mostUnanswered})`);
});
