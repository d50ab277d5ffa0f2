/**
 * compose.yaml and what it mounts, checked without a Docker engine (there is none
 * on these machines): the YAML is parsed and its structure validated. Where a
 * `docker compose` CLI is available, `docker compose config -q` validates it too.
 *
 * The YAML parser is `yaml`, which is in node_modules through tap (and the
 * OpenTelemetry SDK), not a dependency of ours: if it ever moves, this import
 * is the one to change.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '#config/config.js';
import { metricsPort } from '#shared/runtime/metrics.js';
import { authorizationConf, newSeed, publicKeyOf } from '#shared/runtime/bus.credentials.js';
import { shippedCredentials } from '#shared/runtime/bus.permissions.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
// Compose resolves YAML merge keys (`<<: *anchor`): so must we.
const yaml = (path: string) => parse(read(path), { merge: true }) as unknown;

interface Healthcheck {
  test?: string[] | string;
  interval?: string;
}
interface Service {
  image?: string;
  entrypoint?: string[];
  build?: { context: string; dockerfile?: string } | string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: Healthcheck;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  secrets?: (string | { source: string; target?: string })[];
}
interface Compose {
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string; file?: string }>;
  volumes?: Record<string, unknown>;
}

const compose = yaml('compose.yaml') as Compose;
const services = compose.services;
const ROOMCAST = ['gateway', 'room', 'catalog', 'stream', 'alert'] as const;
/** Where each service's entry point is built, below dist/services/. */
const ENTRY: Record<(typeof ROOMCAST)[number], string> = {
  gateway: 'gateway',
  room: 'room',
  catalog: 'catalog',
  stream: 'stream',
  alert: 'alert',
};
const isRoomcast = (name: string): name is (typeof ROOMCAST)[number] =>
  (ROOMCAST as readonly string[]).includes(name);
/** Each service's /metrics port as config/config.ts has it by default. */
const metricsPortOf = (name: (typeof ROOMCAST)[number]) =>
  metricsPort(loadConfig({}).telemetry, name);
const NATS_NODES = ['nats-1', 'nats-2', 'nats-3'];
const INFRA = [...NATS_NODES, 'mongo', 'srs', 'coturn', 'jaeger', 'prometheus', 'grafana'];
/** Mounted files that other work provides; checked once they are there. */
const PENDING: Record<string, string> = {
  './srs/srs.conf': 'srs.conf comes with the stream service (issue 4)',
};

t.test('every part of the system is there', async (t) => {
  t.same(Object.keys(services).sort(), [...INFRA, ...ROOMCAST].sort());
});

t.test('images are pinned, Roomcast services are built from the Dockerfile', async (t) => {
  for (const [name, s] of Object.entries(services)) {
    t.ok(s.image !== undefined || s.build !== undefined, `${name}: image or build`);
    if (isRoomcast(name)) {
      t.same(s.build, { context: '.', dockerfile: 'Dockerfile' }, `${name}: built here`);
      t.same(s.command, ['node', `dist/services/${ENTRY[name]}/main.js`], `${name}: its own entry`);
      continue;
    }
    t.match(s.image, /^[\w./-]+:[\w.-]+$/, `${name}: image with a tag`);
    t.notMatch(s.image, /:latest$/, `${name}: not :latest`);
  }
  const nats = /^nats:(\d+)\.(\d+)/.exec(services['nats-1']?.image ?? '');
  t.ok(nats && (Number(nats[1]) > 2 || Number(nats[2]) >= 10), 'nats-server 2.10 or newer');
  t.equal(services.mongo?.image, 'mongo:7');
  t.equal(services.srs?.image, 'ossrs/srs:6');
  t.match(services.jaeger?.image, /^jaegertracing\/all-in-one:/);
  t.equal(services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED, 'true', 'Jaeger takes OTLP');
  t.ok(services.jaeger?.expose?.includes('4318'), 'OTLP/HTTP reachable by the services');
});

t.test('healthchecks and start order', async (t) => {
  const conditions = ['service_started', 'service_healthy', 'service_completed_successfully'];
  for (const [name, s] of Object.entries(services)) {
    const test = s.healthcheck?.test;
    t.ok(Array.isArray(test) && test.length > 1 && test[0] === 'CMD', `${name}: healthcheck`);
    t.notOk(Array.isArray(s.depends_on), `${name}: depends_on with conditions`);
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      t.ok(services[dep], `${name} depends on ${dep}, which exists`);
      t.ok(conditions.includes(condition), `${name} → ${dep}: ${condition}`);
    }
  }
  // No cycles: compose could never start them.
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    if (order.includes(name)) return;
    if (visiting.has(name)) {
      t.fail(`depends_on cycle: ${[...path, name].join(' → ')}`);
      return;
    }
    visiting.add(name);
    for (const dep of Object.keys(services[name]?.depends_on ?? {})) visit(dep, [...path, name]);
    order.push(name);
  };
  for (const name of Object.keys(services)) visit(name, []);
  for (const name of ROOMCAST) {
    const deps = services[name]?.depends_on as Record<string, { condition: string }> | undefined;
    for (const node of NATS_NODES)
      t.same(deps?.[node], { condition: 'service_healthy' }, `${name} waits for a healthy ${node}`);
  }
  const after = (a: string, b: string) => order.indexOf(a) > order.indexOf(b);
  t.ok(after('gateway', 'room'), 'the gateway starts after the room service is healthy');
  t.ok(after('srs', 'stream'), 'SRS starts once its hooks answer');
  t.ok(after('grafana', 'prometheus'), 'Grafana after its datasource');
  // The Roomcast images have no curl: their checks are Node scripts that the build produces.
  for (const name of ROOMCAST) {
    t.same(services[name]?.healthcheck?.test, ['CMD', 'node', 'dist/scripts/healthcheck.js', name]);
  }
  t.ok(existsSync(join(root, 'scripts/healthcheck.ts')), 'scripts/healthcheck.ts is there');
});

t.test('the five services get their configuration from the environment', async (t) => {
  for (const name of ROOMCAST) {
    const env = services[name]?.environment ?? {};
    t.equal(
      env.NATS_URL,
      NATS_NODES.map((node) => `nats://${node}:4222`).join(','),
      `${name}: NATS_URL, every node`,
    );
    t.equal(env.NATS_REPLICAS, '3', `${name}: NATS_REPLICAS=3`);
    t.equal(env.NODE_ENV, 'production', `${name}: NODE_ENV`);
    t.equal(env.AUTH_JWT_SECRET_FILE, '/run/secrets/jwt_secret', `${name}: the JWT secret file`);
    t.ok(services[name]?.secrets?.includes('jwt_secret'), `${name}: mounts that secret`);
    t.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318', `${name}: traces to Jaeger`);
    // The service name is set in code (shared/runtime/telemetry.ts); OTEL_SERVICE_NAME would be ignored.
    t.notOk('OTEL_SERVICE_NAME' in env, `${name}: no OTEL_SERVICE_NAME to mislead`);
    const port = String(metricsPortOf(name));
    t.equal(env[`${name.toUpperCase()}_METRICS_PORT`], port, `${name}: /metrics on ${port}`);
    t.equal(env.METRICS_HOST, '0.0.0.0', `${name}: /metrics reachable from Prometheus`);
    t.ok(services[name]?.expose?.includes(port), `${name}: exposes ${port}`);
    for (const key of ['GATEWAY_DEMO', 'GATEWAY_DEV_TOKENS'])
      t.notOk(key in env, `${name}: ${key} is never set in production`);
  }
  t.equal(services.gateway?.environment?.GATEWAY_PORT, '8090');
  t.equal(
    services.catalog?.environment?.MONGODB_URI_FILE,
    '/run/secrets/mongodb_uri',
    'the catalogue reads MongoDB from the secret',
  );
  t.ok(services.catalog?.secrets?.includes('mongodb_uri'), 'and mounts it');
  t.ok(
    services.gateway?.ports?.some((p) => p.endsWith(':8090')),
    'the gateway is published',
  );
});

t.test('no secret is written in compose.yaml', async (t) => {
  const secretName = /SECRET|PASSWORD|TOKEN|_URI$|_KEY$/i;
  for (const [name, s] of Object.entries(services)) {
    for (const [key, value] of Object.entries(s.environment ?? {})) {
      if (!secretName.test(key)) continue;
      t.ok(
        /(_FILE|__FILE)$/.test(key) && value.startsWith('/run/secrets/'),
        `${name}: ${key} is a secret file, not a value`,
      );
    }
    for (const secret of s.secrets ?? []) {
      const source = typeof secret === 'string' ? secret : secret.source;
      t.ok(compose.secrets?.[source], `${name}: secret ${source} is declared`);
    }
  }
  for (const [name, spec] of Object.entries(compose.secrets ?? {})) {
    t.ok(spec.environment ?? spec.file, `secret ${name} comes from the environment or a file`);
    t.notOk(spec.file?.startsWith('/'), `secret ${name}: no absolute host path`);
  }
});

t.test('ports, volumes and mounts depend on nothing outside the repository', async (t) => {
  const published = new Set<string>();
  for (const [name, s] of Object.entries(services)) {
    for (const port of s.ports ?? []) {
      // A port or a range (coturn's relays: `49160-49200:49160-49200/udp`).
      const m = /^(?:\$\{\w+:-(\d+)\}|(\d+(?:-\d+)?)):(\d+(?:-\d+)?)(\/udp)?$/.exec(port);
      t.ok(m, `${name}: port ${port} is host:container`);
      if (!m) continue;
      const host = `${m[1] ?? m[2]}${m[4] ?? ''}`;
      t.notOk(published.has(host), `${name}: host port ${host} is not taken twice`);
      published.add(host);
    }
    for (const volume of s.volumes ?? []) {
      const [source = ''] = volume.split(':');
      if (!source.startsWith('.') && !source.startsWith('/')) {
        t.ok(compose.volumes && source in compose.volumes, `${name}: volume ${source} declared`);
        continue;
      }
      t.ok(source.startsWith('./'), `${name}: ${source} is inside the repository`);
      const pending = PENDING[source];
      if (pending !== undefined && !existsSync(join(root, source))) {
        t.comment(`${name}: ${source} not here yet: ${pending}`);
        continue;
      }
      t.ok(existsSync(join(root, source)), `${name}: ${source} exists`);
    }
  }
  for (const port of ['8090', '1935', '8080', '8000/udp', '3000', '16686', '9090'])
    t.ok(published.has(port), `port ${port} is published`);
});

t.test("SRS's HTTP API is never published; WHIP/WHEP go through the gateway", async (t) => {
  for (const [name, s] of Object.entries(services)) {
    for (const port of s.ports ?? []) {
      const [host = '', container = ''] = port.replace(/\$\{\w+:-(\d+)\}/, '$1').split(':');
      // 1985: the HTTP API (lists and kicks clients); 1990: the same over TLS.
      for (const api of ['1985', '1990'])
        t.ok(host !== api && !container.startsWith(api), `${name}: ${port} is not SRS's API`);
    }
  }
  t.same(
    services.srs?.ports?.sort(),
    ['1935:1935', '8000:8000/udp', '8080:8080'],
    'SRS publishes RTMP, HTTP-FLV/HLS and WebRTC media only',
  );
  const gateway = services.gateway?.environment ?? {};
  const stream = services.stream?.environment ?? {};
  t.equal(gateway.GATEWAY_SRS_RTC_URL, 'http://srs:1985', 'the gateway forwards /rtc/ to SRS');
  t.equal(stream.STREAM_SRS_API_URL, 'http://srs:1985', 'the stream service reads the API inside');
  t.match(
    stream.STREAM_PUBLIC_RTC_URL,
    /:-http:\/\/localhost:8090\}$/,
    'WHIP/WHEP URLs handed out point at the gateway',
  );
  t.match(
    gateway.GATEWAY_CORS_ORIGINS,
    /^\$\{GATEWAY_CORS_ORIGINS:-\}$/,
    'no CORS origin by default',
  );
});

t.test('the hook secret reaches the stream service and SRS from one secret', async (t) => {
  const stream = services.stream;
  const srs = services.srs;
  const env = stream?.environment ?? {};
  t.equal(compose.secrets?.stream_hook_secret?.environment, 'ROOMCAST_HOOK_SECRET', 'from .env');
  t.equal(env.STREAM_HOOK_SECRET_FILE, '/run/secrets/stream_hook_secret', 'stream: the file');
  t.ok(stream?.secrets?.includes('stream_hook_secret'), 'stream: mounts it');
  t.notOk('STREAM_HOOK_SECRET' in env, 'stream: no secret value');
  t.equal(env.STREAM_SRS_API_URL, 'http://srs:1985', 'stream: reads the SRS API inside');
  for (const name of ROOMCAST)
    if (name !== 'stream')
      t.notOk(
        services[name]?.secrets?.includes('stream_hook_secret'),
        `${name}: not the hook secret`,
      );
  // SRS: the entrypoint builds SRS_VHOST_HTTP_HOOKS_ON_* from the same secret file.
  t.same(srs?.entrypoint, ['sh', '/usr/local/srs/roomcast/entrypoint.sh']);
  t.ok(
    srs?.volumes?.includes('./srs/entrypoint.sh:/usr/local/srs/roomcast/entrypoint.sh:ro'),
    'srs: the entrypoint is mounted where it is run',
  );
  const conf = srs?.volumes?.find((v) => v.startsWith('./srs/srs.conf:'))?.split(':')[1] ?? '';
  t.equal(conf, '/usr/local/srs/conf/roomcast.conf', 'srs.conf is mounted');
  t.same(srs?.command, ['./objs/srs', '-c', 'conf/roomcast.conf'], 'and SRS runs with it');
  t.ok(srs?.secrets?.includes('stream_hook_secret'), 'srs: mounts the hook secret');
  const srsEnv = srs?.environment ?? {};
  t.equal(srsEnv.STREAM_HOOK_SECRET_FILE, env.STREAM_HOOK_SECRET_FILE, 'srs: the same file');
  const hooks = new URL(srsEnv.ROOMCAST_HOOKS_URL ?? '');
  t.equal(hooks.hostname, 'stream', 'srs: hooks go to the stream service');
  t.equal(hooks.port, env.STREAM_PORT, "srs: on the stream service's STREAM_PORT");
  t.ok(stream?.expose?.includes(env.STREAM_PORT ?? ''), 'stream: exposes its hook port');
  t.equal(hooks.pathname, '/api/srs/hooks', 'srs: our hook route');
  for (const key of Object.keys(srsEnv))
    t.notMatch(
      key,
      /^SRS_VHOST_HTTP_HOOKS_/,
      `srs: ${key} is built by the entrypoint, not written`,
    );
  const script = read('srs/entrypoint.sh');
  for (const action of ['on_publish', 'on_unpublish', 'on_play', 'on_stop'])
    t.match(
      script,
      new RegExp(`^export SRS_VHOST_HTTP_HOOKS_${action.toUpperCase()}="\\$base/${action}"$`, 'm'),
      `entrypoint: ${action}`,
    );
});

t.test('srs.conf: the HTTP API sends no CORS headers (crossdomain off)', async (t) => {
  const conf = read('srs/srs.conf');
  const api = /^http_api\s*\{([\s\S]*?)^\}/m.exec(conf)?.[1] ?? '';
  t.match(api, /^\s*crossdomain\s+off;/m, 'http_api: crossdomain off');
  t.notMatch(conf, /^\s*crossdomain\s+on;/m, 'crossdomain on nowhere');
});

t.test('Prometheus scrapes every service, Grafana reads Prometheus', async (t) => {
  const prom = yaml('observability/prometheus/prometheus.yml') as {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const targets = prom.scrape_configs
    .filter((c) => c.job_name === 'roomcast')
    .flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  t.same(
    targets.sort(),
    ROOMCAST.map((s) => `${s}:${metricsPortOf(s)}`).sort(),
    'each Roomcast service on its /metrics port',
  );
  const ds = yaml('observability/grafana/provisioning/datasources/prometheus.yml') as {
    datasources: { uid: string; type: string; url: string }[];
  };
  t.match(ds.datasources, [
    { uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' },
  ]);
  const dashboards = yaml('observability/grafana/provisioning/dashboards/roomcast.yml') as {
    providers: { options: { path: string } }[];
  };
  const path = dashboards.providers[0]?.options.path;
  t.ok(
    services.grafana?.volumes?.includes(`./observability/grafana/dashboards:${path}:ro`),
    'the dashboards folder is mounted where the provider looks',
  );
});

t.test('nats-server.conf: JetStream on a volume, valid for nats-server', async (t) => {
  const conf = read('config/nats-server.conf');
  t.match(conf, /jetstream\s*\{[^}]*store_dir:\s*\/data\//, 'JetStream stores under /data');
  for (const node of NATS_NODES) {
    const service = services[node];
    t.ok(service?.volumes?.includes(`${node}-data:/data`), `${node}: /data is its own volume`);
    t.ok(service?.command?.includes('/etc/nats/nats-server.conf'), `${node}: runs with it`);
    t.equal(service?.environment?.NATS_SERVER_NAME, node, `${node}: named ${node}`);
    t.match(conf, new RegExp(`nats-route://${node}:6222`), `routes reach ${node}`);
  }
  t.match(
    conf,
    /^server_name: \$NATS_SERVER_NAME$/m,
    'each node names itself from NATS_SERVER_NAME',
  );
  t.match(conf, /^include "auth.conf"$/m, 'the users come from auth.conf');
  t.notMatch(conf, /no_auth_user/, 'no anonymous user');
  // The local nats-server (2.9 on Debian) checks everything but the 2.10-only fields.
  const older = conf.replace(/^\s*sync_interval:.*$/m, '');
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-nats-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'nats-server.conf'), older);
  // auth.conf as `npm run nats:credentials` writes it, with keys of its own.
  const users = shippedCredentials.map((credential) => ({
    credential,
    publicKey: publicKeyOf(newSeed()),
  }));
  writeFileSync(join(dir, 'auth.conf'), authorizationConf(users));
  const check = spawnSync('nats-server', ['-t', '-c', join(dir, 'nats-server.conf')], {
    encoding: 'utf8',
    env: { ...process.env, NATS_SERVER_NAME: 'nats-1' },
  });
  t.equal(check.status, 0, `nats-server -t: ${check.stdout}${check.stderr}`);
});

t.test('NATS credentials come from secrets written outside the repository', async (t) => {
  for (const node of NATS_NODES)
    t.ok(
      (services[node]?.secrets ?? []).some(
        (s) =>
          typeof s === 'object' && s.source === 'nats_auth' && s.target === '/etc/nats/auth.conf',
      ),
      `${node}: the users file is a secret, where nats-server.conf includes it`,
    );
  t.equal(compose.secrets?.nats_auth?.file, './.secrets/nats/auth.conf');
  for (const name of ROOMCAST) {
    const secret = `nats_${name}_seed`;
    t.equal(
      services[name]?.environment?.NATS_NKEY_SEED_FILE,
      `/run/secrets/${secret}`,
      `${name}: its own seed file`,
    );
    t.ok(services[name]?.secrets?.includes(secret), `${name}: mounts its seed`);
    t.equal(compose.secrets?.[secret]?.file, `./.secrets/nats/${name}.nk`, `${secret}: a file`);
    for (const other of ROOMCAST)
      if (other !== name)
        t.notOk(services[name]?.secrets?.includes(`nats_${other}_seed`), `${name}: not ${other}'s`);
  }
  for (const [name, s] of Object.entries(services))
    if (!isRoomcast(name) && !NATS_NODES.includes(name))
      t.notOk(
        (s.secrets ?? []).some((x) => (typeof x === 'string' ? x : x.source).startsWith('nats_')),
        `${name}: no NATS credential`,
      );
  t.ok(read('.gitignore').split('\n').includes('.secrets/'), '.gitignore: .secrets/');
  t.ok(read('.dockerignore').split('\n').includes('.secrets'), '.dockerignore: .secrets');
});

t.test('Dockerfile: multi-stage, npm ci, build, Node 20 on glibc, not root', async (t) => {
  const dockerfile = read('Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  t.ok(stages.length >= 2, 'multi-stage');
  t.equal(stages.at(-1), 'node:20-slim', 'runtime on node:20-slim (uWebSockets.js needs glibc)');
  t.match(dockerfile, /RUN npm ci\b/);
  t.match(dockerfile, /npm run build/);
  t.match(dockerfile, /ENV NODE_ENV=production/);
  t.match(dockerfile, /^USER node$/m);
  const ignored = read('.dockerignore').split('\n');
  for (const entry of ['node_modules', 'dist', '.data', '.env', '.git'])
    t.ok(ignored.includes(entry), `.dockerignore: ${entry}`);
});

t.test('coturn: TURN REST credentials with the secret the gateway signs with', async (t) => {
  const coturn = services.coturn;
  const args = coturn?.command ?? [];
  t.equal(compose.secrets?.turn_secret?.environment, 'ROOMCAST_TURN_SECRET', 'from .env');
  t.ok(coturn?.secrets?.includes('turn_secret'), 'coturn mounts the secret');
  t.ok(services.gateway?.secrets?.includes('turn_secret'), 'the gateway too');
  const others = Object.keys(services).filter((n) => n !== 'coturn' && n !== 'gateway');
  for (const name of others)
    t.notOk(services[name]?.secrets?.includes('turn_secret'), `${name}: not the TURN secret`);
  const gateway = services.gateway?.environment ?? {};
  t.equal(gateway.TURN_SECRET_FILE, '/run/secrets/turn_secret', 'gateway: TURN_SECRET_FILE');
  // The secret reaches coturn as a config file written at start, never as an argument.
  const script = (coturn?.entrypoint ?? []).join('\n');
  t.match(
    script,
    /cat \/run\/secrets\/turn_secret[\s\S]*static-auth-secret=/,
    'static-auth-secret from the file (test/turn/compose.coturn.test.ts runs it)',
  );
  t.notOk(
    args.some((a) => a.startsWith('--static-auth-secret')),
    'not in argv',
  );
  t.ok(args.includes('--use-auth-secret'), 'use-auth-secret: the TURN REST API scheme');
  t.ok(
    args.some((a) => a.startsWith('--realm=')),
    'a realm',
  );
  t.notOk(args.includes('--allow-loopback-peers'), 'no relaying to loopback');
  t.ok(
    args.includes('--denied-peer-ip=172.16.0.0-172.31.255.255'),
    'no relaying into the compose network',
  );
  const min = args.find((a) => a.startsWith('--min-port='))?.split('=')[1];
  const max = args.find((a) => a.startsWith('--max-port='))?.split('=')[1];
  const listen = args.find((a) => a.startsWith('--listening-port='))?.split('=')[1];
  t.ok(coturn?.ports?.includes(`${min}-${max}:${min}-${max}/udp`), 'the relay range is published');
  t.ok(coturn?.ports?.includes(`${listen}:${listen}/udp`), 'STUN/TURN over udp is published');
  t.ok(coturn?.ports?.includes(`${listen}:${listen}`), 'TURN over tcp too');
  // What clients are handed points at that port, STUN and TURN alike.
  const urls = /^\$\{GATEWAY_ICE_SERVERS:-(.*)\}$/.exec(gateway.GATEWAY_ICE_SERVERS ?? '')?.[1];
  const env = { GATEWAY_ICE_SERVERS: urls ?? '', TURN_SECRET: 'x'.repeat(32) };
  const ice = loadConfig(env).ice.servers;
  t.ok(
    ice.some((u) => u.startsWith('stun:') && u.includes(`:${listen}`)),
    'a STUN URL',
  );
  t.ok(
    ice.some((u) => u.startsWith('turn:') && u.includes(`:${listen}`)),
    'a TURN URL',
  );
});

t.test('docker compose config -q (where a compose CLI exists)', async (t) => {
  const version = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    t.comment('no `docker compose` here: the structure checks above stand in for it');
    t.pass('skipped: no docker compose CLI');
    return;
  }
  const r = spawnSync('docker', ['compose', '-f', 'compose.yaml', 'config', '-q'], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      ROOMCAST_JWT_SECRET: 'x'.repeat(32),
      ROOMCAST_HOOK_SECRET: 'h'.repeat(32),
      ROOMCAST_TURN_SECRET: 't'.repeat(32),
      ROOMCAST_MONGODB_URI: 'mongodb://roomcast:x@mongo:27017/?authSource=admin',
      MONGO_ROOT_PASSWORD: 'x',
      GRAFANA_ADMIN_PASSWORD: 'x',
    },
  });
  t.equal(r.status, 0, r.stderr);
});
