/**
 * TURN for real: a coturn of the test's own (test/helpers/coturn.ts) and the system
 * in-process with GATEWAY_ICE_SERVERS and TURN_SECRET pointing at it. Two Chromium
 * pages (Debian's, driven by playwright-core) each open /signaling with their token
 * and take the ICE servers of the `authenticated` frame; their peer connections
 * allow relay candidates only (`iceTransportPolicy: 'relay'`), so the video between
 * them can only flow through coturn. The offer and answer go through the test whole
 * (ICE gathered first): signaling is not what is tested here.
 *
 * Then what coturn refuses: a wrong password and an expired username (the right
 * HMAC for an expiry in the past) gather no relay candidate at all; and, asked
 * directly (test/helpers/turn.client.ts), coturn answers them 401.
 *
 * And the SDK through TURN only: two pages load it from the gateway (/sdk/roomcast.js),
 * connect with their tokens, join one room as publisher and viewer, and negotiate
 * with RoomRtc on the ICE servers the SDK kept from `authenticated`, relay only.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { Test } from 'tap';
import type { IceServer } from '#shared/wire/protocol.js';
import { turnCredential } from '#shared/auth/turn.credentials.js';
import { startCoturn, TURNSERVER, type Coturn } from '../helpers/coturn.js';
import { launchBrowser } from '../helpers/browser.js';
import { startSystem, type System } from '../helpers/system.js';
import { Client } from '../helpers/client.js';
import { turnAllocate } from '../helpers/turn.client.js';
import { waitFor } from '../helpers/deadline.js';

/** Per-step bound on waiting in the browser, in ms (failures, not timings). */
const STEP_MS = 20_000;

const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  waitFor(what, probe, { ms: STEP_MS, everyMs: 100 });

/**
 * What the pages run, as plain browser JavaScript (this project compiles without the
 * DOM's types): `window.turn`, called by the helpers below.
 */
const PAGE_SCRIPT = String.raw`
window.turn = {
  // Opens /signaling; resolves with the authenticated frame's ICE servers (the socket stays open).
  iceServersOf(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      window.ws = ws;
      ws.onmessage = (e) => {
        const frame = JSON.parse(e.data);
        if (frame.type === 'authenticated') resolve(frame.iceServers);
        else reject(new Error('first frame: ' + e.data));
      };
      ws.onerror = () => reject(new Error('socket error'));
    });
  },
  // A moving test pattern, 320x240.
  pattern() {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const g = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      g.fillStyle = 'hsl(' + ((n += 7) % 360) + ' 80% 50%)';
      g.fillRect(0, 0, 320, 240);
      g.fillStyle = '#fff';
      g.fillText(String(n), 10 + (n % 280), 120);
    }, 40);
    return canvas.captureStream(25);
  },
  // Where a viewer shows what it receives.
  video() {
    const video = document.createElement('video');
    video.autoplay = true;
    video.muted = true;
    document.body.append(video);
    window.video = video;
    return video;
  },
  // A relay-only peer connection; the publisher sends the test pattern.
  setUp(iceServers, publish) {
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
    window.pc = pc;
    if (publish) {
      const stream = window.turn.pattern();
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
    } else {
      const video = window.turn.video();
      pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
    }
  },
  // On the SDK: connect, join, RoomRtc relay-only; resolves with the ICE servers it kept.
  async sdk(a) {
    const { RoomcastClient, RoomRtc } = await import('/sdk/roomcast.js');
    const stream = a.role === 'publisher' ? window.turn.pattern() : undefined;
    const client = new RoomcastClient({ url: a.url, token: a.token });
    await client.connect();
    const room = await client.join(a.room, a.role);
    const rtc = new RoomRtc(room, { stream, configuration: { iceTransportPolicy: 'relay' } });
    window.errors = [];
    rtc.on('error', (e) => window.errors.push(e.code));
    // seen() reads the (single) link's peer connection.
    Object.defineProperty(window, 'pc', { get: () => [...rtc.links.values()][0]?.pc });
    const video = window.turn.video();
    rtc.on('track', (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); });
    return client.iceServers;
  },
  // Sets the remote description (when given), makes the local one, waits for ICE gathering.
  async describe(remote) {
    const pc = window.pc;
    if (remote) await pc.setRemoteDescription(remote);
    const gathered = new Promise((resolve) => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
    });
    await pc.setLocalDescription();
    if (pc.iceGatheringState !== 'complete') await gathered;
    return pc.localDescription.sdp;
  },
  accept(sdp) {
    return window.pc.setRemoteDescription({ type: 'answer', sdp });
  },
  // The connection, the video decoded, and the candidate types of the selected pair.
  async seen() {
    if (window.pc === undefined) return { connectionState: 'none', framesDecoded: 0, videoWidth: 0 };
    const stats = [...(await window.pc.getStats()).values()];
    const byId = new Map(stats.map((s) => [s.id, s]));
    const inbound = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    const transport = stats.find((s) => s.type === 'transport');
    const pair = transport && byId.get(transport.selectedCandidatePairId);
    const typeOf = (id) => byId.get(id)?.candidateType;
    return {
      connectionState: window.pc.connectionState,
      framesDecoded: inbound?.framesDecoded ?? 0,
      videoWidth: window.video?.videoWidth ?? 0,
      pair: pair ? [typeOf(pair.localCandidateId), typeOf(pair.remoteCandidateId)] : undefined,
    };
  },
  // The candidate types a relay-only connection on iceServers gathers.
  async gatheredTypes(iceServers) {
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
    pc.createDataChannel('probe');
    const types = [];
    const gathered = new Promise((resolve) => {
      pc.onicecandidate = (e) => {
        if (e.candidate === null) resolve();
        else types.push(e.candidate.type || 'unknown');
      };
    });
    await pc.setLocalDescription();
    await gathered;
    pc.close();
    return types;
  },
};
`;

interface Seen {
  connectionState: string;
  framesDecoded: number;
  videoWidth: number;
  /** Candidate types of the selected pair, local and remote. */
  pair?: [string, string];
}

/** The page's side of the test (PAGE_SCRIPT), typed. */
interface TurnPage {
  iceServersOf(url: string): Promise<IceServer[]>;
  setUp(iceServers: IceServer[], publish: boolean): void;
  sdk(a: {
    url: string;
    token: string;
    room: string;
    role: 'publisher' | 'viewer';
  }): Promise<IceServer[]>;
  describe(remote?: { type: 'offer'; sdp: string }): Promise<string>;
  accept(sdp: string): Promise<void>;
  seen(): Promise<Seen>;
  gatheredTypes(iceServers: IceServer[]): Promise<string[]>;
}

/** Calls `window.turn[method](...args)` in `page`. */
function call<M extends keyof TurnPage>(
  page: Page,
  method: M,
  ...args: Parameters<TurnPage[M]>
): Promise<Awaited<ReturnType<TurnPage[M]>>> {
  return page.evaluate(
    ([method, args]) => {
      const turn = (globalThis as unknown as { turn: Record<string, (...a: unknown[]) => unknown> })
        .turn;
      return turn[method]!(...args);
    },
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<TurnPage[M]>>>;
}

/**
 * A coturn, the system pointed at it, and Chromium; `page()` opens a page on the
 * gateway's origin with PAGE_SCRIPT. Undefined (and failed) without Chromium or coturn.
 */
async function relayRig(
  t: Test,
  options: { verbose?: boolean; env?: Record<string, string> } = {},
): Promise<{ coturn: Coturn; sys: System; page: () => Promise<Page> } | undefined> {
  if (!existsSync(TURNSERVER)) {
    t.fail('coturn is missing: apt-get install -y coturn (npm test’s pretest installs it)');
    return undefined;
  }
  const coturn = await startCoturn(t, { verbose: options.verbose });
  const sys = await startSystem(t, {
    ...options.env,
    GATEWAY_ICE_SERVERS: `${coturn.stunUrl},${coturn.turnUrl}`,
    TURN_SECRET: coturn.secret,
  });
  const browser = await launchBrowser(t);
  if (browser === undefined) return undefined;
  const page = async () => {
    const p = await (await browser.newContext()).newPage();
    await p.addInitScript({ content: PAGE_SCRIPT });
    // The gateway's own origin: a page there may open its /signaling (and import /sdk/).
    await p.goto(`http://127.0.0.1:${sys.port}/healthz`);
    return p;
  };
  return { coturn, sys, page };
}

/** The viewer's video decoded through coturn, or the coturn log in the error. */
function watching(viewer: Page, coturn: Coturn): Promise<Seen> {
  return until('video decoded through coturn', async () => {
    const s = await call(viewer, 'seen');
    return s.connectionState === 'connected' && s.framesDecoded > 0 && s.videoWidth > 0
      ? s
      : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}\ncoturn:\n${coturn.log().slice(-3000)}`);
  });
}

t.test('two relay-only pages connect through coturn with the gateway’s credentials', async (t) => {
  const rig = await relayRig(t);
  if (rig === undefined) return;
  const { coturn, sys, page } = rig;
  const [publisher, viewer] = [await page(), await page()];
  const signaling = async (sub: string) => `${sys.url}?access_token=${await sys.token(sub)}`;
  const pubIce = await call(publisher, 'iceServersOf', await signaling('alice'));
  const viewIce = await call(viewer, 'iceServersOf', await signaling('bob'));
  t.match(pubIce[1], { urls: [coturn.turnUrl], username: /^\d+:alice$/ }, 'alice’s TURN entry');
  t.match(viewIce[1], { urls: [coturn.turnUrl], username: /^\d+:bob$/ }, 'bob’s TURN entry');

  await call(publisher, 'setUp', pubIce, true);
  await call(viewer, 'setUp', viewIce, false);
  const offer = await call(publisher, 'describe');
  const candidates = (sdp: string) => sdp.split('\r\n').filter((l) => l.startsWith('a=candidate'));
  t.ok(candidates(offer).length > 0, 'the publisher gathered candidates');
  t.ok(
    candidates(offer).every((l) => l.includes(' typ relay')),
    'relay candidates only, from coturn',
  );
  const answer = await call(viewer, 'describe', { type: 'offer', sdp: offer });
  await call(publisher, 'accept', answer);

  const seen = await watching(viewer, coturn);
  t.equal(seen.videoWidth, 320, 'the viewer shows the publisher’s video');
  t.same(seen.pair, ['relay', 'relay'], 'the viewer’s selected pair is relay to relay');
  t.same((await call(publisher, 'seen')).pair, ['relay', 'relay'], 'and the publisher’s');

  // What coturn refuses. The gateway's own credentials gather a relay candidate here…
  const valid = viewIce.find((s) => s.username !== undefined)!;
  t.ok(
    (await call(viewer, 'gatheredTypes', [valid])).includes('relay'),
    'valid credentials: relayed',
  );
  // …a wrong password none…
  const wrong = { ...valid, credential: 'd3JvbmcgcGFzc3dvcmQ=' };
  t.same(await call(viewer, 'gatheredTypes', [wrong]), [], 'a wrong password: no relay candidate');
  // …nor an expired username, even with its right HMAC.
  const past = turnCredential(coturn.secret, 'bob', Math.floor(Date.now() / 1000) - 60);
  const expired = { urls: valid.urls, username: past.username, credential: past.credential };
  t.same(
    await call(viewer, 'gatheredTypes', [expired]),
    [],
    'expired credentials: no relay candidate',
  );
  // Both were refused by coturn itself, as its log says, not left untried by the browser.
  for (const username of [valid.username!, expired.username])
    await until(`coturn refusing ${username}`, async () =>
      coturn.log().includes(`Cannot find credentials of user <${username}>`) ? true : undefined,
    );
  t.pass('coturn logged both refusals');
});

t.test('coturn allocates with the gateway’s credentials and answers 401 to bad ones', async (t) => {
  if (!existsSync(TURNSERVER)) {
    t.fail('coturn is missing: apt-get install -y coturn (npm test’s pretest installs it)');
    return;
  }
  const coturn = await startCoturn(t);
  const sys = await startSystem(t, {
    GATEWAY_ICE_SERVERS: coturn.turnUrl,
    TURN_SECRET: coturn.secret,
  });
  const c = await Client.connect(`${sys.url}?access_token=${await sys.token('carol')}`);
  t.teardown(() => c.drop());
  const [turn] = (await c.nextOf('authenticated')).iceServers;
  const username = turn?.username ?? '';
  const allocate = (user: string, password: string) =>
    turnAllocate('127.0.0.1', coturn.port, user, password);

  t.same(await allocate(username, turn?.credential ?? ''), { ok: true }, 'handed out: a relay');
  const unauthorized = { ok: false, code: 401 };
  t.match(await allocate(username, 'd3JvbmcgcGFzc3dvcmQ='), unauthorized, 'a wrong password');
  const mallory = `${username.split(':')[0]}:mallory`;
  t.match(await allocate(mallory, turn?.credential ?? ''), unauthorized, 'another user’s name');
  const past = turnCredential(coturn.secret, 'carol', Math.floor(Date.now() / 1000) - 60);
  t.match(await allocate(past.username, past.credential), unauthorized, 'an expired username');
  const other = turnCredential('another-secret-0123456789', 'carol', Date.now() / 1000 + 600);
  t.match(await allocate(other.username, other.credential), unauthorized, 'another secret');
});

t.test(
  'the SDK, relay only: video through coturn on the ICE servers of authenticated',
  async (t) => {
    // Verbose: coturn logs each allocation (its session and username) only then.
    const rig = await relayRig(t, { verbose: true, env: { GATEWAY_DEMO: 'true' } });
    if (rig === undefined) return;
    const { coturn, sys, page } = rig;
    const room = 'turn-sdk';
    await sys.createRoom(room, 'owner');
    const join = async (role: 'publisher' | 'viewer', sub: string) => {
      const p = await page();
      const iceServers = await call(p, 'sdk', {
        url: sys.url,
        token: await sys.token(sub),
        room,
        role,
      });
      return { page: p, turn: iceServers.find((s) => s.username !== undefined) };
    };
    const publisher = await join('publisher', 'owner');
    const viewer = await join('viewer', 'bob');
    const owners = { urls: [coturn.turnUrl], username: /^\d+:owner$/ };
    t.match(publisher.turn, owners, 'the SDK kept the owner’s TURN entry');
    t.match(viewer.turn, { ...owners, username: /^\d+:bob$/ }, 'and bob’s');

    const seen = await watching(viewer.page, coturn);
    t.equal(seen.videoWidth, 320, 'the viewer shows the publisher’s video');
    t.same(seen.pair, ['relay', 'relay'], 'the viewer’s selected pair is relay to relay');
    t.same((await call(publisher.page, 'seen')).pair, ['relay', 'relay'], 'and the publisher’s');
    // Both sides allocated on coturn with the credentials the gateway handed them.
    for (const { turn } of [publisher, viewer])
      await until(`coturn allocating for ${turn?.username}`, async () =>
        coturn
          .log()
          .includes(`user <${turn?.username}>: incoming packet ALLOCATE processed, success`)
          ? true
          : undefined,
      );
    t.pass('coturn allocated a relay for each side');
    t.same(await publisher.page.evaluate('window.errors'), [], 'no error on the publisher');
  },
);
