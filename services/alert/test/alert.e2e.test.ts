/**
 * The alert service end to end, with real service processes and their real
 * metric events: a gateway driven past its connection limit, and a live room
 * whose SRS stream (the stand-in) fails, each raised once and resolved once, in
 * the ALERTS stream and in what operators read (GET /api/alerts, `alerts.query`).
 * Windows are shortened through the environment; nothing here asserts a duration.
 */
import t, { type Test } from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Alert, AlertEvent, AlertsReply } from '#shared/wire/alert.events.js';
import { decode, type Bus } from '#shared/runtime/bus.js';
import { streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';
import { hookInto, startSrsStandIn, streamEnv } from '../../../test/helpers/srs.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

/** Fast windows; the process rules stay off (spawned processes on a shared machine). */
const alertEnv = {
  METRICS_PUBLISH_INTERVAL_MS: '200',
  ALERT_EVALUATE_INTERVAL_MS: '100',
  ALERT_FOR_MS: '300',
  ALERT_CLEAR_FOR_MS: '300',
  ALERT_RULES_DISABLED: 'cpu,memory,event_loop_lag',
};

/** Polls `get` until `pred` holds on what it returns; that value. */
async function until<T>(what: string, get: () => Promise<T>, pred: (v: T) => boolean): Promise<T> {
  for (const end = Date.now() + 20_000; ;) {
    const v = await get();
    if (pred(v)) return v;
    if (Date.now() > end)
      throw new Error(`timed out waiting for: ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the ALERTS stream holds on one subject: how many changes, and the last one. */
async function alertsOn(bus: Bus, subject: string): Promise<{ count: number; last?: AlertEvent }> {
  const jsm = await jetstreamManager(bus.nc);
  const info = await jsm.streams.info(streamNames.alerts, { subjects_filter: subject });
  const count = info.state.subjects?.[subject] ?? 0;
  if (count === 0) return { count };
  const m = await jsm.streams.getMessage(streamNames.alerts, { last_by_subj: subject });
  return m === null ? { count } : { count, last: decode<AlertEvent>(m.data) };
}

type Reply = Extract<AlertsReply, { ok: true }>;
const activeOf = (r: Reply, rule: string, key: string): Alert | undefined =>
  r.active.find((a) => a.rule === rule && a.key === key);
const resolvedIn = (r: Reply, id: string): boolean =>
  r.recent.some((e) => e.type === 'alert_resolved' && e.alert.id === id);

/** Waits until `read` shows the alert of `rule` for `key` raised; that alert. */
async function raisedBy(read: () => Promise<Reply>, rule: string, key: string): Promise<Alert> {
  const r = await until(`${rule} ${key} raised`, read, (x) => activeOf(x, rule, key) !== undefined);
  return activeOf(r, rule, key)!;
}

/** Raised, then resolved: checks both ends in the ALERTS stream; the resolved alert. */
async function checkStream(
  t: Test,
  bus: Bus,
  subject: string,
  raised: Alert,
  changes: number,
): Promise<void> {
  const stored = await until(
    `${subject}: the resolve in ALERTS`,
    () => alertsOn(bus, subject),
    (s) => s.last?.type === 'alert_resolved' && s.last.alert.id === raised.id,
  );
  t.equal(stored.count, changes, `${subject}: raised and resolved once each, no storm`);
  t.not(stored.last?.alert.resolvedAt, null, 'resolved with its time');
}

t.test(
  'a gateway past its connection limit: gateway_connections raised, then resolved',
  async (t) => {
    const nats = await startNats();
    t.teardown(() => nats.stop());
    const env = testEnv(nats.url, { ...alertEnv, ALERT_GATEWAY_CONNECTIONS_MAX: '2' });
    await startService(t, 'room', env);
    const [gateway] = await Promise.all([
      startService(t, 'gateway', { ...env, GATEWAY_ID: 'gw-limit' }),
      startService(t, 'alert', env),
    ]);
    const sys = await startTestTools(t, nats.url);
    const ops = await sys.token('ops', { admin: ['*'] });
    const api = async (): Promise<Reply> => {
      const res = await fetch(`http://127.0.0.1:${gateway.port}/api/alerts`, {
        headers: { authorization: `Bearer ${ops}` },
      });
      if (res.status !== 200) throw new Error(`GET /api/alerts: ${res.status}`);
      return (await res.json()) as Reply;
    };

    const clients = await Promise.all(['u1', 'u2', 'u3'].map((u) => sys.connect(gateway.url, u)));
    const alert = await raisedBy(api, 'gateway_connections', 'gw-limit');
    t.match(alert, { severity: 'warning', state: 'raised', value: 3, threshold: 2 });
    t.match(alert.summary, /gw-limit: 3 WebSocket connections/);
    const stored = await alertsOn(sys.bus, 'alert.warning.gateway_connections');
    t.match(stored.last, { type: 'alert_raised', alert: { id: alert.id } }, 'in ALERTS');

    for (const c of clients.slice(1)) c.close();
    const after = await until(
      'gateway_connections resolved',
      api,
      (r) =>
        activeOf(r, 'gateway_connections', 'gw-limit') === undefined && resolvedIn(r, alert.id),
    );
    t.equal(after.recent[0]?.alert.id, alert.id, 'the newest change is its resolve');
    await checkStream(t, sys.bus, 'alert.warning.gateway_connections', alert, 2);
  },
);

t.test('a live room whose SRS stream fails: stream_failed raised, then resolved', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const srs = await startSrsStandIn(t);
  const env = testEnv(nats.url, {
    ...alertEnv,
    ...streamEnv(srs),
    ALERT_STREAM_FAILED_FOR_MS: '1000',
    // Polled more often than metrics are published: each sample sees new frames.
    STREAM_RECONCILE_INTERVAL_MS: '100',
  });
  await startService(t, 'room', env);
  const [stream] = await Promise.all([
    startService(t, 'stream', env),
    startService(t, 'alert', env),
  ]);
  hookInto(srs, stream);
  const sys = await startTestTools(t, nats.url);
  const room = await sys.createRoom('sf', 'owner');
  const query = () => sys.bus.request<Reply>(subjects.alertsQuery, {});
  const status = async () => {
    const r = await sys.command<{ room: { status: string } }>('sf', { type: 'get' });
    return r.ok ? r.room.status : r.error.code;
  };

  const pub = await srs.publish('sf', `?key=${String(room.streamKey)}`);
  t.ok(pub.ok, 'the encoder publishes');
  await until('the room is live', status, (s) => s === 'live');

  // Healthy for longer than the rule's window: frames move, nothing is raised.
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(activeOf(await query(), 'stream_failed', 'sf'), undefined, 'a healthy stream is fine');
  t.equal((await alertsOn(sys.bus, 'alert.critical.stream_failed')).count, 0);

  // The encoder stays connected but no frames arrive.
  srs.faults.mediaStalled.add('sf');
  const stalled = await raisedBy(query, 'stream_failed', 'sf');
  t.match(stalled, { severity: 'critical', reason: 'no_media' });
  t.match(stalled.summary, /live room sf: no media arrives/);
  // The frames come back: resolved.
  srs.faults.mediaStalled.delete('sf');
  await until('resolved when frames move again', query, (r) => resolvedIn(r, stalled.id));
  await checkStream(t, sys.bus, 'alert.critical.stream_failed', stalled, 2);

  // The publisher goes away; the room stays live, waiting for it.
  srs.disconnect(pub.clientId);
  const gone = await raisedBy(query, 'stream_failed', 'sf');
  t.not(gone.id, stalled.id, 'a new alert');
  t.match(gone, { reason: 'publisher_gone' });
  t.equal(await status(), 'live');
  // The owner ends the room: nothing left to fail, resolved.
  const ended = await sys.command('sf', {
    type: 'set_status',
    status: 'ended',
    userId: 'owner',
    perms: { publish: false, view: false, admin: false },
  });
  t.ok(ended.ok, 'the room ends');
  await until('resolved when the room ends', query, (r) => resolvedIn(r, gone.id));
  await checkStream(t, sys.bus, 'alert.critical.stream_failed', gone, 4);
});
