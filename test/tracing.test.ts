/**
 * One trace across processes, as an operator sees it in Jaeger: real service
 * processes (two gateways, the room service, the catalogue, the stream service)
 * export OTLP/HTTP to a receiver this test runs, and the spans' parent links are
 * checked hop by hop.
 *
 * - Signaling: a client's `join` (with the client's own `traceparent`) at gateway A
 *   → the room command over NATS → the room actor's transition → its append to
 *   ROOM_EVENTS → the catalogue's projection; and a relayed `offer` from gateway A
 *   through NATS to its delivery at gateway B.
 * - A REST call (with the caller's `traceparent` header): the gateway's HTTP span →
 *   the room command → the actor's append → the catalogue's projection.
 * - An SRS callback: the stand-in's on_publish → the stream service's hook span →
 *   the room command and the actor's decision → the answer to SRS.
 * - A reconcile round that finds a stream no room admitted: the round's span → its
 *   sync request → the room's answer, and the kick it decided.
 *
 * Spans are batched in the services for 5 s; the services are stopped (SIGTERM),
 * which flushes them, before the spans are read.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { startNats } from './helpers/nats.js';
import { OtlpKind, startOtlpReceiver, type ReceivedSpan } from './helpers/otlp.js';
import { startService } from './helpers/processes.js';
import { hookInto, startSrsStandIn, streamEnv } from './helpers/srs.js';
import { startTestTools, testEnv } from './helpers/system.js';

/** A client-side span: what a browser's tracing library would send as `traceparent`. */
function clientSpan(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/**
 * True when `parent` ends no earlier than `child`. The SDK anchors each span's start
 * on Date.now(), whose resolution is 1 ms, and measures from there with the
 * monotonic clock: two spans' times can disagree by up to 1 ms, whatever their order.
 */
function endsAfter(parent: ReceivedSpan, child: ReceivedSpan): boolean {
  return parent.endNs + 1_000_000n >= child.endNs;
}

t.test('one trace per client frame and per SRS callback, across every process', async (t) => {
  const otlp = await startOtlpReceiver(t);
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const srs = await startSrsStandIn(t);
  const env = testEnv(nats.url, {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    TELEMETRY_FLUSH_TIMEOUT_MS: '10000',
    ...streamEnv(srs),
    STREAM_RECONCILE_INTERVAL_MS: '300',
  });
  const room = await startService(t, 'room', env);
  const [gwA, gwB, catalog, stream] = await Promise.all([
    startService(t, 'gateway', { ...env, GATEWAY_ID: 'gw-a' }),
    startService(t, 'gateway', { ...env, GATEWAY_ID: 'gw-b' }),
    startService(t, 'catalog', env),
    startService(t, 'stream', env),
  ]);
  hookInto(srs, stream);
  const sys = await startTestTools(t, nats.url);
  const created = await sys.createRoom('tr', 'alice');

  // Signaling: alice on gateway A, bob on gateway B; alice's frames carry her trace.
  const alice = await sys.connect(gwA.url, 'alice');
  const bob = await sys.connect(gwB.url, 'bob');
  const join = clientSpan();
  const joined = await alice.call({
    type: 'join',
    room: 'tr',
    // On stage, so that her join is news and she may address bob (audience); she
    // leaves before the encoder below takes the room's one publisher slot.
    role: 'publisher',
    traceparent: join.traceparent,
  });
  t.equal(joined.type, 'joined');
  const bobJoined = await bob.call({ type: 'join', room: 'tr', role: 'viewer' });
  t.equal(bobJoined.type, 'joined');
  const offer = clientSpan();
  alice.send({
    type: 'offer',
    room: 'tr',
    to: bobJoined.peerId,
    sdp: 'v=0',
    traceparent: offer.traceparent,
  });
  t.equal(
    (await bob.next((f) => f.type === 'offer')).from,
    joined.peerId,
    'the offer reached bob on gateway B',
  );
  t.equal((await alice.call({ type: 'leave', room: 'tr' })).type, 'left', 'alice leaves the stage');

  // A REST call, with the caller's own trace: carol creates a room.
  const rest = clientSpan();
  const made = await fetch(`http://127.0.0.1:${gwA.port}/api/rooms`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await sys.token('carol', { create: true })}`,
      'content-type': 'application/json',
      traceparent: rest.traceparent,
    },
    body: JSON.stringify({ roomId: 'tr-rest', title: 'REST', isPrivate: false }),
  });
  t.equal(made.status, 201, 'the room was created over REST');

  // An SRS callback: the encoder publishes with the room's stream key.
  t.ok((await srs.publish('tr', `?key=${String(created.streamKey)}`)).ok, 'on_publish allowed');
  const rooms = new RoomClient(sys.bus);
  for (let live = false, tries = 0; !live; await new Promise((r) => setTimeout(r, 50))) {
    const reply = await rooms.get('tr').catch((err: unknown) => {
      if (err instanceof RoomRefusedError) return err.toBody();
      throw err;
    });
    live = 'room' in reply && reply.room.status === 'live';
    if (++tries > 200) throw new Error(`not live: ${JSON.stringify(reply)}`);
  }

  // A reconcile round: SRS carries a stream whose hook was never asked (http_hooks off),
  // for a room that does not exist. A round kicks its publisher.
  srs.bypassHooks = true;
  const ghost = await srs.publish('ghost', '');
  srs.bypassHooks = false;
  t.ok(ghost.ok, 'SRS carries the ghost stream');
  for (let tries = 0; srs.hasClient(ghost.clientId); await new Promise((r) => setTimeout(r, 50)))
    if (++tries > 200) throw new Error('the ghost publisher was never kicked');

  // SIGTERM flushes each service's batched spans (bounded by TELEMETRY_FLUSH_TIMEOUT_MS).
  await Promise.all([gwA, gwB, stream].map((s) => s.stop(15_000)));
  await Promise.all([room, catalog].map((s) => s.stop(15_000)));
  const spans = otlp.spans;
  t.ok(
    otlp.contentTypes.every((c) => c.startsWith('application/json')),
    'the exporter sent OTLP JSON',
  );

  const inTrace = (traceId: string) => spans.filter((s) => s.traceId === traceId);
  /** The one span of `trace` named `name` whose parent is `parent` (and of that kind and service). */
  const child = (
    t: Test,
    trace: ReceivedSpan[],
    parent: ReceivedSpan | string,
    name: string,
    kind: number,
    service: string,
  ): ReceivedSpan => {
    const parentId = typeof parent === 'string' ? parent : parent.spanId;
    const found = trace.filter((s) => s.name === name && s.parentSpanId === parentId);
    const s = found[0];
    t.equal(
      found.length,
      1,
      `one ${name} under ${typeof parent === 'string' ? parent : parent.name}`,
    );
    if (s === undefined) {
      throw new Error(
        `no ${name} with parent ${parentId}; trace has: ${trace
          .map((x) => `${x.service}:${x.name}(${x.spanId}<-${x.parentSpanId ?? 'root'})`)
          .join(', ')}`,
      );
    }
    t.equal(s.kind, kind, `${name}: kind ${kind}`);
    t.equal(s.service, service, `${name}: in the ${service} service`);
    return s;
  };

  t.test('join: client → gateway → room command → transition → append → catalogue', async (t) => {
    const trace = inTrace(join.traceId);
    t.ok(trace.length > 0, 'the client trace continues in the services');
    const ws = child(t, trace, join.spanId, 'ws join', OtlpKind.server, 'gateway');
    t.equal(ws.instance, 'gw-a');
    t.equal(ws.attributes['roomcast.room'], 'tr');
    const request = child(t, trace, ws, 'request room.*.cmd', OtlpKind.client, 'gateway');
    t.equal(request.attributes['messaging.destination.name'], 'room.tr.cmd');
    const serve = child(t, trace, request, 'process room.*.cmd', OtlpKind.server, 'room');
    const command = child(t, trace, serve, 'room join', OtlpKind.internal, 'room');
    const transition = child(t, trace, command, 'room transition', OtlpKind.internal, 'room');
    t.match(String(transition.attributes['roomcast.recorded']), /member_joined/);
    const append = child(t, trace, transition, 'append ROOM_EVENTS', OtlpKind.producer, 'room');
    const project = child(t, trace, append, 'project ROOM_EVENTS', OtlpKind.consumer, 'catalog');
    t.equal(project.attributes['roomcast.outcome'], 'applied');
    // What every member must see: peer_joined goes out to the gateways holding the room.
    const bcast = child(t, trace, command, 'publish room.*.bcast', OtlpKind.producer, 'room');
    t.ok(
      trace.some(
        (s) =>
          s.name === 'process room.*.bcast' &&
          s.parentSpanId === bcast.spanId &&
          s.kind === OtlpKind.consumer &&
          s.instance === 'gw-a',
      ),
      'the broadcast is received by gateway A in the same trace',
    );
    t.ok(endsAfter(ws, request), 'the frame span lasts until the room answered');
  });

  t.test('offer: client → gateway A → NATS → delivery at gateway B', async (t) => {
    const trace = inTrace(offer.traceId);
    const ws = child(t, trace, offer.spanId, 'ws offer', OtlpKind.server, 'gateway');
    t.equal(ws.instance, 'gw-a');
    const publish = child(t, trace, ws, 'publish room.*.sig.*', OtlpKind.producer, 'gateway');
    t.equal(publish.instance, 'gw-a');
    t.equal(
      publish.attributes['messaging.destination.name'],
      `room.tr.sig.${String(bobJoined.peerId)}`,
    );
    // Every gateway with members in the room receives a room's signals once (one
    // subscription per room, not per peer): gateway B delivers, gateway A drops it.
    const received = trace.filter(
      (s) =>
        s.name === 'process room.*.sig.*' &&
        s.parentSpanId === publish.spanId &&
        s.kind === OtlpKind.consumer &&
        s.service === 'gateway',
    );
    const instances = received.map((s) => s.instance);
    t.ok(instances.includes('gw-b'), 'delivered by gw-b, which holds the addressee');
    t.equal(new Set(instances).size, instances.length, 'received at most once by each gateway');
    t.ok(
      instances.every((i) => i === 'gw-a' || i === 'gw-b'),
      'and only by gateways in the room',
    );
  });

  t.test('REST: request → gateway span → room command → transition → append', async (t) => {
    const trace = inTrace(rest.traceId);
    const http = child(t, trace, rest.spanId, 'POST /api/rooms', OtlpKind.server, 'gateway');
    t.equal(http.attributes['http.route'], '/api/rooms');
    t.equal(http.attributes['http.response.status_code'], 201);
    const request = child(t, trace, http, 'request room.*.cmd', OtlpKind.client, 'gateway');
    t.equal(request.attributes['messaging.destination.name'], 'room.tr-rest.cmd');
    const serve = child(t, trace, request, 'process room.*.cmd', OtlpKind.server, 'room');
    const command = child(t, trace, serve, 'room create', OtlpKind.internal, 'room');
    const append = child(t, trace, command, 'append ROOM_EVENTS', OtlpKind.producer, 'room');
    child(t, trace, append, 'project ROOM_EVENTS', OtlpKind.consumer, 'catalog');
    t.ok(endsAfter(http, request), 'the HTTP span lasts until the room answered');
  });

  t.test('on_publish: SRS callback → hook span → room decision → answer', async (t) => {
    const hookSpans = spans.filter((s) => s.name === 'srs on_publish');
    t.equal(hookSpans.length, 1, 'one hook span');
    const hook = hookSpans[0]!;
    t.equal(hook.kind, OtlpKind.server);
    t.equal(hook.service, 'stream');
    t.equal(hook.parentSpanId, undefined, 'SRS sends no trace context: the hook starts the trace');
    t.equal(hook.attributes['srs.hook.result'], 'allowed', 'the answer: allowed');
    t.equal(hook.attributes['roomcast.room'], 'tr');
    const trace = inTrace(hook.traceId);
    const requests = trace.filter(
      (s) => s.name === 'request room.*.svc' && s.parentSpanId === hook.spanId,
    );
    const decided = requests.flatMap((request) => {
      const serve = trace.find((s) => s.parentSpanId === request.spanId);
      const command = trace.find(
        (s) => s.parentSpanId === serve?.spanId && s.name === 'room stream_publish',
      );
      return command === undefined || serve === undefined ? [] : [{ request, serve, command }];
    });
    t.equal(decided.length, 1, 'the hook asked the room once to publish');
    const { request, serve, command } = decided[0]!;
    t.equal(request.kind, OtlpKind.client);
    t.equal(serve.service, 'room');
    t.equal(serve.kind, OtlpKind.server);
    const transition = child(t, trace, command, 'room transition', OtlpKind.internal, 'room');
    t.match(String(transition.attributes['roomcast.recorded']), /publisher_granted/);
    child(t, trace, transition, 'append ROOM_EVENTS', OtlpKind.producer, 'room');
    t.ok(endsAfter(hook, request), 'SRS is answered after the room decided');
    t.ok(
      trace.some((s) => s.name === 'room stream_confirm'),
      'the confirmation that made the room live belongs to the same trace',
    );
  });

  t.test("reconcile: round → room sync → the room's answer, and the kick it decided", async (t) => {
    const kicks = spans.filter(
      (s) => s.name === 'srs kick' && s.attributes['roomcast.room'] === 'ghost',
    );
    t.equal(kicks.length, 1, 'one kick of the ghost publisher');
    const kick = kicks[0]!;
    t.equal(kick.kind, OtlpKind.client);
    t.equal(kick.service, 'stream');
    t.equal(kick.attributes['srs.client'], ghost.clientId, 'the kicked client');
    t.equal(kick.attributes['srs.kick.reason'], 'unknown_room');
    const trace = inTrace(kick.traceId);
    const round = trace.find((s) => s.spanId === kick.parentSpanId);
    t.equal(round?.name, 'srs reconcile', 'the kick is a child of the round that decided it');
    t.equal(round?.parentSpanId, undefined, 'the round starts its trace');
    t.ok(Number(round?.attributes['srs.streams']) >= 1, 'the round says how many streams it read');
    const sync = trace.find(
      (s) => s.name === 'room stream_sync' && s.attributes['roomcast.room'] === 'ghost',
    );
    const serve = trace.find((s) => s.spanId === sync?.parentSpanId);
    const request = trace.find((s) => s.spanId === serve?.parentSpanId);
    t.equal(serve?.service, 'room', 'the room service answered the sync');
    t.equal(request?.name, 'request room.*.svc');
    t.equal(request?.parentSpanId, round?.spanId, 'the sync was asked by the round');
  });
});
