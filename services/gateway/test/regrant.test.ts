/**
 * A refreshed token is checked against every room the connection has joined: a
 * member whose grant is gone leaves that room and is told (`kicked`,
 * `grant_revoked`); the rooms it may still be in are left alone. Over real sockets.
 */
import t from 'tap';
import { memberOf } from '#shared/room/room.state.js';
import { startSystem } from '../../../test/helpers/system.js';

t.test('a refresh that drops a grant kicks the member from that private room only', async (t) => {
  const sys = await startSystem(t);
  await sys.createRoom('p1', 'owner', { isPrivate: true });
  await sys.createRoom('p2', 'owner', { isPrivate: true });
  await sys.createRoom('open', 'owner');
  await sys.createRoom('stage', 'owner');
  const grants = { view: ['p1', 'p2'], publish: ['stage'] };
  const alice = await sys.client('alice', grants);
  const peers: Record<string, string> = {};
  for (const [room, role] of [
    ['p1', 'viewer'],
    ['p2', 'viewer'],
    ['open', 'viewer'],
    ['stage', 'publisher'],
  ] as const) {
    const j = await alice.call({ type: 'join', room, role });
    t.equal(j.type, 'joined', `joined ${room} as ${role}`);
    if (j.type === 'joined') peers[room] = j.peerId;
  }

  // The same user, a fresh token that no longer names p1 nor grants publishing.
  const refreshed = await alice.call({
    type: 'auth',
    token: await sys.token('alice', { view: ['p2'] }),
  });
  t.same([refreshed.type, refreshed.userId], ['authenticated', 'alice'], 'the refresh is accepted');
  const kicked = [await alice.nextOf('kicked'), await alice.nextOf('kicked')];
  t.same(
    kicked.map((k) => [k.room, k.reason]).sort(),
    [
      ['p1', 'grant_revoked'],
      ['stage', 'grant_revoked'],
    ],
    'kicked from the private room it may no longer see, and from the stage it may no longer hold',
  );
  t.notOk(memberOf(sys.room.stateOf('p1'), peers.p1 ?? ''), 'the room let it go (a leave)');
  t.notOk(memberOf(sys.room.stateOf('stage'), peers.stage ?? ''), 'the stage too');
  t.equal(sys.room.stateOf('stage')?.publisher, null, 'and its publisher slot is free');
  t.ok(memberOf(sys.room.stateOf('p2'), peers.p2 ?? ''), 'still in the private room still granted');
  t.ok(memberOf(sys.room.stateOf('open'), peers.open ?? ''), 'and in the public room');

  const again = await alice.call({ type: 'leave', room: 'p1' });
  t.same([again.type, again.code], ['error', 'NOT_IN_ROOM'], 'the gateway forgot p1 too');
  const stays = await alice.call({ type: 'leave', room: 'p2' });
  t.equal(stays.type, 'left', 'p2 is still joined');
  t.notOk(alice.closed, 'the connection stays open');

  const other = await alice.call({ type: 'auth', token: await sys.token('mallory') });
  t.same(
    [other.type, other.code],
    ['error', 'ALREADY_AUTHENTICATED'],
    'a refresh for another user is refused',
  );
  t.ok(memberOf(sys.room.stateOf('open'), peers.open ?? ''), '... and changes nothing');
});
