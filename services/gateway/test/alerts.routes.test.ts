import t from 'tap';
import { Credential } from '#shared/runtime/bus.permissions.js';
import type { Alert, AlertEvent } from '#shared/wire/alert.events.js';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import type { MetricEvent } from '#shared/runtime/metrics.js';
import { subjects } from '#shared/wire/subjects.js';
import { AlertService } from '../../alert/alert.service.js';
import { startSystem } from '../../../test/helpers/system.js';

const log = createLogger('test', 'error');

t.test(
  'GET /api/alerts through a real gateway: operators only, served by the alert service',
  async (t) => {
    const sys = await startSystem(t, {
      ALERT_GATEWAY_CONNECTIONS_MAX: '1',
      ALERT_FOR_MS: '1000',
      ALERT_METRIC_STALE_MS: '600000',
    });
    const http = `http://127.0.0.1:${sys.gateway.port}`;
    const get = async (token?: string, query = '') => {
      const res = await fetch(`${http}/api/alerts${query}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const operator = await sys.token('ops', { admin: ['*'] });

    const refused: [string, string | undefined, number, string][] = [
      ['no token', undefined, 401, 'AUTH_REQUIRED'],
      ['a forged token', `${operator.slice(0, -4)}AAAA`, 401, 'TOKEN_INVALID'],
      [
        'an admin of one room',
        await sys.token('owner', { admin: ['r1'], view: ['*'] }),
        403,
        'NOT_ALLOWED',
      ],
      ['no grants', await sys.token('bob'), 403, 'NOT_ALLOWED'],
    ];
    for (const [name, token, status, code] of refused) {
      const r = await get(token);
      t.equal(r.status, status, name);
      t.match(r.body, { error: { code } }, name);
    }
    const nobody = await get(operator);
    t.equal(nobody.status, 503, 'no alert service running');
    t.match(nobody.body, { error: { code: 'UNAVAILABLE' } });

    const clock = { now: 5_000_000 };
    const alertBus = await Bus.connect({
      ...sys.nats.connectOptions(Credential.alert),
      name: 'alert',
      requestTimeoutMs: 2000,
      log,
    });
    const alerts = new AlertService({
      bus: alertBus,
      config: sys.config.alert,
      log,
      now: () => clock.now,
      timers: false,
      replicas: 1,
      requestTimeoutMs: 2000,
    });
    await alerts.start();
    t.teardown(async () => {
      await alerts.stop();
      await alertBus.close();
    });

    const empty = await get(operator);
    t.equal(empty.status, 200);
    t.same(empty.body, { active: [], recent: [] });

    // The gateway reports two connections against a limit of one.
    const sample: MetricEvent = {
      v: 1,
      type: 'metric_sampled',
      service: 'gateway',
      instance: 'gw-a',
      name: 'ws_connections',
      kind: 'gauge',
      at: clock.now,
      points: [{ attrs: {}, value: 2 }],
    };
    sys.bus.publish(subjects.metric('gateway', 'ws_connections'), sample);
    await sys.bus.request(subjects.alertsQuery, {});
    await alerts.evaluate();
    clock.now += 1000;
    const [raised] = await alerts.evaluate();

    const now = await get(operator);
    t.equal(now.status, 200);
    const active = now.body.active as Alert[];
    const recent = now.body.recent as AlertEvent[];
    t.same(
      active.map((a) => [a.rule, a.key, a.state]),
      [['gateway_connections', 'gw-a', 'raised']],
    );
    t.equal(active[0]?.id, raised?.alert.id);
    t.same(
      recent.map((e) => [e.type, e.alert.id]),
      [['alert_raised', raised?.alert.id]],
    );
    t.same((await get(operator, '?limit=1')).status, 200);
    for (const bad of ['?limit=0', '?limit=abc', '?limit=-1']) {
      const r = await get(operator, bad);
      t.equal(r.status, 400, bad);
      t.match(r.body, { error: { code: 'BAD_FRAME' } }, bad);
    }
  },
);
