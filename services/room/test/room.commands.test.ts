/**
 * Malformed commands reaching a running room service: each is refused with
 * BAD_FRAME before any room sees it, nothing is applied, and the service keeps
 * answering.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import type { RoomCommand } from '#shared/room/room.commands.js';
import { RoomRefusedError } from '#shared/room/room.client.js';
import { subjects } from '#shared/wire/subjects.js';
import { MemoryRoomLog } from '../room.log.js';
import { serviceUnderTest } from './service.harness.js';

const none = { publish: false, view: false, admin: false };
const conn = { gateway: 'g', conn: 'c' };
const join = { type: 'join', peerId: 'p', userId: 'u', role: 'viewer', perms: none, ...conn };

/** [name, what is sent, a fragment the refusal's message must hold]. */
const malformed: [string, unknown, string][] = [
  ['not an object', ['join'], 'JSON object'],
  ['null', null, 'JSON object'],
  ['no type', { peerId: 'p' }, 'unknown command'],
  ['type not a string', { type: 7 }, 'unknown command'],
  ['unknown type', { type: 'explode' }, 'unknown command'],
  ['join: missing perms', { ...join, perms: undefined }, '/perms'],
  ['join: extra field', { ...join, admin: true }, 'join'],
  ['join: peer id with a dot', { ...join, peerId: 'a.b' }, '/peerId'],
  ['join: peer id a wildcard', { ...join, peerId: '>' }, '/peerId'],
  ['join: peer id not a string', { ...join, peerId: 42 }, '/peerId'],
  ['join: unknown role', { ...join, role: 'owner' }, '/role'],
  ['join: gateway not a subject token', { ...join, gateway: 'g.*' }, '/gateway'],
  ['join: perms with an extra grant', { ...join, perms: { ...none, root: true } }, '/perms'],
  ['join: perms not booleans', { ...join, perms: { ...none, view: 'yes' } }, '/perms/view'],
  ['leave: missing user', { type: 'leave', peerId: 'p', ...conn }, '/userId'],
  ['resume: token not a string', { type: 'resume', token: 1, userId: 'u', ...conn }, '/token'],
  [
    'set_status: unknown status',
    { type: 'set_status', status: 'paused', userId: 'o', perms: none },
    '/status',
  ],
  ['kick: missing reason', { type: 'kick', peerId: 'p', userId: 'o', perms: none }, '/reason'],
  ['get: partial perms', { type: 'get', userId: 'u', perms: { view: true } }, '/perms'],
  ['state: extra field', { type: 'state', all: true }, 'state'],
  [
    'create: title not a string',
    { type: 'create', userId: 'o', title: 5, isPrivate: false },
    '/title',
  ],
  [
    'create: isPrivate not a boolean',
    { type: 'create', userId: 'o', title: 't', isPrivate: 'no' },
    '/isPrivate',
  ],
  [
    'stream_stop: unknown reason',
    { type: 'stream_stop', clientId: 'c1', reason: 'bored' },
    '/reason',
  ],
  [
    'stream_sync: viewers not a list',
    {
      type: 'stream_sync',
      serviceId: 's',
      streamId: null,
      publisher: null,
      viewers: 'c1',
      listAgeMs: 0,
      graceMs: 0,
      endAfterMs: 0,
    },
    '/viewers',
  ],
];

t.test('malformed commands are refused with BAD_FRAME and change nothing', async (t) => {
  const { rooms, service, nats } = await serviceUnderTest(t, { log: new MemoryRoomLog() });
  await rooms.create('r', { userId: 'o', title: 't', isPrivate: false });
  await rooms.join('r', { peerId: 'm', userId: 'u', role: 'viewer', perms: none, ...conn });
  const before = await rooms.state('r');

  for (const [name, command, fragment] of malformed) {
    const err = await rooms.send('r', command as RoomCommand).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, RoomRefusedError, `${name}: refused`);
    const body = (err as RoomRefusedError).body;
    t.equal(body.code, 'BAD_FRAME', `${name}: BAD_FRAME`);
    t.match(body.message, fragment, `${name}: says what is wrong`);
  }

  // Bytes that are not JSON: a raw request, since RoomClient always sends JSON.
  const nc = await connect(nats.connectOptions());
  t.teardown(() => nc.close());
  const raw = await nc.request(subjects.roomCommand('r'), new TextEncoder().encode('{"type":'));
  t.same(
    raw.json(),
    { ok: false, error: { code: 'BAD_FRAME', message: 'command is not JSON' } },
    'not JSON: refused',
  );

  const after = await rooms.state('r');
  t.equal(after.seq, before.seq, 'no event was recorded');
  t.equal(after.hash, before.hash, 'the room is as it was');
  t.equal(service.size, 1, 'and no room was created');
  const again = await rooms.join('r', {
    peerId: 'n',
    userId: 'v',
    role: 'viewer',
    perms: none,
    ...conn,
  });
  t.equal(again.seq, before.seq + 1, 'the service keeps serving');
});

t.test('a resume token that does not parse is RESUME_FAILED', async (t) => {
  const { rooms } = await serviceUnderTest(t, { log: new MemoryRoomLog() });
  await rooms.create('r', { userId: 'o', title: 't', isPrivate: false });
  const joined = await rooms.join('r', {
    peerId: 'm',
    userId: 'u',
    ...conn,
    role: 'viewer',
    perms: none,
  });
  for (const token of ['', 'm', 'm.', '.secret', 'm.a.b', 'a*.b']) {
    const err = await rooms.resume('r', { token, userId: 'u', ...conn }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.equal((err as RoomRefusedError | undefined)?.code, 'RESUME_FAILED', JSON.stringify(token));
  }
  const resumed = await rooms.resume('r', { token: joined.resume, userId: 'u', ...conn });
  t.equal(resumed.resume, joined.resume, 'the token it was given still resumes');
});
