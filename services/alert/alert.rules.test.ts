import t from 'tap';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '#config/config.js';
import type { MetricEvent, MetricPoint, ServiceName } from '#shared/runtime/metrics.js';
import type { AlertEvent } from '#shared/wire/alert.events.js';
import type { RoomEvent, RoomEventBatch } from '#shared/room/room.events.js';
import { AlertEngine, engineOptions } from './alert.engine.js';
import { idleTracker, step, type Tracker } from './alert.hysteresis.js';
import { rulesFromConfig, type Rule } from './alert.rules.js';

const rule: Rule = {
  id: 'gateway_connections',
  severity: 'warning',
  threshold: 100,
  clearAt: 90,
  forMs: 1000,
  clearForMs: 2000,
  unit: '',
};

/** Runs samples `[time, value | null]` through `step`; the changes as `[time, type]`. */
function run(samples: [number, number | null][], r: Rule = rule): [number, string][] {
  let tracker: Tracker = idleTracker;
  const out: [number, string][] = [];
  for (const [now, value] of samples) {
    const res = step(r, 'g1', tracker, value === null ? undefined : { value }, now);
    tracker = res.tracker;
    if (res.event) out.push([now, res.event.type]);
  }
  return out;
}

t.test(
  'step: threshold, window and hysteresis (threshold 100, clear 90, for 1 s, clear 2 s)',
  async (t) => {
    const cases: { name: string; samples: [number, number | null][]; want: [number, string][] }[] =
      [
        {
          name: 'stays below',
          samples: [
            [0, 50],
            [1000, 99],
            [5000, 100],
          ],
          want: [],
        },
        {
          name: 'above for the whole window is raised once',
          samples: [
            [0, 150],
            [500, 150],
            [1000, 150],
            [1500, 200],
            [9000, 101],
          ],
          want: [[1000, 'alert_raised']],
        },
        {
          name: 'a dip under the threshold restarts the window',
          samples: [
            [0, 150],
            [900, 100],
            [1000, 150],
            [1900, 150],
            [2000, 150],
          ],
          want: [[2000, 'alert_raised']],
        },
        {
          name: 'inside the band a raised alert stays raised',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 95],
            [5000, 91],
            [9000, 100],
          ],
          want: [[1000, 'alert_raised']],
        },
        {
          name: 'at or under the clear level for the clear window resolves once',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 90],
            [3000, 10],
            [4000, 10],
            [8000, 0],
          ],
          want: [
            [1000, 'alert_raised'],
            [4000, 'alert_resolved'],
          ],
        },
        {
          name: 'back over the clear level restarts the clear window',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 80],
            [3500, 95],
            [4000, 80],
            [5999, 80],
            [6000, 80],
          ],
          want: [
            [1000, 'alert_raised'],
            [6000, 'alert_resolved'],
          ],
        },
        {
          name: 'no data counts as clear',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, null],
            [4000, null],
          ],
          want: [
            [1000, 'alert_raised'],
            [4000, 'alert_resolved'],
          ],
        },
        {
          name: 'raised again after a resolve',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 0],
            [4000, 0],
            [5000, 150],
            [6000, 150],
          ],
          want: [
            [1000, 'alert_raised'],
            [4000, 'alert_resolved'],
            [6000, 'alert_raised'],
          ],
        },
      ];
    for (const c of cases) t.same(run(c.samples), c.want, c.name);
    t.same(run([[0, 101]], { ...rule, forMs: 0 }), [[0, 'alert_raised']], 'for 0 raises at once');
    t.same(
      run(
        [
          [0, 100],
          [5000, 100],
        ],
        { ...rule, forMs: 0 },
      ),
      [],
      'equal to the threshold is not over it',
    );
  },
);

t.test('step: the alert keeps its id and says what is wrong', async (t) => {
  let tracker: Tracker = idleTracker;
  const events: AlertEvent[] = [];
  for (const [now, value] of [
    [0, 150],
    [1000, 150.456],
    [2000, 0],
    [4000, 0],
  ] as const) {
    const r = step(rule, 'gw-7', tracker, { value }, now);
    tracker = r.tracker;
    if (r.event) events.push(r.event);
  }
  const [raised, resolved] = events;
  t.equal(raised?.alert.id, 'gateway_connections:gw-7:1000');
  t.equal(resolved?.alert.id, raised?.alert.id);
  t.match(raised?.alert, {
    rule: 'gateway_connections',
    severity: 'warning',
    key: 'gw-7',
    state: 'raised',
    raisedAt: 1000,
    resolvedAt: null,
    value: 150.46,
    threshold: 100,
    summary: 'gateway gw-7: 150.46 WebSocket connections (limit 100)',
  });
  t.match(resolved?.alert, { state: 'resolved', raisedAt: 1000, resolvedAt: 4000 });
});

// ---- properties ----

const ruleArb = fc
  .record({
    threshold: fc.integer({ min: -1000, max: 1000 }),
    band: fc.integer({ min: 0, max: 500 }),
    forMs: fc.integer({ min: 0, max: 5000 }),
    clearForMs: fc.integer({ min: 0, max: 5000 }),
  })
  .map((r): Rule => ({
    ...rule,
    threshold: r.threshold,
    clearAt: r.threshold - r.band,
    forMs: r.forMs,
    clearForMs: r.clearForMs,
  }));
const samplesArb = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 3000 }),
    fc.option(fc.double({ min: -2000, max: 2000, noNaN: true }), { nil: null }),
  ),
  { maxLength: 200 },
);
/** Samples with increasing times from gaps. */
const timed = (gaps: [number, number | null][], start = 0): [number, number | null][] => {
  let now = start;
  return gaps.map(([dt, v]) => [(now += dt), v]);
};

t.test('property: for any samples, raised and resolved strictly alternate', async () => {
  fc.assert(
    fc.property(ruleArb, samplesArb, (r, gaps) => {
      const changes = run(timed(gaps), r);
      changes.forEach(([, type], i) => {
        if (type !== (i % 2 === 0 ? 'alert_raised' : 'alert_resolved'))
          throw new Error(`change ${i} is ${type}`);
      });
    }),
  );
});

t.test('property: a value flapping inside the hysteresis band adds no alert', async () => {
  fc.assert(
    fc.property(
      ruleArb.filter((r) => r.clearAt < r.threshold),
      samplesArb,
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.double({ min: 0, max: 1, noNaN: true })),
        {
          minLength: 1,
          maxLength: 100,
        },
      ),
      (r, prefix, flapping) => {
        const head = timed(prefix);
        const start = head.length === 0 ? 0 : (head[head.length - 1]?.[0] ?? 0);
        // Inside the band: over the clear level, at most the threshold.
        const band = flapping.map(([dt, f]): [number, number] => [
          dt,
          Math.max(r.clearAt + (r.threshold - r.clearAt) * f, r.clearAt + 1e-9),
        ]);
        const before = run(head, r).length;
        const after = run([...head, ...timed(band, start)], r).length;
        if (after !== before) throw new Error(`${after - before} alerts from in-band values`);
      },
    ),
  );
});

t.test(
  'property: a value crossing the threshold faster than the window is never raised',
  async () => {
    fc.assert(
      fc.property(
        ruleArb.filter((r) => r.forMs > 1),
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }),
        (r, raw) => {
          // Each sample over the threshold is followed by one at or under it sooner than forMs.
          const samples: [number, number][] = [];
          let now = 0;
          raw.forEach((g, i) => {
            now += i % 2 === 0 ? g : Math.min(g, r.forMs - 1);
            samples.push([now, i % 2 === 0 ? r.threshold + 1 + g : r.threshold]);
          });
          if (run(samples, r).length !== 0) throw new Error('raised by a flapping value');
        },
      ),
    );
  },
);

// ---- the engine ----

const config = (env: Record<string, string> = {}) =>
  loadConfig({
    ALERT_FOR_MS: '1000',
    ALERT_CLEAR_FOR_MS: '2000',
    ALERT_HYSTERESIS_PERCENT: '10',
    ALERT_METRIC_STALE_MS: '10000',
    ALERT_STREAM_FAILED_FOR_MS: '1000',
    ALERT_SRS_UNREACHABLE_FOR_MS: '1000',
    ALERT_HOOK_ERROR_WINDOW_MS: '10000',
    ALERT_HOOK_MIN_CALLS: '10',
    ...env,
  }).alert;
const engine = (env: Record<string, string> = {}) =>
  new AlertEngine(rulesFromConfig(config(env)), engineOptions(config(env)));

const metric = (
  service: ServiceName,
  instance: string,
  name: string,
  points: MetricPoint[],
  kind: MetricEvent['kind'] = 'gauge',
): MetricEvent => ({ v: 1, type: 'metric_sampled', service, instance, name, kind, at: 0, points });
/** srs_hook_calls of stream service s1: running totals of allowed and failed calls. */
const hooks = (allowed: number, errors: number) =>
  metric('stream', 's1', 'srs_hook_calls', [
    { attrs: { action: 'on_publish', result: 'allowed' }, value: allowed },
    { attrs: { action: 'on_publish', result: 'error' }, value: errors },
  ]);
const one = (value: number, attrs: Record<string, string> = {}): MetricPoint[] => [
  { attrs, value },
];
const changes = (events: AlertEvent[]) =>
  events.map((e) => `${e.type === 'alert_raised' ? '+' : '-'}${e.alert.rule}:${e.alert.key}`);

interface Scenario {
  name: string;
  env?: Record<string, string>;
  /** At each time: metric events in, then evaluate; the changes wanted then. */
  steps: { at: number; metrics: MetricEvent[]; want: string[] }[];
}

const scenarios: Scenario[] = [
  {
    name: 'connections over the limit of one gateway and in total',
    env: { ALERT_GATEWAY_CONNECTIONS_MAX: '100', ALERT_CONNECTIONS_TOTAL_MAX: '150' },
    steps: [
      {
        at: 0,
        metrics: [
          metric('gateway', 'g1', 'ws_connections', one(120)),
          metric('gateway', 'g2', 'ws_connections', one(40)),
        ],
        want: [],
      },
      {
        at: 1000,
        metrics: [
          metric('gateway', 'g1', 'ws_connections', one(120)),
          metric('gateway', 'g2', 'ws_connections', one(40)),
        ],
        want: ['+gateway_connections:g1', '+connections_total:all'],
      },
      {
        at: 2000,
        // 95 is inside g1's band (90, 100]; 95 + 40 = 135 is under the total's clear level.
        metrics: [
          metric('gateway', 'g1', 'ws_connections', one(95)),
          metric('gateway', 'g2', 'ws_connections', one(40)),
        ],
        want: [],
      },
      {
        at: 4000,
        metrics: [
          metric('gateway', 'g1', 'ws_connections', one(95)),
          metric('gateway', 'g2', 'ws_connections', one(40)),
        ],
        want: ['-connections_total:all'],
      },
      {
        at: 5000,
        metrics: [metric('gateway', 'g1', 'ws_connections', one(80))],
        want: [],
      },
      {
        at: 7000,
        metrics: [metric('gateway', 'g1', 'ws_connections', one(80))],
        want: ['-gateway_connections:g1'],
      },
    ],
  },
  {
    name: 'rooms not ended and members over their limits',
    env: { ALERT_ROOMS_MAX: '10', ALERT_MEMBERS_MAX: '100' },
    steps: [
      {
        at: 0,
        metrics: [
          metric('room', 'r1', 'rooms', [
            { attrs: { status: 'live' }, value: 6 },
            { attrs: { status: 'preparing' }, value: 6 },
            { attrs: { status: 'ended' }, value: 500 },
          ]),
          metric('room', 'r1', 'room_members', [
            { attrs: { role: 'viewer' }, value: 90 },
            { attrs: { role: 'publisher' }, value: 5 },
          ]),
          metric('room', 'r2', 'room_members', one(10, { role: 'viewer' })),
        ],
        want: [],
      },
      { at: 1000, metrics: [], want: ['+rooms_total:all', '+members_total:all'] },
    ],
  },
  {
    name: 'SRS unreachable from one stream service',
    steps: [
      { at: 0, metrics: [metric('stream', 's1', 'srs_up', one(0))], want: [] },
      {
        at: 1000,
        metrics: [metric('stream', 's1', 'srs_up', one(0))],
        want: ['+srs_unreachable:s1'],
      },
      { at: 2000, metrics: [metric('stream', 's1', 'srs_up', one(1))], want: [] },
      {
        at: 4000,
        metrics: [metric('stream', 's1', 'srs_up', one(1))],
        want: ['-srs_unreachable:s1'],
      },
    ],
  },
  {
    name: 'hook error rate over the window, and too few calls to tell',
    env: { ALERT_HOOK_ERROR_PERCENT: '10' },
    steps: [
      {
        at: 0,
        metrics: [hooks(100, 0)],
        want: [],
      },
      {
        // 5 errors in 5 calls: under ALERT_HOOK_MIN_CALLS, no rate.
        at: 1000,
        metrics: [hooks(100, 5)],
        want: [],
      },
      {
        // 20 errors of 40 calls since t=0.
        at: 2000,
        metrics: [hooks(120, 20)],
        want: [],
      },
      { at: 3000, metrics: [], want: ['+hook_errors:all'] },
      {
        // The window (10 s) has moved past the errors: 1000 good calls since.
        at: 13_000,
        metrics: [hooks(1120, 20)],
        want: [],
      },
      {
        at: 15_000,
        metrics: [hooks(1130, 20)],
        want: ['-hook_errors:all'],
      },
    ],
  },
  {
    name: 'memory, CPU and event-loop lag per process; a process gone stale resolves',
    env: { ALERT_MEMORY_MB: '100', ALERT_CPU_PERCENT: '80', ALERT_EVENT_LOOP_LAG_MS: '50' },
    steps: [
      {
        at: 0,
        metrics: [
          metric('room', 'r1', 'process_resident_memory_bytes', one(200 * 1024 * 1024)),
          metric('gateway', 'g1', 'process_cpu_utilization_ratio', one(0.95)),
          metric('gateway', 'g1', 'event_loop_lag_seconds', [
            { attrs: { stat: 'p50' }, value: 0.001 },
            { attrs: { stat: 'p99' }, value: 0.2 },
            { attrs: { stat: 'max' }, value: 0.5 },
          ]),
          metric('stream', 's1', 'process_resident_memory_bytes', one(50 * 1024 * 1024)),
        ],
        want: [],
      },
      {
        at: 1000,
        metrics: [],
        want: ['+memory:room/r1', '+cpu:gateway/g1', '+event_loop_lag:gateway/g1'],
      },
      { at: 11_001, metrics: [], want: [] },
      {
        at: 13_001,
        metrics: [],
        want: ['-memory:room/r1', '-cpu:gateway/g1', '-event_loop_lag:gateway/g1'],
      },
    ],
  },
  {
    name: 'disabled rules are not evaluated',
    env: { ALERT_RULES_DISABLED: 'cpu,memory', ALERT_CPU_PERCENT: '1', ALERT_MEMORY_MB: '1' },
    steps: [
      {
        at: 0,
        metrics: [
          metric('room', 'r1', 'process_cpu_utilization_ratio', one(0.9)),
          metric('room', 'r1', 'process_resident_memory_bytes', one(1e9)),
        ],
        want: [],
      },
      { at: 5000, metrics: [], want: [] },
    ],
  },
];

t.test('engine rules, table-driven with fake time', async (t) => {
  for (const s of scenarios) {
    t.test(s.name, async (t) => {
      const e = engine(s.env);
      for (const st of s.steps) {
        for (const m of st.metrics) e.observeMetric(m, st.at);
        t.same(changes(e.evaluate(st.at)), st.want, `at ${st.at}`);
      }
    });
  }
});

// ---- rooms and streams ----

let seq = 0;
const batches = new Map<string, number>();
function batch(roomId: string, ...events: RoomEvent[]): RoomEventBatch {
  const s = (batches.get(roomId) ?? 0) + 1;
  batches.set(roomId, s + events.length - 1);
  return { v: 1, roomId, seq: s, events };
}
const ev = {
  created: (roomId: string): RoomEvent => ({
    v: 1,
    at: ++seq,
    type: 'room_created',
    roomId,
    ownerId: 'alice',
    settings: { title: roomId, isPrivate: false, maxViewers: 10 },
    streamKey: 'k',
  }),
  granted: (kind: 'peer' | 'stream'): RoomEvent => ({
    v: 1,
    at: ++seq,
    type: 'publisher_granted',
    publisher:
      kind === 'peer'
        ? { kind, peerId: 'p1', userId: 'alice' }
        : { kind, clientId: 'c1', userId: 'alice' },
  }),
  released: (): RoomEvent => ({
    v: 1,
    at: ++seq,
    type: 'publisher_released',
    publisher: { kind: 'stream', clientId: 'c1', userId: 'alice' },
  }),
  status: (from: 'preparing' | 'live', to: 'live' | 'ended'): RoomEvent => ({
    v: 1,
    at: ++seq,
    type: 'status_changed',
    from,
    to,
    by: 'alice',
  }),
};
const frames = (rooms: Record<string, number>) =>
  metric(
    'stream',
    's1',
    'srs_stream_recv_bytes',
    Object.entries(rooms).map(([room, value]) => ({ attrs: { room }, value })),
  );

t.test(
  'stream_failed: publisher gone, not on SRS, no media; resolved when healthy or ended',
  async (t) => {
    const e = engine();
    let now = 0;
    const at = (ms: number, ...ms_: MetricEvent[]) => {
      now = ms;
      for (const m of ms_) e.observeMetric(m, now);
      return changes(e.evaluate(now));
    };
    t.ok(e.applyRoomBatch(batch('r1', ev.created('r1')), now));
    t.ok(e.applyRoomBatch(batch('r1', ev.granted('stream'), ev.status('preparing', 'live')), now));
    t.ok(e.applyRoomBatch(batch('r2', ev.created('r2'), ev.granted('peer')), now));
    t.ok(e.applyRoomBatch(batch('r2', ev.status('preparing', 'live')), now));
    t.ok(e.applyRoomBatch(batch('r3', ev.created('r3')), now), 'r3 stays preparing: never checked');

    t.same(at(0, frames({ r1: 10 })), []);
    t.same(at(1000, frames({ r1: 40 })), [], 'frames moving: healthy');
    t.same(at(2000, frames({ r1: 40 })), [], 'no frames for one poll: pending');
    t.same(at(3000, frames({ r1: 40 })), ['+stream_failed:r1']);
    t.equal(e.active()[0]?.reason, 'no_media');
    t.match(e.active()[0]?.summary, 'no media arrives');
    t.same(at(4000, frames({ r1: 70 })), [], 'moving again: clear pending');
    t.same(at(6000, frames({ r1: 100 })), ['-stream_failed:r1']);

    t.same(at(7000, frames({})), [], 'SRS dropped the stream');
    t.same(at(8000, frames({})), ['+stream_failed:r1']);
    t.equal(e.active()[0]?.reason, 'not_on_srs');

    t.ok(e.applyRoomBatch(batch('r2', ev.released()), now));
    t.same(at(9000), [], 'peer publisher of r2 gone: pending');
    t.same(at(10_000), ['+stream_failed:r2']);
    t.equal(e.active().find((a) => a.key === 'r2')?.reason, 'publisher_gone');

    t.ok(e.applyRoomBatch(batch('r1', ev.status('live', 'ended')), now));
    t.ok(e.applyRoomBatch(batch('r2', ev.status('live', 'ended')), now));
    t.same(at(11_000), []);
    t.same(at(13_000), ['-stream_failed:r1', '-stream_failed:r2'], 'ended rooms resolve');
    t.same(
      e.snapshot().rooms.map(([id]) => id),
      ['r3'],
      'ended rooms are forgotten',
    );
  },
);

t.test('room batches apply once: a redelivery changes nothing', async (t) => {
  const e = engine();
  const created = batch('r9', ev.created('r9'));
  const live = batch('r9', ev.granted('peer'), ev.status('preparing', 'live'));
  const released = batch('r9', ev.released());
  t.ok(e.applyRoomBatch(created, 0));
  t.ok(e.applyRoomBatch(live, 0));
  t.ok(e.applyRoomBatch(released, 0));
  const snap = JSON.stringify(e.snapshot());
  t.notOk(e.applyRoomBatch(live, 0), 'an older batch again is a duplicate');
  t.notOk(e.applyRoomBatch(released, 0), 'the same batch again is a duplicate');
  t.equal(JSON.stringify(e.snapshot()), snap, 'state unchanged');
  const ended = batch('r9', ev.status('live', 'ended'));
  t.ok(e.applyRoomBatch(ended, 0));
  t.notOk(e.applyRoomBatch(created, 1), 'a batch of an ended room, delivered again');
  t.same(e.snapshot().rooms, [], 'does not bring the room back');
  e.evaluate(4 * config().ackWaitMs + 1);
  t.same(e.snapshot().ended, [], 'tombstones are let go after a while');
});

t.test('snapshot and restore: raised alerts survive, no second raise', async (t) => {
  const env = { ALERT_CPU_PERCENT: '50' };
  const a = engine(env);
  a.applyRoomBatch(batch('r5', ev.created('r5'), ev.granted('peer')), 0);
  a.observeMetric(metric('room', 'r1', 'process_cpu_utilization_ratio', one(0.9)), 0);
  a.evaluate(0);
  t.same(changes(a.evaluate(1000)), ['+cpu:room/r1']);
  const saved = JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<AlertEngine['snapshot']>;

  const b = engine(env);
  b.restore(saved);
  t.same(b.active(), a.active(), 'the same alerts are raised');
  t.same(b.snapshot().rooms, [['r5', 'preparing', 'peer', 2]]);
  b.observeMetric(metric('room', 'r1', 'process_cpu_utilization_ratio', one(0.9)), 5000);
  t.same(changes(b.evaluate(5000)), [], 'still over: not raised again');
  b.observeMetric(metric('room', 'r1', 'process_cpu_utilization_ratio', one(0.1)), 6000);
  b.evaluate(6000);
  const resolved = b.evaluate(8000);
  t.same(changes(resolved), ['-cpu:room/r1']);
  t.equal(resolved[0]?.alert.id, a.active()[0]?.id, 'resolves the alert raised before the restart');

  const c = engine({ ALERT_RULES_DISABLED: 'cpu' });
  c.restore(saved);
  t.same(changes(c.evaluate(9000)), ['-cpu:room/r1'], 'a rule disabled since is resolved');
  t.same(changes(c.evaluate(9001)), []);
});

t.test('rulesFromConfig: clear levels and unknown disabled rules', async (t) => {
  const rules = rulesFromConfig(
    config({ ALERT_CPU_PERCENT: '80', ALERT_HYSTERESIS_PERCENT: '25' }),
  );
  t.match(
    rules.find((r) => r.id === 'cpu'),
    { threshold: 80, clearAt: 60, forMs: 1000, clearForMs: 2000 },
  );
  t.match(
    rules.find((r) => r.id === 'stream_failed'),
    { threshold: 0, clearAt: 0, severity: 'critical' },
  );
  t.equal(rules.length, 10);
  t.throws(() => rulesFromConfig(config({ ALERT_RULES_DISABLED: 'cpu,nope' })), ConfigError);
});

t.test(
  'property: the engine never raises twice without a resolve, for any gauge samples',
  async () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 4000 }),
            gateway: fc.constantFrom('g1', 'g2', 'g3'),
            connections: fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }),
          }),
          { maxLength: 150 },
        ),
        (samples) => {
          const e = engine({
            ALERT_GATEWAY_CONNECTIONS_MAX: '100',
            ALERT_CONNECTIONS_TOTAL_MAX: '250',
          });
          const raised = new Map<string, boolean>();
          let now = 0;
          for (const s of samples) {
            now += s.dt;
            if (s.connections !== null)
              e.observeMetric(
                metric('gateway', s.gateway, 'ws_connections', one(s.connections)),
                now,
              );
            for (const change of e.evaluate(now)) {
              const key = `${change.alert.rule}:${change.alert.key}`;
              const up = change.type === 'alert_raised';
              if ((raised.get(key) ?? false) === up)
                throw new Error(`${change.type} twice for ${key}`);
              raised.set(key, up);
            }
          }
        },
      ),
    );
  },
);
