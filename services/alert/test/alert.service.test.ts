import t, { type Test } from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { loadConfig, type Config } from '#config/config.js';
import type { AlertEvent, AlertsReply } from '#shared/wire/alert.events.js';
import { Bus, decode, encode } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import type { MetricEvent } from '#shared/runtime/metrics.js';
import { batchMsgId, type RoomEvent, type RoomEventBatch } from '#shared/room/room.events.js';
import { streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { startNats, type NatsServer } from '../../../test/helpers/nats.js';
import { AlertService, ROOM_EVENTS_CONSUMER, type AlertServiceOptions } from '../alert.service.js';
import { postAlert, signBody, type WebhookOptions } from '../alert.webhook.js';

const log = createLogger('test', 'error');

const baseEnv = {
  ALERT_FOR_MS: '1000',
  ALERT_CLEAR_FOR_MS: '1000',
  ALERT_STREAM_FAILED_FOR_MS: '1000',
  ALERT_GATEWAY_CONNECTIONS_MAX: '10',
  ALERT_METRIC_STALE_MS: '600000',
};

interface Harness {
  nats: NatsServer;
  config: Config;
  /** The test's own connection: publishes metrics and room events, reads streams. */
  bus: Bus;
  jsm: JetStreamManager;
  clock: { now: number };
  /** Starts an alert service (a new one after `stop`), torn down with the test. */
  start(extra?: Pick<AlertServiceOptions, 'onDeposed'>): Promise<AlertService>;
  /** Stops a service and closes its connection, as its main.ts does on SIGTERM. */
  stop(svc: AlertService): Promise<void>;
  metric(instance: string, name: string, value: number, attrs?: Record<string, string>): void;
  /**
   * Publishes a sample (unless `name` is undefined) and evaluates, then does it
   * again one window (1 s of fake time) later: the changes of the second evaluation.
   */
  hold(
    svc: AlertService,
    sample?: [instance: string, name: string, value: number, attrs?: Record<string, string>],
  ): Promise<AlertEvent[]>;
  room(roomId: string, ...events: RoomEvent[]): Promise<RoomEventBatch>;
  query(limit?: number): Promise<Extract<AlertsReply, { ok: true }>>;
  /** Waits until the service has applied and acknowledged every room event. */
  settled(svc: AlertService): Promise<void>;
  alerts(): Promise<{ subject: string; msgId: string | undefined; event: AlertEvent }[]>;
}

async function harness(t: Test, env: Record<string, string> = {}): Promise<Harness> {
  const nats = await startNats();
  const config = loadConfig({ NATS_URL: nats.url, LOG_LEVEL: 'error', ...baseEnv, ...env });
  const connect = (name: string) =>
    Bus.connect({ ...nats.connectOptions(), name, requestTimeoutMs: 2000, log });
  const bus = await connect('test');
  const jsm = await jetstreamManager(bus.nc);
  const js = jetstream(bus.nc);
  const clock = { now: 1_000_000 };
  const running: { svc: AlertService; bus: Bus }[] = [];
  const seqs = new Map<string, number>();
  const stop = async (r: { svc: AlertService; bus: Bus }) => {
    running.splice(running.indexOf(r), 1);
    await r.svc.stop();
    await r.bus.close();
  };
  t.teardown(async () => {
    for (const r of [...running]) await stop(r);
    await bus.close();
    await nats.stop();
  });
  const h: Harness = {
    nats,
    config,
    bus,
    jsm,
    clock,
    async start(extra = {}) {
      const svcBus = await connect('alert');
      const svc = new AlertService({
        bus: svcBus,
        config: config.alert,
        log,
        now: () => clock.now,
        timers: false,
        replicas: 1,
        requestTimeoutMs: 2000,
        ...extra,
      });
      await svc.start();
      running.push({ svc, bus: svcBus });
      return svc;
    },
    async stop(svc) {
      const r = running.find((x) => x.svc === svc);
      if (r !== undefined) await stop(r);
    },
    metric(instance, name, value, attrs = {}) {
      const e: MetricEvent = {
        v: 1,
        type: 'metric_sampled',
        service: name.startsWith('srs_') ? 'stream' : 'gateway',
        instance,
        name,
        kind: 'gauge',
        at: clock.now,
        points: [{ attrs, value }],
      };
      bus.publish(subjects.metric(e.service, name), e);
    },
    async hold(svc, sample) {
      for (let i = 0; i < 2; i++) {
        if (i > 0) clock.now += 1000;
        if (sample !== undefined) {
          h.metric(...sample);
          // A barrier for `svc` itself (a query is answered by whichever instance is
          // first): the server has the sample once this connection's PING is answered,
          // and `svc` has taken it once a PING on its own connection is.
          await bus.flush();
          await running.find((r) => r.svc === svc)?.bus.flush();
        }
        const events = await svc.evaluate();
        if (i > 0) return events;
      }
      return [];
    },
    async room(roomId, ...events) {
      const seq = (seqs.get(roomId) ?? 0) + 1;
      seqs.set(roomId, seq + events.length - 1);
      const batch: RoomEventBatch = { v: 1, roomId, seq, events };
      await js.publish(subjects.roomEvents(roomId), encode(batch), {
        msgID: batchMsgId(roomId, seq, 'alert-test'),
      });
      return batch;
    },
    async query(limit) {
      // Also a barrier: what this connection published before is handled first.
      const reply = await bus.request<AlertsReply>(
        subjects.alertsQuery,
        limit === undefined ? {} : { limit },
      );
      if (!reply.ok) throw new Error(reply.error.code);
      return reply;
    },
    async settled(svc) {
      for (let i = 0; i < 200; i++) {
        await svc.save();
        const info = await jsm.consumers.info(streamNames.roomEvents, ROOM_EVENTS_CONSUMER);
        if (info.num_pending === 0 && info.num_ack_pending === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('room events not settled');
    },
    async alerts() {
      const { state } = await jsm.streams.info(streamNames.alerts);
      const out = [];
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(streamNames.alerts, { seq });
        if (m === null) continue;
        out.push({
          subject: m.subject,
          msgId: m.header.get('Nats-Msg-Id') || undefined,
          event: decode<AlertEvent>(m.data),
        });
      }
      return out;
    },
  };
  return h;
}

const live = {
  created: (roomId: string): RoomEvent => ({
    v: 1,
    at: 1,
    type: 'room_created',
    roomId,
    ownerId: 'alice',
    settings: { title: roomId, isPrivate: false, maxViewers: 10 },
    streamKey: 'k',
  }),
  granted: (): RoomEvent => ({
    v: 1,
    at: 2,
    type: 'publisher_granted',
    publisher: { kind: 'stream', clientId: 'c1', userId: 'alice' },
  }),
  live: (): RoomEvent => ({
    v: 1,
    at: 3,
    type: 'status_changed',
    from: 'preparing',
    to: 'live',
    by: 'alice',
  }),
  ended: (): RoomEvent => ({
    v: 1,
    at: 4,
    type: 'status_changed',
    from: 'live',
    to: 'ended',
    by: 'alice',
  }),
};

t.test('metric events raise an alert once, append it to ALERTS and resolve it', async (t) => {
  const h = await harness(t);
  const svc = await h.start();
  h.metric('g1', 'ws_connections', 12);
  await h.query();
  t.same(await svc.evaluate(), [], 'over the limit, within the window');
  h.clock.now += 1000;
  const raised = await svc.evaluate();
  t.same(
    raised.map((e) => [e.type, e.alert.rule, e.alert.key]),
    [['alert_raised', 'gateway_connections', 'g1']],
  );
  h.clock.now += 1000;
  h.metric('g1', 'ws_connections', 12);
  await h.query();
  t.same(await svc.evaluate(), [], 'still over: raised once');

  const q = await h.query();
  t.same(
    q.active.map((a) => a.id),
    [raised[0]?.alert.id],
  );
  t.same(
    q.recent.map((e) => e.type),
    ['alert_raised'],
  );

  const resolved = await h.hold(svc, ['g1', 'ws_connections', 3]);
  t.same(
    resolved.map((e) => [e.type, e.alert.id]),
    [['alert_resolved', raised[0]?.alert.id]],
  );
  t.same((await h.query()).active, []);
  t.same(
    (await h.query()).recent.map((e) => e.type),
    ['alert_resolved', 'alert_raised'],
    'newest first',
  );
  t.same((await h.query(1)).recent.length, 1, 'limit');

  const stored = await h.alerts();
  t.same(
    stored.map((s) => [s.subject, s.msgId, s.event.type]),
    [
      ['alert.warning.gateway_connections', `${raised[0]?.alert.id}:alert_raised`, 'alert_raised'],
      [
        'alert.warning.gateway_connections',
        `${raised[0]?.alert.id}:alert_resolved`,
        'alert_resolved',
      ],
    ],
    'appended with their message ids',
  );
});

t.test('a live room whose stream fails; room events acked once saved, applied once', async (t) => {
  const h = await harness(t);
  const svc = await h.start();
  await h.room('r1', live.created('r1'));
  const going = await h.room('r1', live.granted(), live.live());
  await h.settled(svc);

  // The same batch once more under another message id (a retried append JetStream
  // did not catch): the service must see a duplicate.
  await jetstream(h.bus.nc).publish(subjects.roomEvents('r1'), encode(going), {
    msgID: 'r1:again',
  });
  await h.settled(svc);

  const raised = await h.hold(svc, ['s1', 'srs_stream_recv_bytes', 100, { room: 'other' }]);
  t.same(
    raised.map((e) => [e.alert.rule, e.alert.key, e.alert.reason, e.alert.severity]),
    [['stream_failed', 'r1', 'not_on_srs', 'critical']],
  );
  t.equal((await h.alerts())[0]?.subject, 'alert.critical.stream_failed');

  await h.room('r1', live.ended());
  await h.settled(svc);
  t.same(
    (await h.hold(svc)).map((e) => [e.type, e.alert.key]),
    [['alert_resolved', 'r1']],
    'resolved once the room ended',
  );
});

t.test('a restart keeps raised alerts, history and the room log position', async (t) => {
  const h = await harness(t);
  const first = await h.start();
  await h.room('r2', live.created('r2'), live.granted(), live.live());
  await h.settled(first);
  const [raised] = await h.hold(first, ['g1', 'ws_connections', 50]);
  // Its connection closes too: a pull request left open would hold the next event
  // until the ack wait runs out (it would still come, only later).
  await h.stop(first);

  // While the service is down, the room's stream goes missing on SRS.
  await h.room('r2', {
    v: 1,
    at: 5,
    type: 'publisher_released',
    publisher: { kind: 'stream', clientId: 'c1', userId: 'alice' },
  });
  const second = await h.start();
  await h.settled(second);
  const q = await h.query();
  t.same(
    q.active.map((a) => a.id),
    [raised?.alert.id],
    'the raised alert is still raised',
  );
  t.same(
    q.recent.map((e) => e.alert.id),
    [raised?.alert.id],
    'history read back from ALERTS',
  );
  h.metric('g1', 'ws_connections', 50);
  await h.query();
  t.same(await second.evaluate(), [], 'not raised a second time');
  h.clock.now += 1000;
  t.same(
    (await second.evaluate()).map((e) => [e.alert.rule, e.alert.key, e.alert.reason]),
    [['stream_failed', 'r2', 'publisher_gone']],
    'the room event from the downtime was consumed',
  );
});

// ---- webhook ----

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver that answers `statuses` in turn (then 200). */
async function receiver(t: Test, statuses: number[]) {
  const got: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(statuses.shift() ?? 200).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    async until(n: number) {
      while (got.length < n) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

const event: AlertEvent = {
  v: 1,
  type: 'alert_raised',
  at: 5,
  alert: {
    id: 'cpu:room/r1:5',
    rule: 'cpu',
    severity: 'warning',
    key: 'room/r1',
    state: 'raised',
    raisedAt: 5,
    resolvedAt: null,
    value: 99,
    threshold: 90,
    unit: '%',
    summary: 'room/r1: CPU 99% of one core (limit 90 %)',
  },
};
const options = (url: string, o: Partial<WebhookOptions> = {}): WebhookOptions => ({
  url,
  secret: 'shh',
  attempts: 4,
  backoffMs: 1,
  backoffMaxMs: 4,
  timeoutMs: 2000,
  log,
  ...o,
});

t.test(
  'an instance whose state another wrote since is deposed: it cannot overwrite it',
  async (t) => {
    const h = await harness(t);
    let deposed = 0;
    const old = await h.start({ onDeposed: () => deposed++ });
    t.equal((await h.hold(old, ['gw-a', 'ws_connections', 50])).length, 1, 'the first raises gw-a');
    // A second instance (the first was thought dead) takes the state over and saves.
    const next = await h.start();
    // (It has no sample of gw-a yet, so that one resolves; what matters is whose state is saved.)
    const b = await h.hold(next, ['gw-b', 'ws_connections', 50]);
    t.ok(
      b.some((e) => e.type === 'alert_raised' && e.alert.key === 'gw-b'),
      'it raises gw-b',
    );
    // The first one, unaware, acts again: its save is refused by the fence.
    await h.hold(old, ['gw-c', 'ws_connections', 50]);
    t.equal(deposed, 1, 'the first learns it was deposed, once');
    t.same(await h.hold(old, ['gw-d', 'ws_connections', 50]), [], 'and does nothing any more');
    const saved = (await h.start()).query({});
    t.same(
      saved.ok ? saved.active.map((a) => a.key).sort() : saved,
      ['gw-b'],
      'the saved state is the second instance’s (no gw-c): untouched by the deposed one',
    );
  },
);

t.test('postAlert retries with backoff until the webhook takes it, signed', async (t) => {
  const hook = await receiver(t, [503, 500]);
  let calls = 0;
  t.equal(await postAlert(options(hook.url), event, () => calls++), 'delivered');
  t.equal(hook.got.length, 3, 'two failures, then delivered');
  const last = hook.got[2];
  t.same(JSON.parse(last?.body ?? ''), event);
  t.equal(last?.headers['x-roomcast-signature'], signBody('shh', last?.body ?? ''));
  t.equal(last?.headers['x-roomcast-delivery'], 'cpu:room/r1:5:alert_raised');
  t.equal(last?.headers['x-roomcast-event'], 'alert_raised');
  t.ok(calls >= 3, 'told the consumer it is working before each attempt');
});

t.test('postAlert: refused without retry on 4xx, given up after its attempts', async (t) => {
  const refusing = await receiver(t, [400]);
  t.equal(await postAlert(options(refusing.url), event), 'refused');
  t.equal(refusing.got.length, 1);
  const down = await receiver(t, [503, 503, 503, 503, 503]);
  t.equal(await postAlert(options(down.url, { attempts: 3 }), event), 'given_up');
  t.equal(down.got.length, 3);
  const slow = await receiver(t, [429, 429, 429]);
  const stop = new AbortController();
  const p = postAlert(
    options(slow.url, { backoffMs: 60_000, backoffMaxMs: 60_000 }),
    event,
    () => undefined,
    stop.signal,
  );
  await slow.until(1);
  stop.abort();
  t.equal(await p, 'aborted', 'stopping cuts a long backoff short');
});

t.test('the service feeds the webhook from ALERTS, retrying failed posts', async (t) => {
  const hook = await receiver(t, [503, 503]);
  const h = await harness(t, {
    ALERT_WEBHOOK_URL: hook.url,
    ALERT_WEBHOOK_SECRET: 'webhook-secret',
    ALERT_WEBHOOK_BACKOFF_MS: '1',
    ALERT_WEBHOOK_BACKOFF_MAX_MS: '5',
  });
  const svc = await h.start();
  await h.hold(svc, ['g9', 'ws_connections', 99]);
  await hook.until(3);
  await h.hold(svc, ['g9', 'ws_connections', 0]);
  await hook.until(4);
  const bodies = hook.got.map((r) => JSON.parse(r.body) as AlertEvent);
  t.same(
    bodies.map((b) => b.type),
    ['alert_raised', 'alert_raised', 'alert_raised', 'alert_resolved'],
    'raised (after two failures), then resolved, in order',
  );
  t.ok(
    hook.got.every((r) => r.headers['x-roomcast-signature'] === signBody('webhook-secret', r.body)),
    'every body signed',
  );
});
