/**
 * The SDK against a real gateway and room service (in process): commands that
 * reject with the protocol's error codes, the stage and audience kept as state,
 * the room's status set through the SDK, and a token refreshed before it expires
 * on the same connection.
 */
import t from 'tap';
import { RoomcastClientError, type RoomcastClient } from '../roomcast.js';
import { startSystem } from '../../test/helpers/system.js';
import { sdkClient, until } from './sdk.harness.js';

t.test('typed errors, members and stats', async (t) => {
  const sys = await startSystem(t, { ROOM_STATS_INTERVAL_MS: '50' });
  const as = (sub: string, grants = {}) => sdkClient(t, sys.url, () => sys.token(sub, grants));
  await sys.createRoom('r1', 'owner');
  await sys.createRoom('small', 'owner', { maxViewers: 1 });

  const owner = as('owner');
  await owner.connect();
  t.equal(owner.userId, 'owner', 'authenticated as the token says');
  t.same(owner.iceServers, [], 'no ICE servers from a gateway that has none');

  const refused = async (client: RoomcastClient, room: string, role: 'viewer' | 'publisher') => {
    try {
      await client.join(room, role);
    } catch (err) {
      t.ok(err instanceof RoomcastClientError, 'a RoomcastClientError');
      return err instanceof RoomcastClientError ? [err.code, err.room] : [];
    }
    return ['joined'];
  };
  t.same(await refused(owner, 'nope', 'viewer'), ['ROOM_NOT_FOUND', 'nope']);

  const v1 = as('v1');
  const v2 = as('v2');
  await Promise.all([v1.connect(), v2.connect()]);
  await v1.join('small', 'viewer');
  t.same(await refused(v2, 'small', 'viewer'), ['ROOM_FULL', 'small']);

  const pub = await owner.join('r1', 'publisher');
  t.same(await refused(v1, 'r1', 'publisher'), ['NOT_ALLOWED', 'r1'], 'no publish grant');
  const viewer = await v1.join('r1', 'viewer');
  t.equal(
    viewer.publisher?.userId,
    'owner',
    'joined.peers: the stage, the viewer learns the publisher',
  );
  t.notOk(viewer.members.has(viewer.peerId), 'joined.peers does not include you');
  t.equal(pub.members.size, 0, 'the audience is never announced to the stage');
  await until(pub, ['change'], () => pub.stats?.viewers === 1, 'one viewer in room_stats');
  t.same(pub.stats, { viewers: 1, peakViewers: 1 }, 'stats kept as state');

  // The stage: a raised hand, an invitation, a demotion.
  await viewer.raiseHand();
  await until(pub, ['change'], () => pub.hands.has(viewer.peerId), 'the hand seen by the stage');
  await t.rejects(viewer.invite(viewer.peerId), { code: 'NOT_ALLOWED' }, 'only the stage invites');
  await pub.invite(viewer.peerId);
  await until(viewer, ['change'], () => viewer.role === 'cohost', 'the viewer on stage');
  await until(
    pub,
    ['change'],
    () => pub.members.get(viewer.peerId)?.role === 'cohost',
    'the publisher sees the co-host',
  );
  t.equal(pub.hands.size, 0, 'the hand is lowered by coming on stage');
  await viewer.demote();
  await until(viewer, ['change'], () => viewer.role === 'viewer', 'back in the audience');
  await until(pub, ['change'], () => !pub.members.has(viewer.peerId), 'the stage without it');
  await t.rejects(pub.demote(), { code: 'NOT_ON_STAGE' }, 'the publisher is never demoted');

  // The status, through the REST API with the client's token.
  await t.rejects(
    viewer.setStatus('live'),
    { code: 'NOT_ALLOWED' },
    'only the owner sets the status',
  );
  await pub.setStatus('live');
  await until(viewer, ['change'], () => viewer.status === 'live', 'room_status reaches the viewer');

  await viewer.leave();
  t.notOk(viewer.active, 'left');
  t.notOk(v1.rooms.has('r1'), 'the client forgets the room');
  await until(pub, ['change'], () => pub.stats?.viewers === 0, 'the viewer gone from the stats');
  await t.rejects(viewer.raiseHand(), { code: 'NOT_IN_ROOM' }, 'a left room refuses commands');

  // A page going away leaves every room at once (the grace period is for real drops).
  const again = await v1.join('r1', 'viewer');
  await until(pub, ['change'], () => pub.stats?.viewers === 1, 'the viewer back');
  await v1.leaveAll();
  t.notOk(again.active, 'leaveAll left');
  await until(pub, ['change'], () => pub.stats?.viewers === 0, 'and the audience count follows');
});

t.test('a token refreshed before it expires keeps the connection', async (t) => {
  const sys = await startSystem(t, { AUTH_CLOCK_TOLERANCE_S: '0' });
  await sys.createRoom('r2', 'owner');
  let minted = 0;
  const client = sdkClient(t, sys.url, () => {
    minted++;
    return sys.token('alice', {}, { ttlS: 3 });
  });
  const states: string[] = [];
  client.on('state', (s) => states.push(s));
  let refreshed = 0;
  client.on('authenticated', () => refreshed++);
  await client.connect();
  const room = await client.join('r2', 'viewer');
  // Four tokens of 3 s: well past the first one's expiry, which the gateway enforces.
  await until(client, ['authenticated'], () => minted >= 4, 'three refreshes', 20_000);
  t.ok(refreshed >= 4, 'each refresh answered by authenticated on the same connection');
  t.same(states, ['connecting', 'open'], 'never dropped: no reconnect');
  t.ok(room.active, 'the membership is untouched');
  t.ok((await client.ping()) >= 0, 'the connection still answers');
});

t.test('connect: a refused token rejects at once, no gateway after the attempts', async (t) => {
  const sys = await startSystem(t);
  let calls = 0;
  const bad = sdkClient(t, sys.url, () => {
    calls++;
    return 'not-a-jwt';
  });
  await t.rejects(bad.connect(), { name: 'RoomcastClientError', code: 'TOKEN_INVALID' });
  t.equal(calls, 1, 'a refused token is not tried again');
  t.equal(bad.state, 'closed');

  const nowhere = sdkClient(t, 'ws://127.0.0.1:1/signaling', 'token', { connectAttempts: 2 });
  await t.rejects(nowhere.connect(), { code: 'UNAVAILABLE' });
  t.equal(nowhere.state, 'closed');
});
