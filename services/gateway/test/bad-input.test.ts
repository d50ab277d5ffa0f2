/**
 * Bad input over real sockets: every case gets a typed `error` frame with its
 * stable code or a documented close, and the gateway keeps serving everyone else
 * (two well-behaved members keep relaying and pinging after each case).
 */
import t, { type Test } from 'tap';
import { Client } from '../../../test/helpers/client.js';
import { startService } from '../../../test/helpers/processes.js';
import { Opcode, RawWs, UpgradeRefused } from '../../../test/helpers/rawws.js';
import { startSystem, testEnv, type System } from '../../../test/helpers/system.js';

const MAX_FRAME = 262_144;
const MAX_SDP = 4096;

/**
 * Alice and Bob in room `calm`. The returned check proves that they are unaffected:
 * an offer from Alice reaches Bob from her peer id, and Bob's ping is answered.
 */
async function witnesses(sys: System): Promise<(t: Test, after: string) => Promise<void>> {
  await sys.createRoom('calm', 'alice');
  const alice = await sys.client('alice');
  const bob = await sys.client('bob');
  const aj = await alice.call({ type: 'join', room: 'calm', role: 'publisher' });
  const bj = await bob.call({ type: 'join', room: 'calm', role: 'viewer' });
  let n = 0;
  return async (t, after) => {
    const sdp = `v=0 check ${++n}`;
    alice.send({ type: 'offer', room: 'calm', to: bj.peerId, sdp });
    const got = await bob.next((f) => f.type === 'offer' && f.sdp === sdp);
    t.equal(got.from, aj.peerId, `after ${after}: others still relay`);
    t.equal((await bob.call({ type: 'ping' })).type, 'pong', `after ${after}: others still ping`);
    t.notOk(alice.closed ?? bob.closed, `after ${after}: others still connected`);
  };
}

const nested = (depth: number, open: string, close: string) =>
  open.repeat(depth) + '1' + close.repeat(depth);

t.test(
  'bad frames get an error frame with a stable code; the connection and others go on',
  async (t) => {
    const sys = await startSystem(t, {
      GATEWAY_MAX_FRAME_BYTES: String(MAX_FRAME),
      GATEWAY_MAX_SDP_BYTES: String(MAX_SDP),
    });
    const healthy = await witnesses(sys);
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const cases: {
      name: string;
      send: string | Buffer;
      code: string;
      id?: string;
      message?: RegExp;
    }[] = [
      { name: 'malformed JSON', send: '{"type":"ping"', code: 'BAD_JSON' },
      { name: 'not an object', send: '[1,2]', code: 'BAD_FRAME' },
      { name: 'binary frame', send: Buffer.from('{"type":"ping"}'), code: 'BINARY_FRAME' },
      { name: 'unknown type', send: '{"type":"shout","id":"u1"}', code: 'UNKNOWN_TYPE', id: 'u1' },
      {
        name: 'missing field',
        send: JSON.stringify({ type: 'join', room: 'calm', id: 'm1' }),
        code: 'BAD_FRAME',
        id: 'm1',
        message: /role/,
      },
      {
        name: 'wrongly typed field',
        send: JSON.stringify({ type: 'join', room: 42, role: 'viewer' }),
        code: 'BAD_FRAME',
        message: /^\/room/,
      },
      {
        name: 'extra field (a userId claim)',
        send: JSON.stringify({ type: 'join', room: 'calm', role: 'viewer', userId: 'alice' }),
        code: 'BAD_FRAME',
      },
      {
        name: '__proto__ key',
        send: '{"type":"ping","__proto__":{"polluted":1}}',
        code: 'BAD_FRAME',
      },
      {
        name: 'constructor key',
        send: '{"type":"ping","constructor":{"prototype":{"polluted":1}}}',
        code: 'BAD_FRAME',
      },
      {
        name: '__proto__ in candidate',
        send: `{"type":"candidate","room":"calm","to":"x","candidate":{"candidate":"c","__proto__":{"polluted":1}}}`,
        code: 'BAD_FRAME',
      },
      {
        name: 'constructor in candidate',
        send: `{"type":"candidate","room":"calm","to":"x","candidate":{"candidate":"c","constructor":{"prototype":{}}}}`,
        code: 'BAD_FRAME',
      },
      {
        name: '100k nested arrays',
        send: `{"type":"ping","ts":${nested(100_000, '[', ']')}}`,
        code: 'BAD_FRAME',
      },
      {
        name: '40k nested objects',
        send: `{"type":"ping","x":${nested(40_000, '{"a":', '}')}}`,
        code: 'BAD_FRAME',
      },
      {
        name: 'huge SDP (over GATEWAY_MAX_SDP_BYTES, under the frame limit)',
        send: JSON.stringify({
          type: 'offer',
          room: 'calm',
          to: 'x',
          sdp: 'a'.repeat(MAX_SDP + 1),
        }),
        code: 'BAD_FRAME',
        message: /^\/sdp: .*4096/,
      },
      {
        name: 'huge candidate',
        send: JSON.stringify({
          type: 'candidate',
          room: 'calm',
          to: 'x',
          candidate: { candidate: 'c'.repeat(2000) },
        }),
        code: 'BAD_FRAME',
      },
    ];
    for (const c of cases) {
      const m = await sys.client('mallory');
      if (typeof c.send === 'string') m.send(c.send);
      else m.ws.send(c.send, { binary: true });
      const e = await m.nextOf('error');
      t.equal(e.code, c.code, `${c.name}: ${e.message}`);
      if (c.id !== undefined) t.equal(e.id, c.id, `${c.name}: the error echoes the frame id`);
      if (c.message !== undefined)
        t.match(e.message, c.message, `${c.name}: the message names the field`);
      t.equal(
        (await m.call({ type: 'ping' })).type,
        'pong',
        `${c.name}: the connection stays usable`,
      );
      await healthy(t, c.name);
      m.close();
    }
    t.same(
      Object.getOwnPropertyNames(Object.prototype).sort(),
      protoBefore,
      'Object.prototype untouched',
    );
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing polluted');
  },
);

t.test('closes, limits and timeouts', async (t) => {
  const sys = await startSystem(t, {
    GATEWAY_MAX_FRAME_BYTES: String(MAX_FRAME),
    GATEWAY_MAX_ROOMS_PER_CONNECTION: '2',
    AUTH_TIMEOUT_MS: '300',
    // Well above the heartbeat: on a loaded machine a pong may be late by a second.
    GATEWAY_IDLE_TIMEOUT_MS: '3000',
    GATEWAY_HEARTBEAT_INTERVAL_MS: '200',
  });
  const healthy = await witnesses(sys);
  // Says nothing at all, but its client library answers pings: never idle.
  const quiet = await sys.client('quiet');

  t.test('an oversized frame cuts the connection: the client sees 1006', async (t) => {
    const m = await sys.client('mallory');
    m.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(MAX_FRAME) }));
    const closed = await m.waitClose();
    // uWebSockets.js drops the socket as soon as the frame header announces too
    // much, without a close frame: 1006, never 1009 (see README, close codes).
    t.equal(closed.code, 1006);
    t.same(m.seen('error'), [], 'no error frame: the frame was never read');
    await healthy(t, 'an oversized frame');
  });

  t.test('a frame before auth is AUTH_REQUIRED; ping works; auth then join works', async (t) => {
    const m = await Client.connect(sys.url);
    const e = await m.call({ type: 'join', room: 'calm', role: 'viewer', id: 'early' });
    t.same([e.type, e.code], ['error', 'AUTH_REQUIRED']);
    t.equal((await m.call({ type: 'ping' })).type, 'pong', 'ping needs no auth');
    const a = await m.call({ type: 'auth', token: await sys.token('late') });
    t.same([a.type, a.userId], ['authenticated', 'late']);
    t.equal((await m.call({ type: 'join', room: 'calm', role: 'viewer' })).type, 'joined');
    m.close();
    await healthy(t, 'a frame before auth');
  });

  t.test('no auth within AUTH_TIMEOUT_MS: AUTH_REQUIRED, then 4408', async (t) => {
    const m = await Client.connect(sys.url);
    const closed = await m.waitClose();
    t.equal(closed.code, 4408);
    t.same(
      m.frames.map((f) => [f.type, f.code]),
      [['error', 'AUTH_REQUIRED']],
    );
    await healthy(t, 'an auth timeout');
  });

  t.test('a client that never answers pings is closed with 4408', async (t) => {
    const idler = await sys.raw('idler');
    await idler.waitEnd();
    t.ok(
      idler.frames.some((f) => f.opcode === Opcode.ping),
      'the gateway pinged it',
    );
    t.equal(idler.closeCode, 4408, 'closed for being idle');
    t.notOk(quiet.closed, 'a silent client that answers pings stays');
    t.equal((await quiet.call({ type: 'ping' })).type, 'pong');
    await healthy(t, 'an idle timeout');
  });

  t.test('TOO_MANY_ROOMS past GATEWAY_MAX_ROOMS_PER_CONNECTION', async (t) => {
    for (const r of ['m1', 'm2', 'm3']) await sys.createRoom(r, 'owner');
    const m = await sys.client('hopper');
    t.equal((await m.call({ type: 'join', room: 'm1', role: 'viewer' })).type, 'joined');
    t.equal((await m.call({ type: 'join', room: 'm2', role: 'viewer' })).type, 'joined');
    const e = await m.call({ type: 'join', room: 'm3', role: 'viewer' });
    t.same([e.type, e.code, e.room], ['error', 'TOO_MANY_ROOMS', 'm3']);
    t.equal((await m.call({ type: 'leave', room: 'm1' })).type, 'left');
    t.equal(
      (await m.call({ type: 'join', room: 'm3', role: 'viewer' })).type,
      'joined',
      'room for one more after a leave',
    );
    m.close();
    await healthy(t, 'too many rooms');
  });
});

t.test('a flood over the rate limit: RATE_LIMITED errors, then 4429', async (t) => {
  const sys = await startSystem(t, {
    GATEWAY_RATE_PER_S: '1',
    GATEWAY_RATE_BURST: '10',
    GATEWAY_RATE_STRIKES: '5',
  });
  const healthy = await witnesses(sys);
  const m = await sys.client('flooder');
  for (let i = 0; i < 100; i++) m.send({ type: 'ping', id: i });
  const closed = await m.waitClose();
  t.equal(closed.code, 4429);
  const kinds = m.frames
    .filter((f) => f.type !== 'authenticated')
    .map((f) => (f.type === 'pong' ? 'pong' : `${f.type}:${String(f.code)}`));
  t.same(kinds.slice(0, 10), Array(10).fill('pong'), 'the burst goes through');
  t.same(
    [...new Set(kinds.slice(10))].filter((k) => k !== 'pong'),
    ['error:RATE_LIMITED'],
    'then only RATE_LIMITED errors',
  );
  t.ok(kinds.filter((k) => k === 'error:RATE_LIMITED').length >= 5, 'at least STRIKES of them');
  t.ok(m.frames.length < 100, 'the rest was never answered');
  await healthy(t, 'a flood');
});

t.test('GATEWAY_MAX_CONNECTIONS: HTTP 503 with GATEWAY_FULL on the upgrade', async (t) => {
  const sys = await startSystem(t, { GATEWAY_MAX_CONNECTIONS: '3' });
  const healthy = await witnesses(sys); // two connections
  const third = await sys.client('third');
  for (const path of [`/signaling?access_token=${await sys.token('fourth')}`, '/signaling']) {
    const refused = await RawWs.connect(sys.port, path).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(refused instanceof UpgradeRefused, `${path.slice(0, 24)}: refused`);
    const r = refused as UpgradeRefused;
    t.equal(r.status, 503);
    t.match(JSON.parse(r.body), { error: { code: 'GATEWAY_FULL' } });
  }
  await healthy(t, 'a refused connection');
  third.close();
  await third.waitClose();
  // The gateway sees the close a moment after the client does.
  let again: Client | undefined;
  for (let i = 0; again === undefined && i < 50; i++) {
    again = await sys.client('fourth').catch(async () => {
      await new Promise((r) => setTimeout(r, 50));
      return undefined;
    });
  }
  t.ok(again, 'a place freed is taken again');
  t.equal((await again!.call({ type: 'ping' })).type, 'pong');
});

t.test('a reader that never reads is cut with 4413; gateway memory stays bounded', async (t) => {
  const sys = await startSystem(t);
  const SDP = 60_000;
  // The gateway in its own process, so that its memory is its own.
  const gw = await startService(
    t,
    'gateway',
    testEnv(sys.nats.url, {
      GATEWAY_MAX_BACKPRESSURE_BYTES: '65536',
      GATEWAY_MAX_SDP_BYTES: String(SDP),
      GATEWAY_RATE_PER_S: '1000000',
      GATEWAY_RATE_BURST: '1000000',
      GATEWAY_RESUME_BUFFER_FRAMES: '16',
    }),
  );
  await sys.createRoom('slow', 'sender');
  const connect = async (sub: string) => {
    const c = await Client.connect(`${gw.url}?access_token=${await sys.token(sub)}`);
    t.teardown(() => c.drop());
    await c.nextOf('authenticated');
    return c;
  };
  const reader = await RawWs.connect(
    gw.port,
    `/signaling?access_token=${await sys.token('reader')}`,
  );
  t.teardown(() => reader.destroy());
  await reader.nextJson('authenticated');
  reader.sendJson({ type: 'join', room: 'slow', role: 'viewer' });
  const { peerId } = (await reader.nextJson('joined')) as { peerId: string };
  const sender = await connect('sender');
  const watcher = await connect('watcher');
  t.equal((await sender.call({ type: 'join', room: 'slow', role: 'publisher' })).type, 'joined');
  const wj = await watcher.call({ type: 'join', room: 'slow', role: 'viewer' });
  t.equal(wj.type, 'joined');
  reader.pause();

  const rssBefore = gw.rssBytes();
  let rssPeak = rssBefore;
  const sdp = 'a'.repeat(SDP);
  const batches = 30;
  const perBatch = 100;
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < perBatch; i++)
      sender.send({ type: 'offer', room: 'slow', to: peerId, sdp });
    await sender.call({ type: 'ping' }); // the gateway has handled the batch
    rssPeak = Math.max(rssPeak, gw.rssBytes());
  }
  const sentMb = (batches * perBatch * SDP) / 1e6;
  const growthMb = (rssPeak - rssBefore) / 1e6;
  t.comment(
    `sent ${sentMb} MB to the reader; gateway RSS grew by ${growthMb.toFixed(1)} MB at most`,
  );
  t.ok(growthMb < 48, `gateway memory bounded (${growthMb.toFixed(1)} MB growth for ${sentMb} MB)`);
  t.same(sender.seen('error'), [], 'the sender was never refused');
  const health = (await (await fetch(`http://127.0.0.1:${gw.port}/healthz`)).json()) as {
    connections: number;
  };
  t.equal(health.connections, 2, 'the reader was dropped; sender and watcher remain');

  reader.resume();
  await reader.waitEnd();
  t.equal(reader.closeCode, 4413, 'what the reader finds at the end of its buffer: 4413');
  const offers = reader.json().filter((f) => f.type === 'offer').length;
  t.ok(offers < (batches * perBatch) / 10, `the reader got only what fit (${offers} offers)`);

  sender.send({ type: 'offer', room: 'slow', to: wj.peerId, sdp: 'v=0 still' });
  t.equal(
    (await watcher.next((f) => f.type === 'offer')).sdp,
    'v=0 still',
    'the watcher is unaffected',
  );
  t.equal((await watcher.call({ type: 'ping' })).type, 'pong');
});
