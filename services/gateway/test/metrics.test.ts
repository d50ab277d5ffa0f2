/**
 * A real gateway's /metrics after real traffic: connections now, opened and closed
 * by reason; frames in and out by type (refused ones too); handling latency by
 * type. Two gateway processes, so that frames delivered from NATS are counted by
 * the gateway that hands them to the client.
 */
import t from 'tap';
import { freePort } from '../../../test/helpers/net.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads the Prometheus text format (the lines that are samples). */
function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(port: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

/** The value of the series `name` with (at least) `labels`; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}) {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

/** Scrapes until `done` holds (a close reaches the gateway a moment after the client sees it). */
async function scrapeUntil(port: number, done: (m: Sample[]) => boolean): Promise<Sample[]> {
  for (let i = 0; ; i++) {
    const samples = await scrape(port);
    if (done(samples)) return samples;
    if (i > 250) throw new Error(`/metrics never showed what was expected`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('/metrics of a real gateway after traffic', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const env = testEnv(nats.url, { METRICS_ENABLED: 'true', METRICS_HOST: '127.0.0.1' });
  // Every metrics port free, the room's too: a fixed default would collide with another run.
  const [portA, portB, portRoom] = [await freePort(), await freePort(), await freePort()];
  await startService(t, 'room', { ...env, ROOM_METRICS_PORT: String(portRoom) });
  const [gwA, gwB] = await Promise.all([
    startService(t, 'gateway', { ...env, GATEWAY_ID: 'gw-a', GATEWAY_METRICS_PORT: String(portA) }),
    startService(t, 'gateway', { ...env, GATEWAY_ID: 'gw-b', GATEWAY_METRICS_PORT: String(portB) }),
  ]);
  t.equal(gwA.metricsPort, portA, 'gateway A serves /metrics on its configured port');
  const sys = await startTestTools(t, nats.url);
  await sys.createRoom('m', 'alice');

  const alice = await sys.connect(gwA.url, 'alice');
  const carol = await sys.connect(gwA.url, 'carol');
  const bob = await sys.connect(gwB.url, 'bob');
  const a = await alice.call({ type: 'join', room: 'm', role: 'publisher' });
  await carol.call({ type: 'join', room: 'm', role: 'viewer' });
  const b = await bob.call({ type: 'join', room: 'm', role: 'viewer' });
  // The viewer offers (it knows the stage); the publisher answers whoever offered.
  bob.send({ type: 'offer', room: 'm', to: a.peerId, sdp: 'v=0' });
  await alice.next((f) => f.type === 'offer');
  alice.send({ type: 'answer', room: 'm', to: b.peerId, sdp: 'v=0' });
  alice.send({
    type: 'candidate',
    room: 'm',
    to: b.peerId,
    candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' },
  });
  await bob.next((f) => f.type === 'candidate');
  await alice.call({ type: 'ping' });
  alice.send('{"type":"join"');
  await alice.nextOf('error');

  const onA = await scrape(portA);
  t.equal(value(onA, 'roomcast_ws_connections'), 2, 'two connections open on A');
  t.equal(value(onA, 'roomcast_ws_connections_opened_total'), 2);
  t.equal(value(onA, 'roomcast_ws_connections', { service_name: 'gateway' }), 2, 'service_name');
  for (const [type, n] of [
    ['join', 2],
    ['answer', 1],
    ['candidate', 1],
    ['ping', 1],
    ['invalid', 1],
  ] as const)
    t.equal(value(onA, 'roomcast_ws_frames_in_total', { type }), n, `in: ${type}`);
  for (const [type, n] of [
    ['authenticated', 2],
    ['joined', 2],
    ['pong', 1],
    ['error', 1],
    ['offer', 1],
  ] as const)
    t.equal(value(onA, 'roomcast_ws_frames_out_total', { type }), n, `out: ${type}`);
  // The audience is not announced: no peer_joined went out at all.
  t.equal(value(onA, 'roomcast_ws_frames_out_total', { type: 'peer_joined' }) ?? 0, 0);
  t.equal(
    value(onA, 'roomcast_message_duration_seconds_count', { type: 'join' }),
    2,
    'handling latency of both joins',
  );
  t.equal(value(onA, 'roomcast_message_duration_seconds_bucket', { type: 'join', le: '+Inf' }), 2);
  t.ok((value(onA, 'roomcast_process_resident_memory_bytes') ?? 0) > 0, 'process figures too');

  const onB = await scrape(portB);
  t.equal(value(onB, 'roomcast_ws_connections'), 1, 'one connection open on B');
  for (const type of ['answer', 'candidate'])
    t.equal(
      value(onB, 'roomcast_ws_frames_out_total', { type }),
      1,
      `B counts the ${type} it delivered from NATS`,
    );
  t.equal(value(onB, 'roomcast_ws_frames_in_total', { type: 'offer' }), 1);

  // A browser's close() (a close frame without a status) is a clean close; a cut connection is not.
  carol.close();
  alice.drop();
  const after = await scrapeUntil(portA, (m) => value(m, 'roomcast_ws_connections') === 0);
  t.equal(value(after, 'roomcast_ws_connections_closed_total', { reason: 'normal' }), 1);
  t.equal(value(after, 'roomcast_ws_connections_closed_total', { reason: 'dropped' }), 1);
});
