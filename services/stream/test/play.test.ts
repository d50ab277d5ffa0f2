/**
 * on_play / on_stop: private rooms need a play token, SRS players and signaling
 * viewers share the seats (maxViewers), repeated and reordered callbacks count once.
 */
import t from 'tap';
import { SrsError } from '../../../test/srs/srs.standin.js';
import { startStreamSystem } from './stream.harness.js';
import { streamViewerOf, streamViewersOf } from '#shared/room/room.state.js';

const none = { publish: false, view: false, admin: false };

t.test('players take seats; stops give them back; peak stays', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1', { maxViewers: 3 });
  const a = await sys.srs.play('r1', '', 'rtmp-play');
  const b = await sys.srs.play('r1', '', 'flv-play');
  t.ok(a.ok && b.ok, 'anyone plays a public room, RTMP or HTTP-FLV');
  t.same([sys.state('r1')?.viewers, sys.state('r1')?.peakViewers], [2, 2]);
  sys.srs.disconnect(a.clientId);
  await sys.srs.settled();
  t.same(
    sys.srs.hooksOf('on_stop').map((h) => h.reply),
    ['{"code":0}'],
  );
  t.same([sys.state('r1')?.viewers, sys.state('r1')?.peakViewers], [1, 2]);
  t.same(sys.types('r1').slice(1), [
    'stream_viewer_joined',
    'stream_viewer_joined',
    'stream_viewer_left',
  ]);
});

t.test('SRS players and signaling viewers share maxViewers', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1', { maxViewers: 2 });
  const joined = await sys.command('r1', {
    type: 'join',
    peerId: 'p1',
    userId: 'alice',
    role: 'viewer',
    perms: none,
    gateway: 'g1',
    conn: 'c1',
  });
  t.ok(joined.ok, 'a signaling viewer');
  t.ok((await sys.srs.play('r1', '')).ok, 'an SRS player');
  const full = await sys.srs.play('r1', '');
  t.same([full.ok, full.error], [false, SrsError.hookCode], 'the third seat does not exist');
  t.match(JSON.parse(sys.srs.hooksOf('on_play').at(-1)?.reply ?? ''), { error: 'ROOM_FULL' });
  const late = await sys.command('r1', {
    type: 'join',
    peerId: 'p2',
    userId: 'bob',
    role: 'viewer',
    perms: none,
    gateway: 'g1',
    conn: 'c2',
  });
  t.match(late, { ok: false, error: { code: 'ROOM_FULL' } }, 'nor for signaling');
  const status = await sys.command<{ stream: { viewers: number; streamViewers: number } }>('r1', {
    type: 'stream_status',
  });
  t.match(status, { ok: true, stream: { viewers: 2, streamViewers: 1, maxViewers: 2 } });
});

t.test('private rooms: a play token in the URL', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('p1', { isPrivate: true, maxViewers: 10 });
  const granted = await sys.mediaToken('bob', 'p1', 'play');
  const other = await sys.mediaToken('bob', 'elsewhere', 'play');
  const owner = await sys.mediaToken('owner', 'p1', 'play');
  const publisher = await sys.mediaToken('bob', 'p1', 'publish');
  const login = await sys.token('bob', { view: ['p1'] });
  const expired = await sys.mediaToken('bob', 'p1', 'play', -60);
  const cases: [string, string, string | undefined][] = [
    ['no token', '', 'NOT_ALLOWED'],
    ['a token for another room', `?token=${other}`, 'NOT_ALLOWED'],
    ['a login token with a view grant', `?token=${login}`, 'TOKEN_INVALID'],
    ['an expired token', `?token=${expired}`, 'TOKEN_EXPIRED'],
    ['garbage', '?token=not-a-jwt', 'TOKEN_INVALID'],
    ['a view grant', `?token=${granted}`, undefined],
    ["the owner's token", `?token=${owner}`, undefined],
    ['a publish token (it plays too)', `?token=${publisher}`, undefined],
    ['a token among other parameters', `?vhost=x&token=${granted}&t=1`, undefined],
  ];
  for (const [name, param, code] of cases) {
    const r = await sys.srs.play('p1', param, 'flv-play');
    if (code === undefined) {
      t.ok(r.ok, name);
      continue;
    }
    t.notOk(r.ok, name);
    t.match(JSON.parse(sys.srs.hooksOf('on_play').at(-1)?.reply ?? ''), { error: code }, name);
  }
  const room = sys.state('p1');
  const seats = room === undefined ? [] : streamViewersOf(room);
  t.same(
    seats.map((v) => v.userId).sort(),
    ['bob', 'bob', 'bob', 'owner'],
    'each seat knows its user',
  );
});

t.test('unknown and ended rooms refuse players', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1');
  await sys.command('r1', { type: 'set_status', status: 'ended', userId: 'owner', perms: none });
  for (const [room, code] of [
    ['r1', 'ROOM_ENDED'],
    ['nope', 'ROOM_NOT_FOUND'],
  ] as const) {
    const r = await sys.srs.play(room, '');
    t.notOk(r.ok);
    t.match(JSON.parse(sys.srs.hooksOf('on_play').at(-1)?.reply ?? ''), { error: code });
  }
});

t.test('duplicated, reordered and lost on_stop', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1', { maxViewers: 10 });
  sys.srs.faults.duplicate.add('on_play');
  sys.srs.faults.duplicate.add('on_stop');
  const a = await sys.srs.play('r1', '');
  t.equal(sys.state('r1')?.viewers, 1, 'a duplicated on_play takes one seat');
  sys.srs.disconnect(a.clientId);
  await sys.srs.settled();
  t.equal(sys.state('r1')?.viewers, 0, 'a duplicated on_stop frees one seat');
  sys.srs.faults.duplicate.clear();

  const players = [];
  for (let i = 0; i < 3; i++) players.push(await sys.srs.play('r1', ''));
  sys.srs.faults.hold = true;
  for (const p of players) sys.srs.disconnect(p.clientId);
  sys.srs.faults.hold = false;
  await sys.srs.releaseHeld('reverse');
  await sys.srs.settled();
  t.equal(sys.state('r1')?.viewers, 0, 'on_stop in reverse order');

  sys.srs.faults.lose.add('on_stop');
  const lost = await sys.srs.play('r1', '');
  const kept = await sys.srs.play('r1', '');
  sys.srs.disconnect(lost.clientId);
  await sys.srs.settled();
  t.equal(sys.state('r1')?.viewers, 2, 'a lost on_stop leaves the seat taken');
  await sys.stream.reconcile();
  t.equal(sys.state('r1')?.viewers, 1, 'the next round frees it');
  t.match(sys.events('r1').at(-1), {
    type: 'stream_viewer_left',
    clientId: lost.clientId,
    reason: 'vanished',
  });
  t.ok(streamViewerOf(sys.state('r1'), kept.clientId), 'the player still there keeps its seat');
});

t.test('viewers: the WebSocket audience and SRS players, each user once', async (t) => {
  const sys = await startStreamSystem(t, { env: { ROOM_STATS_INTERVAL_MS: '100' } });
  await sys.createRoom('r1', { maxViewers: 10 });
  const alice = await sys.client('alice');
  const j = await alice.call({ type: 'join', room: 'r1', role: 'viewer' });
  t.equal(j.type, 'joined', 'alice watches over WebSocket');
  const token = await sys.mediaToken('alice', 'r1', 'play');
  t.ok((await sys.srs.play('r1', `?token=${token}`, 'flv-play')).ok, 'and through HTTP-FLV');
  t.ok((await sys.srs.play('r1', `?token=${token}`, 'rtmp-play')).ok, 'and RTMP');
  t.ok((await sys.srs.play('r1', '', 'flv-play')).ok, 'an anonymous player');
  t.equal(sys.state('r1')?.viewers, 2, 'alice once, the anonymous player once');
  const stats = await alice.next((f) => f.type === 'room_stats' && f.viewers === 2, 5000);
  t.match(stats, { type: 'room_stats', room: 'r1', viewers: 2 }, 'members are told, coalesced');
  const { room } = await sys.rooms.get('r1');
  t.equal(room.viewers, 2, 'the room says the same');
});
