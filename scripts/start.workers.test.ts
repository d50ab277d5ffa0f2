/**
 * GATEWAY_WORKERS as `npm start` reads it: how many gateway processes, and the id and
 * metrics port each gets.
 */
import t from 'tap';
import { ConfigError, loadConfig } from '#config/config.js';
import { SUBJECT_ID } from '#config/setting.checks.js';
import { METRICS_PORT_STRIDE, gatewayWorkers, restartedId, workerCount } from './start.workers.js';

t.test('GATEWAY_WORKERS is read as an integer from 0 (one per core) to 64', async (t) => {
  t.equal(loadConfig({}).gateway.workers, 0, 'default: one per core');
  t.equal(loadConfig({ GATEWAY_WORKERS: '4' }).gateway.workers, 4);
  t.equal(loadConfig({ GATEWAY_WORKERS: '64' }).gateway.workers, 64);
  for (const bad of ['65', '-1', 'two', '1.5'])
    t.throws(() => loadConfig({ GATEWAY_WORKERS: bad }), ConfigError, `${bad} is refused`);
});

t.test('workerCount: the setting, or one per core for 0', async (t) => {
  const cases: [setting: number, cores: number, count: number][] = [
    [0, 2, 2],
    [0, 1, 1],
    [0, 0, 1],
    [0, 128, 64],
    [3, 2, 3],
    [1, 16, 1],
  ];
  for (const [setting, cores, count] of cases)
    t.equal(workerCount(setting, cores), count, `GATEWAY_WORKERS=${setting} on ${cores} cores`);
});

t.test('each worker has an id of its own and a metrics port of its own', async (t) => {
  const ws = gatewayWorkers({ count: 3, baseId: 'gw', metricsPort: 9464 });
  t.same(
    ws.map((w) => [w.name, w.id, w.metricsPort]),
    [
      ['gateway-1', 'gw-1', 9464],
      ['gateway-2', 'gw-2', 9464 + METRICS_PORT_STRIDE],
      ['gateway-3', 'gw-3', 9464 + 2 * METRICS_PORT_STRIDE],
    ],
  );
  t.ok(
    ws.every((w) => SUBJECT_ID.test(w.id)),
    'ids are subject tokens',
  );
  const ports = gatewayWorkers({ count: 64, baseId: 'gw', metricsPort: 9464 }).map(
    (w) => w.metricsPort,
  );
  t.equal(new Set(ports).size, 64, '64 distinct metrics ports');
  t.notOk(
    ports.some((p) => p >= 9465 && p <= 9468),
    "none on the other services' default metrics ports",
  );
});

t.test(
  'a single worker keeps the plain name; port 0 stays 0; a port past 65535 is refused',
  async (t) => {
    t.same(gatewayWorkers({ count: 1, baseId: 'gw', metricsPort: 9464 }), [
      { name: 'gateway', id: 'gw-1', metricsPort: 9464 },
    ]);
    t.same(
      gatewayWorkers({ count: 2, baseId: 'gw', metricsPort: 0 }).map((w) => w.metricsPort),
      [0, 0],
      'any free port for each',
    );
    t.throws(
      () => gatewayWorkers({ count: 64, baseId: 'gw', metricsPort: 60_000 }),
      /GATEWAY_METRICS_PORT or GATEWAY_WORKERS/,
    );
  },
);

t.test('a worker started again gets a new id, still a subject token', async (t) => {
  t.equal(restartedId('host-1-abc-2', 0), 'host-1-abc-2', 'the first start keeps its id');
  t.equal(restartedId('host-1-abc-2', 1), 'host-1-abc-2-r1');
  t.equal(restartedId('host-1-abc-2', 12), 'host-1-abc-2-r12');
  const long = restartedId('x'.repeat(64), 3);
  t.equal(long.length, 64);
  t.ok(long.endsWith('-r3'));
  t.ok(SUBJECT_ID.test(long));
});
