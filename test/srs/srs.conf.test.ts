/**
 * srs/srs.conf agrees with the stream service: its hooks reach our routes on the
 * configured port, and it serves what the URLs we hand out point at.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadConfig } from '#config/config.js';
import { isHookAction } from '../../services/stream/srs.hooks.js';

const conf = readFileSync(new URL('../../srs/srs.conf', import.meta.url), 'utf8')
  .split('\n')
  .map((l) => l.replace(/#.*/, '').trim())
  .filter((l) => l !== '');
const directive = (name: string) =>
  conf
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length).replace(/;$/, '').trim());

t.test('the hooks point at the stream service with the secret in the path', async (t) => {
  const defaults = loadConfig({}).stream;
  const hooks = ['on_publish', 'on_unpublish', 'on_play', 'on_stop'];
  for (const action of hooks) {
    const [url] = directive(action);
    t.ok(url, `${action} is configured`);
    const u = new URL(url ?? '');
    t.equal(Number(u.port), defaults.port, `${action}: STREAM_PORT`);
    const m = /^\/api\/srs\/hooks\/([^/]+)\/([a-z_]+)$/.exec(u.pathname);
    t.ok(m, `${action}: /api/srs/hooks/<secret>/<action>`);
    t.equal(m?.[2], action);
    t.ok(isHookAction(m?.[2] ?? ''), `${action}: a route of ours`);
    t.throws(
      () => loadConfig({ STREAM_HOOK_SECRET: m?.[1] ?? '' }),
      /placeholder/,
      'the placeholder secret does not start the stream service',
    );
  }
});

t.test('ports and features of the URLs we hand out', async (t) => {
  t.same(
    directive('listen').slice(0, 4),
    ['1935', '1985', '1990', '8080'],
    'RTMP, API, API TLS, HTTP',
  );
  t.ok(
    conf.some((l) => /^mount\s+\[vhost\]\/\[app\]\/\[stream\]\.flv;$/.test(l)),
    'HTTP-FLV at /<app>/<room>.flv',
  );
  t.ok(
    conf.some((l) => /^hls_ctx\s+on;$/.test(l)),
    'HLS sessions call on_play/on_stop',
  );
  t.ok(
    conf.some((l) => /^protocol\s+all;$/.test(l)),
    'WebRTC over UDP and TCP',
  );
  t.ok(
    conf.some((l) => /^candidate\s+\$CANDIDATE;$/.test(l)),
    'candidate from the environment',
  );
  t.ok(conf.some((l) => /^max_connections\s+\d+;$/.test(l)));
  t.equal(loadConfig({}).stream.app, 'live', 'the app of the URLs');
});
