/**
 * on_publish / on_unpublish against the SRS stand-in, the hook endpoint and the room
 * service: who may publish, the single publisher (also when two encoders race and
 * when SRS finds the stream busy), live only once the SRS API confirms, and the
 * timed absence after the stream stops.
 */
import t from 'tap';
import { SrsError } from '../../../test/srs/srs.standin.js';
import { startStreamSystem } from './stream.harness.js';

t.test('the stream key publishes; the room is live only once SRS carries the stream', async (t) => {
  const sys = await startStreamSystem(t);
  const room = await sys.createRoom('r1');
  const bcast: unknown[] = [];
  sys.bus.subscribe('room.r1.bcast', (m) =>
    bcast.push(JSON.parse(new TextDecoder().decode(m.data))),
  );
  await sys.bus.flush();

  const pub = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.ok(pub.ok, 'allowed');
  const hook = sys.srs.hooksOf('on_publish')[0]!;
  t.same([hook.status, hook.reply], [200, '{"code":0}'], 'exactly what SRS accepts');
  t.same(sys.state('r1')?.publisher, {
    kind: 'stream',
    clientId: pub.clientId,
    userId: 'owner',
    serviceId: sys.srs.serviceId,
  });
  await sys.until('confirmed by the SRS API', () => sys.state('r1')?.status === 'live');
  t.same(sys.types('r1'), [
    'room_created',
    'publisher_granted',
    'stream_confirmed',
    'status_changed',
  ]);
  t.match(sys.events('r1')[3], {
    type: 'status_changed',
    from: 'preparing',
    to: 'live',
    by: 'stream',
  });
  t.ok(
    sys.srs.apiRequests.some((r) => r.startsWith(`GET /api/v1/streams/${hook.body.stream_id}`)),
    'confirmed by asking SRS for the stream of the hook',
  );
  await sys.until('room_status broadcast', () => bcast.length > 0);
  t.match(bcast[0], { type: 'room_status', status: 'live' });
  await sys.until('metrics', () =>
    sys.metrics.some((m) => m.type === 'stream_state' && m.state === 'live'),
  );
  t.same(
    sys.metrics.flatMap((m) => (m.type === 'stream_state' ? [m.state] : [])),
    ['granted', 'live'],
    'state changes as metric events',
  );
});

t.test('on_publish refusals', async (t) => {
  const sys = await startStreamSystem(t);
  const room = await sys.createRoom('r1');
  await sys.createRoom('gone');
  await sys.command('gone', {
    type: 'set_status',
    status: 'ended',
    userId: 'owner',
    perms: { publish: false, view: false, admin: false },
  });
  const publisher = await sys.mediaToken('bob', 'r1', 'publish');
  const viewer = await sys.mediaToken('carol', 'r1', 'play');
  const elsewhere = await sys.mediaToken('bob', 'other', 'publish');
  const login = await sys.token('bob', { publish: ['r1'] });
  const longLived = await sys.mediaToken('bob', 'r1', 'publish', 7200);
  const expired = await sys.mediaToken('bob', 'r1', 'publish', -60);
  const cases: [string, string, string, string | undefined][] = [
    ['a wrong key', 'r1', '?key=nope', 'NOT_ALLOWED'],
    ['no credentials', 'r1', '', 'NOT_ALLOWED'],
    ['an unknown room', 'nope', `?key=${room.streamKey}`, 'ROOM_NOT_FOUND'],
    ['an ended room', 'gone', `?key=${room.streamKey}`, 'ROOM_ENDED'],
    ['a stream name that is no room id', 'a.b', `?key=${room.streamKey}`, 'ROOM_NOT_FOUND'],
    ['a play token', 'r1', `?token=${viewer}`, 'NOT_ALLOWED'],
    ['a publish token for another room', 'r1', `?token=${elsewhere}`, 'NOT_ALLOWED'],
    ['a login token with a publish grant', 'r1', `?token=${login}`, 'TOKEN_INVALID'],
    ['a token living longer than allowed', 'r1', `?token=${longLived}`, 'TOKEN_INVALID'],
    ['an expired token', 'r1', `?token=${expired}`, 'TOKEN_EXPIRED'],
    ['a forged token', 'r1', `?token=${publisher.slice(0, -4)}AAAA`, 'TOKEN_INVALID'],
    ['a valid publish token', 'r1', `?token=${publisher}`, undefined],
  ];
  for (const [name, stream, param, code] of cases) {
    const r = await sys.srs.publish(stream, param);
    const hook = sys.srs.hooksOf('on_publish').at(-1)!;
    if (code === undefined) {
      t.ok(r.ok, name);
      t.equal(sys.state('r1')?.publisher?.userId, 'bob', `${name}: publishes as the token's user`);
      continue;
    }
    t.notOk(r.ok, name);
    t.equal(hook.status, 200, `${name}: HTTP 200`);
    t.match(JSON.parse(hook.reply ?? '{}'), { error: code }, `${name}: ${code}`);
    t.equal(r.error, SrsError.hookCode, `${name}: SRS reads a non-zero code`);
  }
  t.same(sys.types('r1'), ['room_created', 'publisher_granted'], 'refusals change nothing');
});

t.test('the SRS app must be ours', async (t) => {
  const sys = await startStreamSystem(t, { env: { STREAM_APP: 'rooms' } });
  const room = await sys.createRoom('r1');
  const r = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.notOk(r.ok, 'rtmp://host/live/r1 is not rtmp://host/rooms/r1');
});

t.test('single publisher: two encoders racing, and the busy stream', async (t) => {
  const sys = await startStreamSystem(t);
  const room = await sys.createRoom('r1');
  const [a, b] = await Promise.all([
    sys.srs.publish('r1', `?key=${room.streamKey}`),
    sys.srs.publish('r1', `?key=${room.streamKey}`),
  ]);
  t.equal([a, b].filter((r) => r.ok).length, 1, 'exactly one of two racing encoders publishes');
  const loser = a.ok ? b : a;
  const winner = a.ok ? a : b;
  t.equal(loser.error, SrsError.hookCode, 'the other is denied by the hook');
  const denied = sys.srs.hooksOf('on_publish').find((h) => h.body.client_id === loser.clientId)!;
  t.match(JSON.parse(denied.reply ?? ''), { code: 409, error: 'PUBLISHER_TAKEN' });
  t.same(
    sys.types('r1').slice(0, 3),
    ['room_created', 'publisher_granted', 'publisher_refused'],
    'the contention is recorded',
  );
  await sys.until('live', () => sys.state('r1')?.status === 'live');

  // A third encoder while the first is live: SRS asks, the room refuses.
  const third = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.notOk(third.ok);
  t.equal(sys.srs.publisherOf('r1'), winner.clientId, 'SRS still carries the first');

  // The busy-stream case proper: the hook allows (the slot is free in the room's
  // eyes), SRS itself refuses, and sends no on_unpublish. The grant is never
  // confirmed and is taken back.
  const sys2 = await startStreamSystem(t, { env: { STREAM_CONFIRM_TIMEOUT_MS: '200' } });
  const r2 = await sys2.createRoom('r2');
  sys2.srs.bypassHooks = true;
  const ghost = await sys2.srs.publish('r2', '');
  sys2.srs.bypassHooks = false;
  t.ok(ghost.ok, 'a publisher the room never granted (hooks were off)');
  const busy = await sys2.srs.publish('r2', `?key=${r2.streamKey}`);
  t.same([busy.ok, busy.error], [false, SrsError.streamBusy], 'granted by us, refused by SRS');
  await sys2.until('the unconfirmed grant is released', () =>
    sys2.types('r2').includes('stream_stopped'),
  );
  t.match(sys2.events('r2').at(-1), {
    type: 'stream_stopped',
    reason: 'unconfirmed',
    goneAt: null,
  });
  t.equal(sys2.state('r2')?.status, 'preparing', 'never live');
  await sys2.stream.reconcile();
  await sys2.srs.settled();
  t.notOk(sys2.srs.hasClient(ghost.clientId), 'reconcile kicked the ungranted publisher');
  const again = await sys2.srs.publish('r2', `?key=${r2.streamKey}`);
  t.ok(again.ok, 'the stream is free for the real encoder');
  await sys2.until('live', () => sys2.state('r2')?.status === 'live');
});

t.test('a duplicated on_publish grants once', async (t) => {
  const sys = await startStreamSystem(t);
  const room = await sys.createRoom('r1');
  sys.srs.faults.duplicate.add('on_publish');
  const r = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.ok(r.ok, 'both copies allowed');
  t.equal(sys.srs.hooksOf('on_publish').length, 2);
  await sys.until('live', () => sys.state('r1')?.status === 'live');
  t.same(sys.types('r1'), [
    'room_created',
    'publisher_granted',
    'stream_confirmed',
    'status_changed',
  ]);
});

t.test(
  'on_unpublish: released, publisher gone after the grace, room ended after longer',
  async (t) => {
    const sys = await startStreamSystem(t, {
      env: { STREAM_PUBLISHER_GRACE_MS: '100', STREAM_END_AFTER_MS: '300' },
    });
    const room = await sys.createRoom('r1');
    const pub = await sys.srs.publish('r1', `?key=${room.streamKey}`);
    await sys.until('live', () => sys.state('r1')?.status === 'live');
    sys.srs.disconnect(pub.clientId);
    await sys.srs.settled();
    t.same(
      sys.srs.hooksOf('on_unpublish').map((h) => h.reply),
      ['{"code":0}'],
    );
    t.equal(sys.state('r1')?.publisher, null, 'slot released');
    t.match(sys.events('r1').slice(-2), [
      { type: 'publisher_released' },
      { type: 'stream_stopped', reason: 'unpublished' },
    ]);
    await sys.until('publisher gone', () => sys.types('r1').includes('publisher_gone'));
    t.equal(sys.state('r1')?.status, 'live', 'gone, not yet ended');
    await sys.until('ended', () => sys.state('r1')?.status === 'ended');
    t.match(sys.events('r1').at(-1), { type: 'status_changed', to: 'ended', by: 'stream' });
    const states = () => sys.metrics.flatMap((m) => (m.type === 'stream_state' ? [m.state] : []));
    await sys.until('metric events', () => states().includes('ended'));
    t.same(states(), ['granted', 'live', 'stopped', 'gone', 'ended'], 'as metric events too');
    t.match(
      sys.metrics.find((m) => m.type === 'stream_state' && m.state === 'stopped'),
      { roomId: 'r1', clientId: pub.clientId, reason: 'unpublished' },
    );
  },
);

t.test('a publisher back within the grace keeps the room', async (t) => {
  const sys = await startStreamSystem(t, {
    env: { STREAM_PUBLISHER_GRACE_MS: '150', STREAM_END_AFTER_MS: '300' },
  });
  const room = await sys.createRoom('r1');
  const a = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  await sys.until('live', () => sys.state('r1')?.status === 'live');
  sys.srs.disconnect(a.clientId);
  await sys.srs.settled();
  const b = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.ok(b.ok, 'the encoder reconnects');
  await sys.until('confirmed again', () => sys.state('r1')?.stream.confirmedAt != null);
  await new Promise((r) => setTimeout(r, 400));
  t.equal(sys.state('r1')?.status, 'live', 'not ended');
  t.notOk(sys.types('r1').includes('publisher_gone'), 'never gone');
});
