/**
 * An SRS outage is a state of its own: once the SRS API has not answered a complete
 * poll for STREAM_SRS_DOWN_AFTER_MS, every stream is reported `unknown` (REST
 * included), and when SRS is back the streams it lost are timed from the last
 * complete poll, not from when the loss was noticed. Rounds run when the test calls
 * them; the outage is made longer than the threshold by waiting on the service's own
 * verdict, never on a clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { StreamStatus } from '#shared/stream/stream.protocol.js';
import { startStreamSystem, type StreamSystem } from './stream.harness.js';

const GRACE_MS = 60_000;
const END_MS = 120_000;
const env = {
  STREAM_SRS_DOWN_AFTER_MS: '300',
  // Only the test's rounds run.
  STREAM_RECONCILE_INTERVAL_MS: '600000',
  STREAM_PUBLISHER_GRACE_MS: String(GRACE_MS),
  STREAM_END_AFTER_MS: String(END_MS),
};

async function liveRoom(sys: StreamSystem, roomId = 'r1') {
  const room = await sys.createRoom(roomId, { maxViewers: 50 });
  const pub = await sys.srs.publish(roomId, `?key=${room.streamKey}`);
  await sys.until(`${roomId} live`, () => sys.state(roomId)?.status === 'live');
  return { room, pub };
}

async function restStatus(sys: StreamSystem, roomId: string): Promise<StreamStatus> {
  const res = await fetch(`${sys.gatewayUrl}/api/rooms/${roomId}/stream`, {
    headers: { authorization: `Bearer ${await sys.token('viewer')}` },
  });
  return ((await res.json()) as { stream: StreamStatus }).stream;
}

/** The API stops answering until SRS counts as down (the service's verdict). */
async function srsDown(sys: StreamSystem): Promise<void> {
  await sys.srs.apiDown();
  await sys.stream.reconcile();
  await sys.until('SRS counted down', () => sys.stream.srsDownSince !== null);
}

type StreamStopped = Extract<RoomEvent, { type: 'stream_stopped' }>;
const srsDownGauge = (sys: StreamSystem) => sys.stream.metrics.srsDown.read()[0]?.value;
const stoppedOf = (sys: StreamSystem, roomId: string) =>
  sys.events(roomId).find((e): e is StreamStopped => e.type === 'stream_stopped');

t.test('SRS down past the threshold: the stream is unknown, not the last poll', async (t) => {
  const sys = await startStreamSystem(t, { env });
  const { pub } = await liveRoom(sys);
  await sys.stream.reconcile();
  t.match(await restStatus(sys, 'r1'), { state: 'active', srs: 'ok', srsDownSince: null });

  await srsDown(sys);
  const lastGood = sys.stream.srsLastGoodPollAt;
  t.ok(lastGood !== null, 'a complete poll was made');
  t.match(await restStatus(sys, 'r1'), {
    status: 'live',
    state: 'unknown',
    active: false,
    srs: 'down',
    srsDownSince: lastGood,
    publisher: { clientId: pub.clientId },
    video: null,
    kbps: null,
  });
  t.equal(srsDownGauge(sys), 1, 'srs_down feeds the srs_unreachable alert');

  await sys.srs.start();
  await sys.stream.reconcile();
  t.equal(sys.stream.srsDownSince, null, 'back at the first complete poll');
  t.equal(srsDownGauge(sys), 0);
  t.match(await restStatus(sys, 'r1'), { state: 'active', srs: 'ok', srsDownSince: null });
  t.equal(sys.holder('r1'), pub.clientId, 'the same SRS carrying it: nothing changed');
});

t.test('SRS restarted during the outage: deadlines from the last good poll', async (t) => {
  const sys = await startStreamSystem(t, { env });
  await liveRoom(sys);
  await sys.stream.reconcile();
  const lastGood = sys.stream.srsLastGoodPollAt ?? 0;
  const before = sys.srs.serviceId;

  await srsDown(sys);
  sys.srs.restart();
  const downFor = Date.now() - lastGood;
  await sys.srs.start();
  await sys.stream.reconcile();
  t.not(sys.srs.serviceId, before, 'a new SRS process');
  t.equal(sys.state('r1')?.publisher, null, 'the restart is reconciled: released');
  const stopped = stoppedOf(sys, 'r1');
  t.match(stopped, { reason: 'srs_restarted' });
  const goneAt = stopped?.goneAt ?? Infinity;
  const endAt = stopped?.endAt ?? Infinity;
  const at = stopped?.at ?? 0;
  t.ok(goneAt >= lastGood + GRACE_MS, 'the grace runs from the last good poll');
  t.ok(goneAt - at <= GRACE_MS - downFor, 'not from when the restart was noticed');
  t.ok(endAt >= lastGood + END_MS, 'the end deadline too');
  t.ok(endAt - at <= END_MS - downFor);
});

t.test('a publisher lost while the API was down: timed from the last good poll', async (t) => {
  const sys = await startStreamSystem(t, { env });
  const { pub } = await liveRoom(sys);
  await sys.stream.reconcile();
  const lastGood = sys.stream.srsLastGoodPollAt ?? 0;

  sys.srs.faults.lose.add('on_unpublish');
  await srsDown(sys);
  sys.srs.disconnect(pub.clientId);
  await sys.srs.settled();
  await sleep(50);
  const downFor = Date.now() - lastGood;
  await sys.srs.start();
  await sys.stream.reconcile();
  const stopped = stoppedOf(sys, 'r1');
  t.match(stopped, { clientId: pub.clientId, reason: 'vanished' });
  const goneAt = stopped?.goneAt ?? Infinity;
  t.ok(goneAt >= lastGood + GRACE_MS, 'the grace runs from the last good poll');
  t.ok(goneAt - (stopped?.at ?? 0) <= GRACE_MS - downFor, 'not from when SRS answered again');
});

t.test('no outage: a round times a loss from itself, as before', async (t) => {
  const sys = await startStreamSystem(t, { env });
  const { pub } = await liveRoom(sys);
  await sys.stream.reconcile();
  sys.srs.faults.lose.add('on_unpublish');
  sys.srs.disconnect(pub.clientId);
  await sys.srs.settled();
  await sys.stream.reconcile();
  const stopped = stoppedOf(sys, 'r1');
  t.equal((stopped?.goneAt ?? 0) - (stopped?.at ?? 0), GRACE_MS);
});

t.test('WebSocket members hear the outage and its end as room_status', async (t) => {
  const sys = await startStreamSystem(t, { env });
  const { pub } = await liveRoom(sys);
  await sys.stream.reconcile();
  const alice = await sys.client('alice');
  const joined = await alice.call({ type: 'join', room: 'r1', role: 'viewer' });
  t.match(joined, { type: 'joined', status: 'live' });
  t.notOk('stream' in joined, 'SRS answers: nothing said of the stream');

  // SRS stops: its API refuses connections until it is started again.
  await sys.srs.stop();
  await sys.stream.reconcile();
  const unknown = await alice.next((f) => f.type === 'room_status');
  t.match(unknown, { type: 'room_status', room: 'r1', status: 'live', stream: 'unknown' });
  t.match(sys.events('r1').at(-1), {
    type: 'stream_unknown',
    since: sys.stream.srsLastGoodPollAt,
  });

  // A member joining during the outage learns it with its membership.
  const bob = await sys.client('bob');
  t.match(await bob.call({ type: 'join', room: 'r1', role: 'viewer' }), {
    type: 'joined',
    stream: 'unknown',
  });
  // Said once per outage, however often the stream service says it.
  await sys.rooms.streamUnknown('r1', { since: 1 });
  t.equal(sys.events('r1').filter((e) => e.type === 'stream_unknown').length, 1);

  await sys.srs.start();
  await sys.stream.reconcile();
  const known = await alice.next((f) => f.type === 'room_status' && f.stream === 'known');
  t.match(known, { status: 'live', stream: 'known' });
  t.ok((known.seq as number) > (unknown.seq as number), 'numbered as room news');
  t.equal(sys.holder('r1'), pub.clientId, 'the same SRS: the publisher stays');
  const carol = await sys.client('carol');
  const again = await carol.call({ type: 'join', room: 'r1', role: 'viewer' });
  t.notOk('stream' in again, 'known again: nothing said');
});
