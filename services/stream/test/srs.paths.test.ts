/**
 * The paths a real SRS 6.0.157 takes that RTMP does not (recorded-2026-12): HLS play
 * (`<room>.m3u8` hooks, lingering sessions), a WHIP publisher slow to finish DTLS,
 * and refused requests SRS keeps listed, which must never take a seat.
 */
import t from 'tap';
import { startStreamSystem } from './stream.harness.js';

/** SRS's 20 s HLS linger becomes 1 s, its 34 s refused-WHIP session 1.7 s. */
const srsTimeScale = 0.05;

t.test(
  'HLS play: on_play for <room>.m3u8 is the room; the session counts until its on_stop',
  async (t) => {
    const sys = await startStreamSystem(t, { srsTimeScale });
    await sys.createRoom('r1', { maxViewers: 3 });
    const p = await sys.srs.playHls('r1', '');
    t.ok(p.ok, 'the hls URL plays');
    t.equal(sys.srs.hooksOf('on_play')[0]?.body.stream, 'r1.m3u8');
    t.equal(sys.state('r1')?.viewers, 1);
    // The player keeps fetching its playlist: SRS keeps the session.
    const fetching = setInterval(() => sys.srs.hlsRequest(p.clientId), 20);
    await sys.stream.reconcile();
    t.equal(sys.state('r1')?.viewers, 1, 'an admitted, listed session stays counted');
    t.ok(sys.srs.hasClient(p.clientId), 'and listed');
    clearInterval(fetching);
    await sys.until('on_stop', () => sys.srs.hooksOf('on_stop').length === 1);
    await sys.srs.settled();
    await sys.until('seat given back', () => sys.state('r1')?.viewers === 0);
  },
);

t.test(
  'HLS play of a private room takes a play token; a stream_url naming another room is refused',
  async (t) => {
    const sys = await startStreamSystem(t, { srsTimeScale });
    await sys.createRoom('p1', { isPrivate: true, maxViewers: 3 });
    t.notOk((await sys.srs.playHls('p1', '')).ok, 'no token');
    const token = await sys.mediaToken('bob', 'p1', 'play');
    t.ok((await sys.srs.playHls('p1', `?token=${token}`)).ok, 'a play token');
    const forged = await fetch(`${sys.hookBase.secret}/on_play`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        action: 'on_play',
        client_id: 'forged1',
        app: 'live',
        stream: 'p1.m3u8',
        stream_url: '/live/other',
        param: `?token=${token}`,
      }),
    });
    t.match(await forged.json(), { error: 'ROOM_NOT_FOUND' }, 'stream and stream_url disagree');
  },
);

t.test('a refused HLS request never takes a seat, though SRS lists it ~20 s', async (t) => {
  const sys = await startStreamSystem(t, { srsTimeScale: 1 });
  await sys.createRoom('r1', { maxViewers: 1 });
  for (let i = 0; i < 3; i++) {
    const refused = await sys.srs.playHls('r1', '?token=not-a-jwt');
    t.notOk(refused.ok, 'refused');
    t.ok(sys.srs.hasClient(refused.clientId), 'SRS still lists it');
  }
  await sys.stream.reconcile();
  await sys.stream.reconcile();
  t.same([sys.state('r1')?.viewers, sys.state('r1')?.peakViewers], [0, 0], 'not adopted');
  const flv = await sys.srs.play('r1', '', 'flv-play');
  t.ok(flv.ok, 'the one seat is free for a real viewer');
  t.equal(sys.state('r1')?.peakViewers, 1);
});

t.test('a WHIP publisher slow to finish DTLS is confirmed, never released or kicked', async (t) => {
  const sys = await startStreamSystem(t, { srsTimeScale });
  const room = await sys.createRoom('r1');
  const pub = await sys.srs.whip('r1', `key=${room.streamKey}`, { dtlsDelayMs: 1500 });
  t.ok(pub.ok);
  t.equal(sys.srs.hooksOf('on_publish')[0]?.body.param, `app=live&stream=r1&key=${room.streamKey}`);
  // Rounds while SRS lists it `publish.active: false` (the test env confirms within 3 s).
  for (let i = 0; i < 5; i++) {
    await sys.stream.reconcile();
    t.equal(sys.holder('r1'), pub.clientId, `round ${i}: the grant is kept`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await sys.until('confirmed', () => sys.state('r1')?.stream.confirmedAt != null, 5000);
  await sys.stream.reconcile();
  t.equal(sys.holder('r1'), pub.clientId);
  t.ok(sys.srs.hasClient(pub.clientId), 'not kicked');
  t.equal(sys.srs.hooksOf('on_unpublish').length, 0);
});

t.test(
  'a refused WHIP publish SRS keeps listed is not judged; its late on_unpublish is harmless',
  async (t) => {
    const sys = await startStreamSystem(t, { srsTimeScale });
    await sys.createRoom('r1');
    const denied = await sys.srs.whip('r1', 'key=wrong');
    t.notOk(denied.ok);
    await sys.stream.reconcile();
    t.equal(sys.holder('r1'), null);
    await sys.until('on_unpublish', () => sys.srs.hooksOf('on_unpublish').length === 1);
    await sys.srs.settled();
    t.equal(sys.state('r1')?.status === 'ended', false, 'the room carries on');
  },
);

t.test('HLS sessions count once per user and once per session id', async (t) => {
  const sys = await startStreamSystem(t, { srsTimeScale });
  await sys.createRoom('p1', { isPrivate: true, maxViewers: 1 });
  const token = await sys.mediaToken('bob', 'p1', 'play');
  const a = await sys.srs.playHls('p1', `?token=${token}`);
  const b = await sys.srs.playHls('p1', `?token=${token}`);
  t.ok(a.ok && b.ok, "one user's two sessions (a player re-fetching the master playlist)");
  const fetching = setInterval(() => sys.srs.hlsRequest(a.clientId), 20);
  await sys.stream.reconcile();
  t.same([sys.state('p1')?.viewers, sys.state('p1')?.peakViewers], [1, 1], 'one seat');
  // Kicked: SRS drops it from the list at once; the same hls_ctx comes back as a new session.
  clearInterval(fetching);
  await sys.until('both sessions ended', () => sys.srs.hooksOf('on_stop').length === 2);
  await sys.srs.settled();
  const again = await sys.srs.playHls('p1', `?hls_ctx=${a.clientId}&token=${token}`);
  const twice = await sys.srs.playHls('p1', `?hls_ctx=${a.clientId}&token=${token}`);
  t.ok(again.ok && twice.ok);
  t.equal(again.clientId, a.clientId);
  t.equal(sys.srs.hooksOf('on_play').length, 3, 'a request of a held session asks nothing');
  t.same([sys.state('p1')?.viewers, sys.state('p1')?.peakViewers], [1, 1]);
});
