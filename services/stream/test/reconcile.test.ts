/**
 * Reconcile rounds against the SRS API: callbacks SRS lost, an SRS restart, streams
 * no room admitted (kicked), and an SRS API that is down, stalled or talking
 * garbage (then nothing is judged). Rounds run when the test calls them.
 */
import t from 'tap';
import type { StreamMetric } from '#shared/stream/stream.protocol.js';
import { startStreamSystem, type StreamSystem } from './stream.harness.js';
import { streamViewerOf } from '#shared/room/room.state.js';

const none = { publish: false, view: false, admin: false };

/** A live room r1 with its encoder and one player. */
async function liveRoom(sys: StreamSystem, roomId = 'r1') {
  const room = await sys.createRoom(roomId, { maxViewers: 50 });
  const pub = await sys.srs.publish(roomId, `?key=${room.streamKey}`);
  const play = await sys.srs.play(roomId, '');
  await sys.until(`${roomId} live`, () => sys.state(roomId)?.status === 'live');
  return { room, pub, play };
}

const metricsOf = <T extends StreamMetric['type']>(sys: StreamSystem, type: T) =>
  sys.metrics.filter((m): m is Extract<StreamMetric, { type: T }> => m.type === type);

t.test('a lost on_unpublish: the next round releases the slot', async (t) => {
  const sys = await startStreamSystem(t, {
    env: { STREAM_PUBLISHER_GRACE_MS: '60000', STREAM_END_AFTER_MS: '120000' },
  });
  const { pub } = await liveRoom(sys);
  sys.srs.faults.lose.add('on_unpublish');
  sys.srs.disconnect(pub.clientId);
  await sys.srs.settled();
  t.equal(sys.holder('r1'), pub.clientId, 'the room did not hear of it');
  await sys.stream.reconcile();
  t.equal(sys.state('r1')?.publisher, null, 'released');
  t.match(sys.events('r1').slice(-2), [
    { type: 'publisher_released' },
    { type: 'stream_stopped', reason: 'vanished' },
  ]);
  t.ok(sys.state('r1')?.stream.goneAt, 'and the absence is timed as after on_unpublish');
  await sys.until('metric', () =>
    metricsOf(sys, 'stream_state').some((m) => m.state === 'stopped'),
  );
  t.match(
    metricsOf(sys, 'stream_state').find((m) => m.state === 'stopped'),
    {
      reason: 'vanished',
    },
  );
});

t.test('a lost on_unpublish: a reconnecting encoder is not kept waiting', async (t) => {
  const sys = await startStreamSystem(t);
  const { room, pub } = await liveRoom(sys);
  sys.srs.faults.lose.add('on_unpublish');
  sys.srs.disconnect(pub.clientId);
  const again = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.ok(again.ok, 'the stale holder is gone from SRS: freed at once, the new one granted');
  t.same(sys.types('r1').slice(-3), ['publisher_released', 'stream_stopped', 'publisher_granted']);
  t.match(sys.events('r1').at(-2), { clientId: pub.clientId, reason: 'vanished' });
  t.equal(sys.holder('r1'), again.clientId);
  await sys.until('confirmed', () => sys.state('r1')?.stream.confirmedAt != null);
});

t.test('SRS restarts: every room reconciled', async (t) => {
  const sys = await startStreamSystem(t);
  await liveRoom(sys, 'r1');
  await liveRoom(sys, 'r2');
  await sys.stream.reconcile();
  const before = sys.srs.serviceId;
  sys.srs.restart();
  await sys.stream.reconcile();
  for (const id of ['r1', 'r2']) {
    t.equal(sys.state(id)?.publisher, null, `${id}: publisher released`);
    t.equal(sys.state(id)?.viewers, 0, `${id}: seats freed`);
    t.same(
      sys
        .events(id)
        .filter((e) => e.type === 'stream_stopped' || e.type === 'stream_viewer_left')
        .map((e) => 'reason' in e && e.reason),
      ['srs_restarted', 'srs_restarted'],
    );
  }
  await sys.until('metric', () => metricsOf(sys, 'srs_restarted').length > 0);
  t.match(metricsOf(sys, 'srs_restarted')[0], { previous: before, current: sys.srs.serviceId });
  t.equal(sys.stream.srsServiceId, sys.srs.serviceId);
});

t.test('SRS restarts and the encoder is back before the next round', async (t) => {
  const sys = await startStreamSystem(t);
  const { room } = await liveRoom(sys);
  sys.srs.restart();
  const again = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.ok(again.ok, 'its old grant belongs to the old SRS process: freed at once');
  t.match(sys.events('r1').at(-2), { type: 'stream_stopped', reason: 'srs_restarted' });
  await sys.until('confirmed', () => sys.state('r1')?.stream.confirmedAt != null);
});

t.test('streams no room admitted are kicked', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('ended');
  await sys.createRoom('peer');
  await sys.createRoom('priv', { isPrivate: true });
  const { pub: endedPub, play: endedPlay } = await liveRoom(sys, 'live');
  await sys.command('live', { type: 'set_status', status: 'ended', userId: 'owner', perms: none });
  await sys.command('peer', {
    type: 'join',
    peerId: 'p1',
    userId: 'owner',
    role: 'publisher',
    perms: none,
    gateway: 'g1',
    conn: 'c1',
  });
  // SRS carries what never went through our hooks (hooks off, or lost configuration).
  sys.srs.bypassHooks = true;
  const unknown = await sys.srs.publish('nope', '');
  const unknownPlayer = await sys.srs.play('nope', '');
  const intruder = await sys.srs.publish('peer', '');
  const snoop = await sys.srs.play('priv', '');
  sys.srs.bypassHooks = false;

  await sys.stream.reconcile();
  await sys.srs.settled();
  for (const [name, c] of [
    ['an unknown room', unknown],
    ["a player of an unknown room's stream", unknownPlayer],
    ['the publisher of an ended room', endedPub],
    ['the player of an ended room', endedPlay],
    ['a publisher other than the slot holder', intruder],
    ['an unchecked player of a private room', snoop],
  ] as const) {
    t.notOk(sys.srs.hasClient(c.clientId), `kicked: ${name}`);
    t.ok(
      sys.srs.apiRequests.includes(`DELETE /api/v1/clients/${c.clientId}`) ||
        name === 'the player of an ended room',
      `${name}: DELETE /api/v1/clients/{id}`,
    );
  }
  await sys.until('kick metrics', () => metricsOf(sys, 'srs_kick').length >= 5);
  const reasons = new Set(metricsOf(sys, 'srs_kick').map((m) => m.reason));
  t.same([...reasons].sort(), ['not_admitted', 'room_ended', 'unknown_room']);
  t.equal(sys.state('peer')?.publisher?.kind, 'peer', 'the signaling publisher keeps the slot');
});

t.test('a player the room missed takes a free seat of a public room', async (t) => {
  const sys = await startStreamSystem(t);
  await liveRoom(sys);
  sys.srs.bypassHooks = true;
  const missed = await sys.srs.play('r1', '');
  sys.srs.bypassHooks = false;
  await sys.stream.reconcile();
  t.ok(sys.srs.hasClient(missed.clientId), 'not kicked');
  t.ok(streamViewerOf(sys.state('r1'), missed.clientId), 'counted');
  t.equal(sys.state('r1')?.viewers, 2);
});

t.test('lists are read past the first page', async (t) => {
  const sys = await startStreamSystem(t, { env: { STREAM_SRS_PAGE_SIZE: '10' } });
  await liveRoom(sys);
  for (let i = 0; i < 24; i++) await sys.srs.play('r1', '');
  t.equal(sys.state('r1')?.viewers, 25);
  const seq = sys.state('r1')?.seq;
  await sys.stream.reconcile();
  t.equal(sys.state('r1')?.seq, seq, '26 clients over several pages: nothing vanished, no kick');
  t.notOk(sys.srs.apiRequests.some((r) => r.startsWith('DELETE')));
  const pages = sys.srs.apiRequests.filter((r) => r.startsWith('GET /api/v1/clients/?start='));
  t.ok(pages.length >= 3, `paged: ${pages.join(', ')}`);
  t.equal(sys.stream.lastSrsLists?.clients.length, 26);
});

t.test('SRS API down, stalled, garbage or failing: nothing is judged', async (t) => {
  const sys = await startStreamSystem(t);
  const { pub } = await liveRoom(sys);
  sys.srs.faults.lose.add('on_unpublish');
  sys.srs.faults.lose.add('on_stop');
  sys.srs.disconnect(pub.clientId);
  const seq = sys.state('r1')?.seq;
  const faults: [string, () => Promise<void> | void, () => Promise<void> | void][] = [
    ['network', () => sys.srs.apiDown(), () => sys.srs.start()],
    [
      'timeout',
      () => void (sys.srs.faults.apiStallMs = Infinity),
      () => void (sys.srs.faults.apiStallMs = 0),
    ],
    [
      'garbage',
      () => void (sys.srs.faults.apiGarbage = true),
      () => void (sys.srs.faults.apiGarbage = false),
    ],
    [
      'http',
      () => void (sys.srs.faults.apiHttp500 = true),
      () => void (sys.srs.faults.apiHttp500 = false),
    ],
  ];
  for (const [failure, on, off] of faults) {
    await on();
    await sys.stream.reconcile();
    t.equal(sys.state('r1')?.seq, seq, `${failure}: the room is left alone`);
    await sys.until(`${failure} metric`, () =>
      metricsOf(sys, 'srs_api').some((m) => !m.ok && m.error === failure),
    );
    await off();
  }
  // Two rounds asked for at once are one round.
  const before = sys.srs.apiRequests.length;
  await Promise.all([sys.stream.reconcile(), sys.stream.reconcile()]);
  t.equal(
    sys.srs.apiRequests.filter((r, i) => i >= before && r.startsWith('GET /api/v1/streams')).length,
    1,
    'rounds never overlap',
  );
  t.equal(sys.state('r1')?.publisher, null, 'back: the lost on_unpublish is repaired');
});

t.test('confirmation while the SRS API is down', async (t) => {
  const sys = await startStreamSystem(t, { env: { STREAM_CONFIRM_TIMEOUT_MS: '150' } });
  const room = await sys.createRoom('r1');
  await sys.srs.apiDown();
  const pub = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  t.ok(pub.ok);
  await new Promise((r) => setTimeout(r, 400));
  t.equal(sys.holder('r1'), pub.clientId, 'not released on silence');
  t.equal(sys.state('r1')?.status, 'preparing', 'nor live without the API saying so');
  await sys.srs.start();
  await sys.stream.reconcile();
  t.equal(sys.state('r1')?.status, 'live', 'the round confirms it once the API is back');
});
