/** The rule engine with fake time: metric events and room batches in, alert events out. */
import t from 'tap';
import fc from 'fast-check';
import { loadConfig } from '#config/config.js';
import type { MetricEvent, MetricPoint, ServiceName } from '#shared/runtime/metrics.js';
import type { AlertEvent } from '#shared/wire/alert.events.js';
import type { RoomEvent, RoomEventBatch } from '#shared/room/room.events.js';
import { AlertEngine, engineOptions } from './alert.engine.js';
import { rulesFromConfig } from './alert.rules.js';

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
/** What stream service s1 reports of SRS: its last poll (srs_up) and its verdict (srs_down). */
const srs = (up: number, down: number) => [
  metric('stream', 's1', 'srs_up', one(up)),
  metric('stream', 's1', 'srs_down', one(down)),
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
    // The stream service's verdict (after STREAM_SRS_DOWN_AFTER_MS): with the default
    // ALERT_SRS_UNREACHABLE_FOR_MS of 0 the alert is raised when it says so, not later;
    // failed polls before the verdict (srs_up 0) raise nothing.
    name: 'SRS down, as the stream service reports it',
    env: { ALERT_SRS_UNREACHABLE_FOR_MS: '0' },
    steps: [
      { at: 0, metrics: srs(0, 0), want: [] },
      { at: 5000, metrics: srs(0, 1), want: ['+srs_unreachable:s1'] },
      { at: 6000, metrics: srs(1, 0), want: [] },
      { at: 8000, metrics: [], want: ['-srs_unreachable:s1'] },
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
