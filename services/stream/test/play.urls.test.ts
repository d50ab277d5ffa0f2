/**
 * The `hls` URL that `GET /api/rooms/:id/urls` hands out, requested exactly as given
 * from the SRS stand-in's media HTTP: the stream service admits it (its on_play has
 * the `<room>.m3u8` name SRS 6 gives HLS sessions), the room counts one viewer, and
 * the session's later requests (the `hls_ctx` playlist) count no other; a refused
 * request gets no playlist and, though SRS keeps its session listed, takes no seat.
 */
import { request } from 'node:http';
import t from 'tap';
import { streamViewerOf } from '#shared/room/room.state.js';
import type { PlayUrls } from '#shared/stream/stream.urls.js';
import { startStreamSystem, type StreamSystem } from './stream.harness.js';

/** A GET as a plain player makes it: the body, or how the connection ended. */
function get(url: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (err) => resolve({ error: String(err) }));
    req.end();
  });
}

async function playUrlsOf(sys: StreamSystem, roomId: string, sub: string, grants = {}) {
  const res = await fetch(`${sys.gatewayUrl}/api/rooms/${roomId}/urls`, {
    headers: { authorization: `Bearer ${await sys.token(sub, grants)}` },
  });
  return ((await res.json()) as { play: PlayUrls }).play;
}

const hlsSessions = (sys: StreamSystem) =>
  sys.srs.hooksOf('on_play').filter((h) => h.body.stream?.endsWith('.m3u8'));

t.test('the hls URL of /urls plays: admitted, one viewer, refused ones take no seat', async (t) => {
  const sys = await startStreamSystem(t);
  const room = await sys.createRoom('r1', { isPrivate: true, maxViewers: 5 });
  await sys.srs.publish('r1', `?key=${room.streamKey}`);
  await sys.until('live', () => sys.state('r1')?.status === 'live');

  const { hls } = await playUrlsOf(sys, 'r1', 'alice', { view: ['r1'] });
  t.match(hls, new RegExp(`^${sys.srs.apiUrl}/live/r1\\.m3u8\\?token=`), 'on the stand-in');
  const master = await get(hls);
  t.equal(master.status, 200, 'the master playlist');
  const next = master.body?.split('\n')[2] ?? '';
  t.match(next, /^\/live\/r1\.m3u8\?hls_ctx=[0-9a-z]+&token=/, 'naming the session');
  t.equal(hlsSessions(sys)[0]?.allowed, true, 'the hook allowed it');
  t.match(sys.state('r1'), { viewers: 1 }, 'a viewer');
  const ctx = new URLSearchParams(next.split('?')[1]).get('hls_ctx') ?? '';
  t.ok(sys.state('r1')?.streamViewers.size === 1, 'one SRS player');

  const media = await get(`${sys.srs.apiUrl}${next}`);
  t.equal(media.status, 200, 'the media playlist');
  t.match(media.body, `r1-`);
  t.equal(hlsSessions(sys).length, 1, 'a request of the session asks no hook');
  await sys.stream.reconcile();
  t.match(sys.state('r1'), { viewers: 1, peakViewers: 1 }, 'the reconcile counts it once');
  t.ok(sys.srs.hasClient(ctx));

  // Refused: no token, and a token for another room.
  const other = await playUrlsOf(sys, 'r1', 'bob', { view: ['r2'] }).catch(() => null);
  t.equal(other?.hls, undefined, 'bob may not see r1: no URLs');
  const bare = await get(hls.slice(0, hls.indexOf('?')));
  t.match(bare.error, /socket hang up/, 'without the token: no playlist');
  const refused = hlsSessions(sys).at(-1);
  t.equal(refused?.allowed, false, 'the hook refused it');
  const refusedId = refused?.body.client_id ?? '';
  t.ok(sys.srs.hasClient(refusedId), 'SRS lists the refused session all the same');
  await sys.stream.reconcile();
  t.match(sys.state('r1'), { viewers: 1, peakViewers: 1 }, 'it takes no seat');
  t.equal(streamViewerOf(sys.state('r1'), refusedId), undefined);
});

t.test(
  'the flv and whep URLs of /urls: one seat for one user while playing, given back when they go',
  async (t) => {
    const sys = await startStreamSystem(t);
    const room = await sys.createRoom('r1', { maxViewers: 5 });
    await sys.srs.publish('r1', `?key=${room.streamKey}`);
    await sys.until('live', () => sys.state('r1')?.status === 'live');
    const { flv, whep } = await playUrlsOf(sys, 'r1', 'alice');

    const player = await new Promise<{ status?: number; close: () => void }>((resolve) => {
      const req = request(flv, { agent: false }, (res) =>
        resolve({ status: res.statusCode, close: () => req.destroy() }),
      );
      req.end();
    });
    t.equal(player.status, 200, 'HTTP-FLV plays');
    t.match(sys.state('r1'), { viewers: 1 });

    const post = await fetch(whep, {
      method: 'POST',
      body: 'v=0',
      headers: { 'content-type': 'application/sdp' },
    });
    t.equal(post.status, 201, 'WHEP answers 201');
    // Both URLs carry alice's play token (a public room too): SRS names her in on_play,
    // and her second player takes no second seat.
    t.match(sys.state('r1'), { viewers: 1 }, 'one user, two players: one seat');
    const location = post.headers.get('location') ?? '';
    t.match(location, /^\/rtc\/v1\/whip\/\?action=delete&/);

    player.close();
    const del = await fetch(`${sys.srs.apiUrl}${location}`, { method: 'DELETE' });
    t.equal(del.status, 200);
    await sys.until('both seats back', () => sys.state('r1')?.viewers === 0);
    t.match(sys.state('r1'), { viewers: 0, peakViewers: 1 });
  },
);
