import t from 'tap';
import { readFileSync } from 'node:fs';
import type { Msg } from '@nats-io/nats-core';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { loadConfig } from '#config/config.js';
import { Bus, decode } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import {
  ProcessSampler,
  closeReason,
  createMetrics,
  instrumentSpecs,
  metricEvents,
  startMetrics,
  type MetricEvent,
} from '#shared/runtime/metrics.js';
import { isSubjectToken } from '#shared/wire/subjects.js';
import { startNats } from '../../test/helpers/nats.js';

const log = createLogger('test', 'error');
const telemetry = (env: Record<string, string> = {}) =>
  loadConfig({ GATEWAY_METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', ...env }).telemetry;

t.test('the registry counts, sets and records by label', async (t) => {
  const m = createMetrics();
  m.framesIn.add(1, { type: 'offer' });
  m.framesIn.add(2, { type: 'offer' });
  m.framesIn.add(1, { type: 'join' });
  m.wsOpened.add(1);
  m.wsConnections.set(5);
  m.wsConnections.set(4);
  m.hookCalls.add(1, { action: 'on_publish', result: 'allowed', reason: 'none' });
  m.hookCalls.add(1, { action: 'on_publish', result: 'error', reason: 'UNAVAILABLE' });
  m.hookCalls.add(1, { action: 'on_publish', result: 'error', reason: 'UNAVAILABLE' });
  m.messageDuration.record(0.002, { type: 'join' });
  m.messageDuration.record(0.004, { type: 'join' });
  m.streamRecvBytes.set(10, { room: 'r1' });
  m.streamRecvBytes.reset();
  m.streamRecvBytes.set(20, { room: 'r2' });

  const byName = new Map(m.snapshot().map((s) => [s.spec.name, s.points]));
  t.same(byName.get('ws_frames_in'), [
    { attrs: { type: 'offer' }, value: 3 },
    { attrs: { type: 'join' }, value: 1 },
  ]);
  t.same(byName.get('ws_connections_opened'), [{ attrs: {}, value: 1 }]);
  t.same(byName.get('ws_connections'), [{ attrs: {}, value: 4 }], 'a gauge keeps the last value');
  t.same(byName.get('srs_hook_calls'), [
    { attrs: { action: 'on_publish', result: 'allowed', reason: 'none' }, value: 1 },
    { attrs: { action: 'on_publish', result: 'error', reason: 'UNAVAILABLE' }, value: 2 },
  ]);
  const [lat] = byName.get('message_duration_seconds') ?? [];
  t.equal(lat?.count, 2);
  t.ok(Math.abs((lat?.value ?? 0) - 0.006) < 1e-12, 'histogram sum');
  t.same(
    byName.get('srs_stream_recv_bytes'),
    [{ attrs: { room: 'r2' }, value: 20 }],
    'reset forgets',
  );
  t.notOk(byName.has('rooms'), 'an instrument never recorded is not reported');

  const events = metricEvents(m, 'gateway', 'g1', 1000);
  t.ok(events.every((e) => e.service === 'gateway' && e.instance === 'g1'));
  t.same(
    events.find((e) => e.name === 'ws_connections'),
    {
      v: 1,
      type: 'metric_sampled',
      service: 'gateway',
      instance: 'g1',
      name: 'ws_connections',
      kind: 'gauge',
      at: 1000,
      points: [{ attrs: {}, value: 4 }],
    },
  );
});

t.test('histogram buckets: bounds are inclusive, the last bucket is +Inf', async (t) => {
  const m = createMetrics();
  m.messageDuration.record(0.0025, { type: 'join' });
  m.messageDuration.record(0.003, { type: 'join' });
  m.messageDuration.record(10, { type: 'join' });
  const [h] = m.histograms();
  const data = h?.toMetricData([0, 0], [1, 0], {
    dataPointType: DataPointType.HISTOGRAM,
    cumulative: AggregationTemporality.CUMULATIVE,
  });
  const point = data?.dataPoints[0];
  const bounds = instrumentSpecs.messageDuration.buckets;
  const counts = point?.value.buckets.counts ?? [];
  t.equal(data?.descriptor.name, 'roomcast_message_duration_seconds');
  t.same(point?.value.buckets.boundaries, bounds);
  t.equal(counts.length, bounds.length + 1);
  t.equal(counts[bounds.indexOf(0.0025)], 1, '0.0025 is in the bucket it bounds');
  t.equal(counts[bounds.indexOf(0.005)], 1, '0.003 in the next');
  t.equal(counts[bounds.length], 1, '10 s in +Inf');
  t.match(point?.value, { count: 3, min: 0.0025, max: 10 });
});

t.test('every instrument name is a subject token (metric.<service>.<name>)', async (t) => {
  for (const spec of Object.values(instrumentSpecs)) t.ok(isSubjectToken(spec.name), spec.name);
});

t.test('close codes map to a closed set of reasons', async (t) => {
  const cases: [number, string][] = [
    [1000, 'normal'],
    [1001, 'going_away'],
    [1005, 'normal'],
    [1006, 'dropped'],
    [1009, 'too_large'],
    [4401, 'auth_failed'],
    [4408, 'timeout'],
    [4413, 'slow_consumer'],
    [4429, 'rate_limited'],
    [4999, 'other'],
  ];
  for (const [code, reason] of cases) t.equal(closeReason(code), reason, String(code));
});

t.test('the process sampler reports lag, memory and CPU', async (t) => {
  const m = createMetrics();
  const sampler = new ProcessSampler(m, 10);
  t.teardown(() => sampler.stop());
  const until = Date.now() + 30;
  while (Date.now() < until) {
    // keep a core busy a little so CPU time moves
  }
  await new Promise((r) => setTimeout(r, 30));
  sampler.sample();
  const byName = new Map(m.snapshot().map((s) => [s.spec.name, s.points]));
  t.ok((byName.get('process_resident_memory_bytes')?.[0]?.value ?? 0) > 1e6, 'rss');
  t.ok((byName.get('process_heap_used_bytes')?.[0]?.value ?? 0) > 0, 'heap');
  t.ok((byName.get('process_cpu_seconds')?.[0]?.value ?? 0) > 0, 'cpu seconds');
  t.ok((byName.get('process_cpu_utilization_ratio')?.[0]?.value ?? -1) >= 0, 'cpu ratio');
  t.same(
    byName
      .get('event_loop_lag_seconds')
      ?.map((p) => p.attrs.stat)
      .sort(),
    ['max', 'p50', 'p99'],
  );
  t.ok(
    byName.get('event_loop_lag_seconds')?.every((p) => Number.isFinite(p.value) && p.value >= 0),
    'lag figures are finite',
  );
});

t.test('/metrics serves Prometheus text; tick publishes metric events', async (t) => {
  const nats = await startNats();
  const connect = (name: string) =>
    Bus.connect({ ...nats.connectOptions(), name, requestTimeoutMs: 2000, log });
  const [bus, watcher] = await Promise.all([connect('gw'), connect('watcher')]);
  t.teardown(async () => {
    await Promise.all([bus.close(), watcher.close()]);
    await nats.stop();
  });
  const handle = await startMetrics({
    service: 'gateway',
    instance: 'g1',
    version: '9.9.9',
    config: telemetry(),
    log,
    bus,
    timers: false,
    now: () => 1234,
    onSample: (m) => m.rooms.set(7, { status: 'live' }),
  });
  t.teardown(() => handle.close());
  const m = handle.metrics;
  m.wsConnections.set(2);
  m.framesIn.add(3, { type: 'offer' });
  m.wsClosed.add(1, { reason: closeReason(4429) });
  m.messageDuration.record(0.003, { type: 'join' });
  m.streamRecvBytes.set(5, { room: 'r1' });

  t.type(handle.port, 'number');
  const res = await fetch(`http://127.0.0.1:${handle.port}/metrics`);
  t.equal(res.status, 200);
  const text = await res.text();
  const lines = text.split('\n');
  const has = (line: string) => t.ok(lines.includes(line), line);
  has('# TYPE roomcast_ws_frames_in_total counter');
  has('roomcast_ws_frames_in_total{type="offer",service_name="gateway"} 3');
  has('roomcast_ws_connections{service_name="gateway"} 2');
  has('roomcast_ws_connections_closed_total{reason="rate_limited",service_name="gateway"} 1');
  has('# TYPE roomcast_message_duration_seconds histogram');
  has('roomcast_message_duration_seconds_bucket{type="join",service_name="gateway",le="0.0025"} 0');
  has('roomcast_message_duration_seconds_bucket{type="join",service_name="gateway",le="0.005"} 1');
  has('roomcast_message_duration_seconds_count{type="join",service_name="gateway"} 1');
  t.match(text, /^roomcast_process_resident_memory_bytes\{service_name="gateway"\} \d+/m);
  t.match(text, /^roomcast_event_loop_lag_seconds\{stat="p99",service_name="gateway"\} /m);
  t.notMatch(text, 'srs_stream_recv_bytes', 'per-room series stay out of Prometheus');
  t.equal((await fetch(`http://127.0.0.1:${handle.port}/other`)).status, 404);

  const seen: MetricEvent[] = [];
  const got = new Promise<void>((resolve) => {
    watcher.subscribe('metric.gateway.>', (msg: Msg) => {
      const e = decode<MetricEvent>(msg.data);
      t.equal(msg.subject, `metric.gateway.${e.name}`);
      seen.push(e);
      // A tick's events may come in more than one read: wait for the last kinds asserted.
      const names = new Set(seen.map((x) => x.name));
      if (names.has('srs_stream_recv_bytes') && names.has('process_resident_memory_bytes'))
        resolve();
    });
  });
  await watcher.flush();
  handle.tick();
  await got;
  const frames = seen.find((e) => e.name === 'ws_frames_in');
  t.same(frames?.points, [{ attrs: { type: 'offer' }, value: 3 }]);
  t.equal(frames?.at, 1234);
  t.equal(frames?.kind, 'counter');
  t.ok(
    seen.some((e) => e.name === 'process_resident_memory_bytes'),
    'process figures too',
  );
  t.same(
    seen.find((e) => e.name === 'rooms')?.points,
    [{ attrs: { status: 'live' }, value: 7 }],
    'gauges set by onSample before the sample',
  );
  t.same(seen.find((e) => e.name === 'srs_stream_recv_bytes')?.points, [
    { attrs: { room: 'r1' }, value: 5 },
  ]);
});

t.test('METRICS_ENABLED=false serves no endpoint', async (t) => {
  const handle = await startMetrics({
    service: 'room',
    instance: 'r1',
    version: '1',
    config: telemetry({ METRICS_ENABLED: 'false' }),
    log,
    timers: false,
  });
  t.equal(handle.port, undefined);
  handle.metrics.rooms.set(1, { status: 'live' });
  handle.tick();
  await handle.close();
});

t.test('the Grafana dashboard queries only metrics the registry exports', async (t) => {
  const file = new URL('../../observability/grafana/dashboards/roomcast.json', import.meta.url);
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
    panels: { title: string; targets?: { expr: string; datasource: { uid: string } }[] }[];
  };
  const exported = new Set<string>();
  for (const spec of Object.values(instrumentSpecs)) {
    if ('prometheus' in spec) continue;
    const name = `roomcast_${spec.name}`;
    if (spec.kind === 'counter') exported.add(`${name}_total`);
    else if (spec.kind === 'gauge') exported.add(name);
    else for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
  }
  const used = new Set<string>();
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      t.equal(target.datasource.uid, 'prometheus', panel.title);
      for (const m of target.expr.matchAll(/\broomcast_[a-z_]+/g)) used.add(m[0]);
    }
  }
  for (const name of used) t.ok(exported.has(name), `${name} is exported`);
  // The alert rule's input; the dashboard takes the rate of process_cpu_seconds instead.
  const notCharted = new Set(['roomcast_process_cpu_utilization_ratio']);
  const unused = [...exported].filter(
    (n) => !used.has(n) && !notCharted.has(n) && !n.endsWith('_sum') && !n.endsWith('_count'),
  );
  t.same(unused, [], 'every exported metric has a panel');
});
