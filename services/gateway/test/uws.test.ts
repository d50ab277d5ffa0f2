/**
 * The gateway never runs on uWebSockets.js's JavaScript fallback: the loader
 * returns the native binary or refuses, and the gateway process exits non-zero
 * with the reason.
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UwsUnavailableError, loadNativeUws } from '#shared/runtime/uws.js';
import { runServiceToExit } from '../../../test/helpers/processes.js';
import { TEST_SECRET, startSystem } from '../../../test/helpers/system.js';

const require = createRequire(import.meta.url);

t.test('loadNativeUws returns the native binary itself', async (t) => {
  const dir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(
    dir,
    'binaries',
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
  );
  t.equal(loadNativeUws({}), require(binary), 'the very module of the .node file');
});

t.test('loadNativeUws refuses the fallback', async (t) => {
  for (const value of ['1', 'true', 'TRUE']) {
    t.throws(
      () => loadNativeUws({ UWS_USE_FALLBACK: value }),
      {
        name: 'UwsUnavailableError',
        message: /UWS_USE_FALLBACK is set.*never runs? on the JavaScript fallback/,
      },
      `UWS_USE_FALLBACK=${value}`,
    );
  }
  t.equal(typeof loadNativeUws({ UWS_USE_FALLBACK: '0' }).App, 'function', 'UWS_USE_FALLBACK=0');
  let err: unknown;
  try {
    loadNativeUws({}, '999');
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof UwsUnavailableError, 'a binary that does not exist for this Node');
  t.match(
    (err as Error).message,
    /uws_\w+_999\.node does not load .*Refusing to start on the JavaScript fallback/,
  );
});

t.test('the gateway process exits non-zero with the reason on UWS_USE_FALLBACK', async (t) => {
  const r = await runServiceToExit('gateway', {
    // No NATS is needed: the gateway must stop before it connects anywhere.
    NATS_URL: 'nats://127.0.0.1:1',
    AUTH_JWT_SECRET: TEST_SECRET,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    UWS_USE_FALLBACK: '1',
  });
  t.equal(r.code, 78, 'EX_CONFIG');
  const errors = r.lines.filter((l) => l.includes('"level":"error"'));
  t.equal(errors.length, 1, 'one error record');
  t.match(errors[0], /UWS_USE_FALLBACK is set: our servers never run on the JavaScript fallback/);
  t.notOk(
    r.lines.some((l) => l.includes('ready')),
    'never ready',
  );
});

t.test('the longest idle timeout the settings allow still starts the gateway', async (t) => {
  // uWS's own backstop takes at most 960 s; above it uWS aborts the process at listen.
  const sys = await startSystem(t, {
    GATEWAY_IDLE_TIMEOUT_MS: '3600000',
    GATEWAY_HEARTBEAT_INTERVAL_MS: '3600000',
  });
  const c = await sys.client('bob');
  t.teardown(() => c.drop());
  c.send({ type: 'ping', id: 1 });
  t.equal((await c.nextOf('pong')).id, 1, 'serving');
});
