/**
 * Two alert services on one NATS: one is active, the other stands by. The
 * standby does nothing (no alert, no answer) until the active one dies; then it
 * takes over within about ALERT_LEASE_MS, with the state the active one saved:
 * an alert raised before the failover is still raised after it, not raised twice.
 */
import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import type { AlertsReply } from '#shared/wire/alert.events.js';
import { streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

type Reply = Extract<AlertsReply, { ok: true }>;

t.test('a standby alert service takes over when the active one dies', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const env = testEnv(nats.url, {
    METRICS_PUBLISH_INTERVAL_MS: '200',
    ALERT_EVALUATE_INTERVAL_MS: '100',
    ALERT_FOR_MS: '300',
    ALERT_CLEAR_FOR_MS: '300',
    ALERT_RULES_DISABLED: 'cpu,memory,event_loop_lag',
    ALERT_GATEWAY_CONNECTIONS_MAX: '1',
    ALERT_LEASE_MS: '1500',
  });
  await startService(t, 'room', env);
  const gateway = await startService(t, 'gateway', { ...env, GATEWAY_ID: 'gw-sb' });
  const active = await startService(t, 'alert', env);
  const standby = await startService(t, 'alert', env, 30_000, 'alert service standing by');
  t.match(standby.ready, { active: active.ready.instance }, 'the standby names the active one');

  const sys = await startTestTools(t, nats.url);
  const query = () => sys.bus.request<Reply>(subjects.alertsQuery, {});
  const raisedNow = async () =>
    (await query()).active.filter((a) => a.rule === 'gateway_connections');
  // Two connections on a gateway allowed one: the active service raises the alert.
  await Promise.all(['u1', 'u2'].map((u) => sys.connect(gateway.url, u)));
  for (const end = Date.now() + 20_000; (await raisedNow()).length === 0;) {
    if (Date.now() > end) throw new Error('gateway_connections never raised');
    await new Promise((r) => setTimeout(r, 50));
  }
  const [alert] = await raisedNow();
  t.notOk(
    standby.lines.some((l) => l.includes('alert rules loaded')),
    'the standby has not started while the active one runs',
  );

  await active.signal('SIGKILL');
  await standby.waitFor(/"msg":"alert service ready"/, 20_000);
  t.pass('the standby took over');
  const after = await raisedNow();
  t.same(
    after.map((a) => a.id),
    [alert!.id],
    'the alert raised before the failover is still raised, as the same alert',
  );
  // Evaluations go on under the new active service: still one raise in ALERTS.
  await new Promise((r) => setTimeout(r, 500));
  const jsm = await jetstreamManager(sys.bus.nc);
  const subject = 'alert.warning.gateway_connections';
  const info = await jsm.streams.info(streamNames.alerts, { subjects_filter: subject });
  t.equal(info.state.subjects?.[subject], 1, 'raised once in ALERTS, across the failover');
});

t.test('an active alert service paused past its lease steps down when it wakes', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const env = testEnv(nats.url, { ALERT_LEASE_MS: '1000', ALERT_EVALUATE_INTERVAL_MS: '100' });
  const active = await startService(t, 'alert', env);
  const standby = await startService(t, 'alert', env, 30_000, 'alert service standing by');

  await active.signal('SIGSTOP');
  await standby.waitFor(/"msg":"alert service ready"/, 20_000);
  const exited = new Promise<number | null>((r) => active.child.once('exit', (code) => r(code)));
  await active.signal('SIGCONT');
  t.equal(await exited, 75, 'the old one exits (75: start me again) instead of acting');
  t.ok(
    active.lines.some((l) => l.includes('alert leadership lost')),
    'and says why',
  );
  t.notOk(
    active.lines.some((l) => l.includes('alert state written by another instance')),
    'it never got as far as writing the state',
  );
  const reply = await startTestTools(t, nats.url).then((sys) =>
    sys.bus.request<Reply>(subjects.alertsQuery, {}),
  );
  t.ok(reply.ok, 'the new active one answers');
});
