import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { ExportResultCode } from '@opentelemetry/core';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { RoomcastError } from '#shared/wire/errors.js';
import { createLogger } from '#shared/runtime/log.js';
import {
  isTracing,
  packageVersion,
  setupTelemetry,
  startTracing,
  withSpan,
  type Telemetry,
} from '#shared/runtime/telemetry.js';
import { startNats } from '../../test/helpers/nats.js';

const log = createLogger('test', 'error');
const telemetryConfig = (env: Record<string, string> = {}) => loadConfig(env).telemetry;

/** Tracing into memory for one test, stopped in teardown. */
async function memoryTracing(
  t: Test,
): Promise<{ exporter: InMemorySpanExporter; telemetry: Telemetry }> {
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTracing({
    service: 'test',
    version: '1.2.3',
    instance: 'test-1',
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  t.teardown(() => telemetry.shutdown());
  return { exporter, telemetry };
}

const byName = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const s = spans.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no span ${name} in ${spans.map((x) => x.name).join(', ')}`);
  return s;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

async function buses(t: Test): Promise<[Bus, Bus]> {
  const nats = await startNats();
  const connect = (name: string) =>
    Bus.connect({ ...nats.connectOptions(), name, requestTimeoutMs: 2000, log });
  const pair = await Promise.all([connect('a'), connect('b')]);
  t.teardown(async () => {
    await Promise.all(pair.map((b) => b.close()));
    await nats.stop();
  });
  return pair;
}

t.test('with no endpoint, tracing is off: no SDK, no spans, fn runs as is', async (t) => {
  const telemetry = await setupTelemetry({
    service: 'gateway',
    instance: 'g1',
    config: telemetryConfig(),
    log,
  });
  t.equal(telemetry.tracing, false);
  t.equal(isTracing(), false);
  t.equal(
    withSpan('x', {}, () => trace.getActiveSpan()),
    undefined,
    'no span is active inside withSpan',
  );
  t.equal(await withSpan('x', {}, () => Promise.resolve(7)), 7);
  await telemetry.shutdown();
});

t.test('with tracing off, a published message carries no headers', async (t) => {
  const [a, b] = await buses(t);
  const got = new Promise<boolean>((resolve) => {
    b.subscribe('off.x', (msg) => resolve(msg.headers === undefined));
  });
  await b.flush();
  withSpan('outer', {}, () => a.publish('off.x', { n: 1 }));
  t.equal(await got, true);
});

t.test('withSpan: nesting, attributes, async ends, errors, a client traceparent', async (t) => {
  const { exporter } = await memoryTracing(t);
  t.equal(isTracing(), true);

  const value = withSpan('outer', { 'room.id': 'r1' }, () =>
    withSpan('inner', {}, () => trace.getActiveSpan()?.spanContext().spanId),
  );
  const spans = exporter.getFinishedSpans();
  const outer = byName(spans, 'outer');
  const inner = byName(spans, 'inner');
  t.equal(value, inner.spanContext().spanId, 'the span is active while fn runs');
  t.equal(parentOf(inner), outer.spanContext().spanId, 'inner is a child of outer');
  t.equal(outer.attributes['room.id'], 'r1');
  t.equal(outer.kind, SpanKind.INTERNAL);

  exporter.reset();
  let release!: () => void;
  const pending = withSpan(
    'async',
    {},
    () =>
      new Promise<string>((resolve) => {
        release = () => resolve('done');
      }),
    { kind: SpanKind.SERVER },
  );
  t.equal(exporter.getFinishedSpans().length, 0, 'not ended before the promise settles');
  release();
  t.equal(await pending, 'done');
  t.equal(byName(exporter.getFinishedSpans(), 'async').kind, SpanKind.SERVER);

  exporter.reset();
  await t.rejects(
    withSpan('rejects', {}, () => Promise.reject(new RoomcastError('ROOM_FULL'))),
    { code: 'ROOM_FULL' },
  );
  t.throws(() =>
    withSpan('throws', {}, () => {
      throw new Error('boom');
    }),
  );
  for (const name of ['rejects', 'throws']) {
    const s = byName(exporter.getFinishedSpans(), name);
    t.equal(s.status.code, SpanStatusCode.ERROR, `${name}: error status`);
    t.equal(s.events[0]?.name, 'exception', `${name}: exception recorded`);
  }
  t.equal(
    byName(exporter.getFinishedSpans(), 'rejects').attributes['roomcast.error.code'],
    'ROOM_FULL',
  );

  exporter.reset();
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  withSpan('frame', {}, () => undefined, { parent: `00-${traceId}-b7ad6b7169203331-01` });
  const frame = byName(exporter.getFinishedSpans(), 'frame');
  t.equal(frame.spanContext().traceId, traceId, 'continues the client trace');
  t.equal(parentOf(frame), 'b7ad6b7169203331');
});

t.test('one trace across NATS: producer → consumer, client → server', async (t) => {
  const { exporter } = await memoryTracing(t);
  const [a, b] = await buses(t);
  const handled = new Promise<void>((resolve) => {
    b.subscribe('room.r1.sig.p2', () => {
      withSpan('deliver', {}, () => undefined);
      resolve();
    });
  });
  b.subscribe('room.r1.cmd', (msg) => {
    withSpan('decide', {}, () => b.respond(msg, { ok: true }));
  });
  // A message sent outside any span starts no trace.
  b.subscribe('gw.g1.alive', () => withSpan('beacon-seen', {}, () => undefined));
  await b.flush();

  a.publish('gw.g1.alive', {});
  await withSpan('client frame', {}, async () => {
    a.publish('room.r1.sig.p2', { sdp: 'x' });
    await handled;
    t.same(await a.request('room.r1.cmd', { type: 'get' }), { ok: true });
  });
  await a.flush();

  const spans = exporter.getFinishedSpans();
  const root = byName(spans, 'client frame');
  const publish = byName(spans, 'publish room.*.sig.*');
  const consume = byName(spans, 'process room.*.sig.*');
  const deliver = byName(spans, 'deliver');
  const request = byName(spans, 'request room.*.cmd');
  const serve = byName(spans, 'process room.*.cmd');
  const decide = byName(spans, 'decide');
  const traced = spans.filter((s) => s.name !== 'beacon-seen');
  t.equal(new Set(traced.map((s) => s.spanContext().traceId)).size, 1, 'all in one trace');
  t.equal(publish.kind, SpanKind.PRODUCER);
  t.equal(consume.kind, SpanKind.CONSUMER);
  t.equal(request.kind, SpanKind.CLIENT);
  t.equal(serve.kind, SpanKind.SERVER);
  t.equal(parentOf(publish), root.spanContext().spanId);
  t.equal(parentOf(consume), publish.spanContext().spanId, 'consumer is a child of the producer');
  t.equal(parentOf(deliver), consume.spanContext().spanId);
  t.equal(parentOf(request), root.spanContext().spanId);
  t.equal(parentOf(serve), request.spanContext().spanId, 'server is a child of the client');
  t.equal(parentOf(decide), serve.spanContext().spanId);
  t.equal(publish.attributes['messaging.destination.name'], 'room.r1.sig.p2');
  t.equal(publish.attributes['messaging.system'], 'nats');
  t.notOk(
    spans.some((s) => s.name.includes('gw.') || s.name.includes('_INBOX')),
    'no messaging spans for an untraced beacon, nor for the reply',
  );
  t.equal(
    parentOf(byName(spans, 'beacon-seen')),
    undefined,
    'the beacon handler starts its own trace',
  );
});

t.test('a failed request marks its CLIENT span', async (t) => {
  const { exporter } = await memoryTracing(t);
  const [a] = await buses(t);
  await t.rejects(
    withSpan('op', {}, () => a.request('room.nobody.cmd', {}, 200)),
    { code: 'UNAVAILABLE' },
  );
  const request = byName(exporter.getFinishedSpans(), 'request room.*.cmd');
  t.equal(request.status.code, SpanStatusCode.ERROR);
});

t.test('shutdown flushes buffered spans', async (t) => {
  const exported: ReadableSpan[] = [];
  // InMemorySpanExporter forgets its spans on shutdown: keep them here.
  const exporter: SpanExporter = {
    export: (spans, done) => {
      exported.push(...spans);
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: () => Promise.resolve(),
  };
  const telemetry = await startTracing({
    service: 'test',
    version: '1',
    instance: 'i',
    // A long delay: only the shutdown flush can export the span in time.
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 60_000 })],
  });
  withSpan('last words', {}, () => undefined);
  t.equal(exported.length, 0, 'still buffered');
  await telemetry.shutdown();
  t.equal(isTracing(), false);
  t.same(
    exported.map((s) => s.name),
    ['last words'],
  );
});

t.test('setupTelemetry exports OTLP/HTTP to the configured endpoint', async (t) => {
  const requests: { url: string; body: Buffer; type: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        url: req.url ?? '',
        body: Buffer.concat(chunks),
        type: req.headers['content-type'] ?? '',
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  const telemetry = await setupTelemetry({
    service: 'stream',
    instance: 's1',
    config: telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/` }),
    log,
  });
  t.equal(telemetry.tracing, true);
  withSpan('on_publish hook', { 'srs.action': 'on_publish' }, () => undefined);
  await telemetry.shutdown();
  t.equal(requests.length, 1, 'one export on shutdown');
  t.equal(requests[0]?.url, '/v1/traces');
  const body = requests[0]?.body.toString('latin1') ?? '';
  t.match(body, 'on_publish hook', 'the span is in the body');
  t.match(body, 'stream', 'with the service name');
  t.match(body, packageVersion(), 'and version');
});

t.test('packageVersion reads package.json', async (t) => {
  t.match(packageVersion(), /^\d+\.\d+\.\d+/);
});
