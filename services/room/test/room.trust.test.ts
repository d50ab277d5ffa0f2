/**
 * The room service trusts no caller blindly, over a real system that runs with the
 * shipped bus permissions: what a gateway's credential forges (an event appended to
 * the log, a stream command, a broadcast) is refused by the server or by the room
 * service's own check, and the room and its log stay as they were.
 */
import t from 'tap';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { PermissionViolationError, type NatsConnection } from '@nats-io/nats-core';
import { Bus, decode, encode } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { startSystem } from '../../../test/helpers/system.js';
import { JetStreamRoomLog } from '../room.log.js';

const ROOM = 'trust';
const owner = { publish: true, view: true, admin: true };
const publishArgs = {
  clientId: 'forged',
  serviceId: null,
  key: null,
  userId: 'owner',
  perms: owner,
};
const streamPublish: RoomCommand = { type: 'stream_publish', ...publishArgs };

/** The permission refusals `nc` receives from now on. */
function refusals(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status())
      if (s.type === 'error' && s.error instanceof PermissionViolationError) seen.push(s.error);
  })();
  return seen;
}

/** Everything sent is answered, and refusals are handed over (see bus.permissions.test.ts). */
async function settled(nc: NatsConnection): Promise<void> {
  await nc.flush();
  await new Promise(setImmediate);
}

/** A raw request (not through RoomClient, which picks the right subject) and its reply. */
async function raw(nc: NatsConnection, subject: string, cmd: RoomCommand): Promise<AnyRoomReply> {
  return decode<AnyRoomReply>((await nc.request(subject, encode(cmd), { timeout: 5000 })).data);
}

t.test('forgeries from the gateway credential change nothing', async (t) => {
  const sys = await startSystem(
    t,
    {},
    {
      log: (bus) => JetStreamRoomLog.open(bus.nc, { writer: 'room', replicas: 1, timeoutMs: 2000 }),
    },
  );
  await sys.createRoom(ROOM, 'owner');
  const jsm = await jetstreamManager(sys.bus.nc);
  const lastInLog = async () =>
    (
      await jsm.streams.getMessage(streamNames.roomEvents, {
        last_by_subj: subjects.roomEvents(ROOM),
      })
    )?.seq;
  const before = { state: await sys.rooms.state(ROOM), log: await lastInLog() };

  const forger = await Bus.connect({
    ...sys.nats.connectOptions(Credential.gateway),
    name: 'forger',
    requestTimeoutMs: 500,
    log: createLogger('test', 'error'),
  });
  t.teardown(() => forger.close());
  const refused = refusals(forger.nc);
  const wasRefused = (subject: string) =>
    refused.some((e) => e.operation === 'publish' && e.subject === subject);

  // An event appended to the room's log, core and through JetStream.
  const batch = { v: 1, roomId: ROOM, seq: 2, events: [{ type: 'room_ended', v: 1, at: 0 }] };
  forger.nc.publish(subjects.roomEvents(ROOM), encode(batch));
  await settled(forger.nc);
  t.ok(wasRefused(subjects.roomEvents(ROOM)), 'the server refuses an event from the gateway');
  await t.rejects(
    jetstream(forger.nc, { timeout: 500 }).publish(subjects.roomEvents(ROOM), encode(batch)),
    'a JetStream append gets no acknowledgement',
  );

  // A stream command: on its own subject the server refuses it ...
  const sent = await new RoomClient(forger)
    .streamPublish(ROOM, publishArgs, { timeoutMs: 500 })
    .then(
      () => 'answered',
      (err: unknown) => (err instanceof RoomRefusedError ? err.code : 'no answer'),
    );
  t.equal(sent, 'no answer', 'the stream service’s subject: no answer');
  await settled(forger.nc);
  t.ok(wasRefused(subjects.roomServiceCommand(ROOM)), 'the server refused it');
  // ... and on the gateway's subject the room service refuses it.
  const misplaced = await raw(forger.nc, subjects.roomCommand(ROOM), streamPublish);
  t.match(misplaced, { ok: false, error: { code: 'NOT_ALLOWED' } }, 'the room service refuses');
  // The operators' `state` (stream key included) is not the gateway's either.
  const state = await raw(forger.nc, subjects.roomCommand(ROOM), { type: 'state' });
  t.match(state, { ok: false, error: { code: 'NOT_ALLOWED' } }, '`state` on cmd: refused');

  // What members hear: a fake `room_status: ended` broadcast.
  forger.nc.publish(subjects.roomBroadcast(ROOM), encode({ type: 'room_status', status: 'ended' }));
  await settled(forger.nc);
  t.ok(wasRefused(subjects.roomBroadcast(ROOM)), 'the server refuses a broadcast');

  const after = { state: await sys.rooms.state(ROOM), log: await lastInLog() };
  t.equal(after.state.hash, before.state.hash, 'the room is as it was');
  t.equal(after.state.seq, before.state.seq, 'at the same sequence');
  t.equal(after.log, before.log, 'and its log has nothing new');
  t.equal(after.state.status, before.state.status);
});

t.test('each command is accepted only on its own subject', async (t) => {
  const sys = await startSystem(t);
  await sys.createRoom(ROOM, 'owner');
  // The superuser may publish anywhere: what refuses here is the room service itself.
  const nc = sys.bus.nc;
  const cases: [string, string, RoomCommand][] = [
    ['a user command on svc', subjects.roomServiceCommand(ROOM), { type: 'get' }],
    ['a user command on ops', subjects.roomOpsCommand(ROOM), { type: 'get' }],
    ['a stream command on ops', subjects.roomOpsCommand(ROOM), { type: 'stream_expire' }],
    ['a stream command on cmd', subjects.roomCommand(ROOM), { type: 'stream_status' }],
    ['state on svc', subjects.roomServiceCommand(ROOM), { type: 'state' }],
  ];
  for (const [name, subject, cmd] of cases)
    t.match(await raw(nc, subject, cmd), { ok: false, error: { code: 'NOT_ALLOWED' } }, name);
  // Each on its own: answered.
  t.match(await raw(nc, subjects.roomCommand(ROOM), { type: 'get' }), { ok: true }, 'get on cmd');
  t.match(
    await raw(nc, subjects.roomServiceCommand(ROOM), { type: 'stream_status' }),
    { ok: true },
    'stream_status on svc',
  );
  t.match(
    await raw(nc, subjects.roomOpsCommand(ROOM), { type: 'state' }),
    { ok: true },
    'state on ops',
  );
});
