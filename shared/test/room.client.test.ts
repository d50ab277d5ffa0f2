import t from 'tap';
import type { Msg } from '@nats-io/nats-core';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { subjects } from '#shared/wire/subjects.js';
import { ErrorCode, NoRespondersError, RequestTimeoutError } from '#shared/wire/errors.js';
import { startNats } from '../../test/helpers/nats.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';

t.test('RoomClient: replies, refusals and the two transport failures', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const log = createLogger('test', 'error');
  const connect = (name: string) =>
    Bus.connect({ ...nats.connectOptions(), name, requestTimeoutMs: 300, log });
  const server = await connect('room');
  const caller = await connect('caller');
  t.teardown(async () => {
    await caller.close();
    await server.close();
  });
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
