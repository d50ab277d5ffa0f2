/**
 * What compose.yaml describes, run without Docker (these machines have no engine):
 * NATS's three nodes, routed into one cluster, with the shipped config/nats-server.conf, each Roomcast service as a process
 * with exactly the environment compose gives it, and the SRS stand-in with the hook
 * URLs compose gives SRS; then, over the gateway's real port, a room is created,
 * published through the stand-in, played, seen live and ended.
 *
 * How compose's world is mapped onto one machine:
 * - The environment: compose.yaml parsed with its anchors and merge keys,
 *   `${VAR:-default}` substituted from a `.env` made as the README says
 *   (test/helpers/compose.ts).
 * - Secrets: files in a temporary directory (their /run/secrets paths rewritten);
 *   the NATS seeds and users written by `npm run nats:credentials` itself.
 * - Host names: `nats-1:4222` (and its two siblings), `nats-N:6222` routes, `srs:1985`, `jaeger:4318`, `stream:8085`, `gateway:8090`
 *   mapped to loopback ports (NATS, the stand-in's API, an OTLP receiver, the services).
 * - SRS: its environment is run through srs/entrypoint.sh (the real script, with `env`
 *   as the command), and the hook URLs are read as SRS 6 reads them: the
 *   SRS_VHOST_HTTP_HOOKS_ON_* variables over srs.conf's http_hooks.
 *
 * Overrides, and only these (`OVERRIDES` below): the services' fixed ports become
 * free ones; MONGODB_URI_FILE is dropped (no MongoDB here: the catalogue falls back to
 * its JetStream KV store); METRICS_ENABLED=true restores the default that
 * test/helpers/processes.ts turns off (compose does not set it). NATS: its listen,
 * monitoring and store_dir settings are pointed at free ports and a temporary
 * directory, and settings the local nats-server (2.9) lacks are skipped
 * (`SKIPPED_FOR_OLD_NATS`).
 *
 * A wiring mistake must fail here: the same run with the stream service's hook secret
 * removed from its environment has its publish refused, the same run with its
 * STREAM_SRS_API_URL removed never reaches the SRS API, and SRS without the hook
 * secret (no entrypoint, or no secret file) gets no usable hook URLs.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '#shared/auth/tokens.js';
import { SrsStandIn } from './srs/srs.standin.js';
import {
  loadCompose,
  mapHosts,
  serviceEnv,
  writeSecrets,
  type ComposeFile,
} from './helpers/compose.js';
import { freePort } from './helpers/net.js';
import { waitUntil } from './helpers/deadline.js';
import { startOtlpReceiver } from './helpers/otlp.js';
import { startService, type ServiceName, type ServiceProcess } from './helpers/processes.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const ROOMCAST: readonly ServiceName[] = ['gateway', 'room', 'stream', 'alert', 'catalog'];
const HOOK_ACTIONS = ['on_publish', 'on_unpublish', 'on_play', 'on_stop'] as const;

/** The port settings compose fixes, per service: each becomes a free port here. */
const PORT_SETTINGS: Record<ServiceName, string[]> = {
  gateway: ['GATEWAY_PORT', 'GATEWAY_METRICS_PORT'],
  room: ['ROOM_METRICS_PORT'],
  stream: ['STREAM_PORT', 'STREAM_METRICS_PORT'],
  alert: ['ALERT_METRICS_PORT'],
  catalog: ['CATALOG_METRICS_PORT'],
};
/** Besides the ports: what this test changes in compose's environment, and why. */
const OVERRIDES = {
  drop: ['MONGODB_URI_FILE'], // no MongoDB here: the catalogue uses JetStream KV
  set: { METRICS_ENABLED: 'true' }, // compose's default; processes.ts would turn it off
};
/** nats-server.conf settings the local nats-server 2.9 does not know (2.10+). */
const SKIPPED_FOR_OLD_NATS = ['sync_interval'];

/** `.env` as the README has it made (ROOMCAST_HOOK_SECRET included). */
function dotEnv(): Record<string, string> {
  const pw = randomBytes(24).toString('hex');
  return {
    ROOMCAST_JWT_SECRET: randomBytes(48).toString('base64'),
    ROOMCAST_HOOK_SECRET: randomBytes(32).toString('hex'),
    ROOMCAST_TURN_SECRET: randomBytes(24).toString('hex'),
    MONGO_ROOT_PASSWORD: pw,
    ROOMCAST_MONGODB_URI: `mongodb://roomcast:${pw}@mongo:27017/roomcast?authSource=admin`,
    GRAFANA_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
    SRS_CANDIDATE: '127.0.0.1',
  };
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Where one NATS node of compose's cluster listens on loopback. */
interface NatsNodePorts {
  port: number;
  httpPort: number;
  routePort: number;
}

/**
 * nats-server.conf as shipped, for the node at `own` with its store in `dir`: its
 * listen, monitoring and cluster addresses and the routes to every node (`nodes`, by
 * compose service name) on loopback; unknown settings skipped.
 */
function natsConf(
  own: NatsNodePorts,
  nodes: ReadonlyMap<string, NatsNodePorts>,
  dir: string,
  skip: readonly string[],
): string {
  let conf = readFileSync(join(root, 'config/nats-server.conf'), 'utf8');
  const replace = (pattern: RegExp, by: string) => {
    if (!pattern.test(conf)) throw new Error(`nats-server.conf: no ${pattern}`);
    conf = conf.replace(pattern, by);
  };
  replace(/^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${own.port}`);
  replace(/^http: 0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${own.httpPort}`);
  replace(/^(\s+)listen: 0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${own.routePort}`);
  for (const [name, ports] of nodes)
    replace(new RegExp(`nats-route://${name}:6222`), `nats-route://127.0.0.1:${ports.routePort}`);
  replace(/^(\s*)store_dir: \/data\/jetstream$/m, `$1store_dir: ${join(dir, 'jetstream')}`);
  for (const name of skip)
    replace(new RegExp(`^(\\s*)(${name}:.*)$`, 'm'), '$1# skipped (nats-server 2.10+): $2');
  return conf;
}

/** True when the local nats-server predates 2.10. */
function natsIsOld(): boolean {
  const v = /v(\d+)\.(\d+)/.exec(
    spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).stdout,
  );
  return v !== null && Number(v[1]) === 2 && Number(v[2]) < 10;
}

/** Starts nats-server with `conf` and compose's `env`, resolving once its healthcheck (as compose's) passes. */
async function startNatsServer(
  t: Test,
  confFile: string,
  httpPort: number,
  env: Record<string, string>,
): Promise<void> {
  const child = spawn('nats-server', ['-c', confFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  });
  let log = '';
  child.stderr.on('data', (c: Buffer) => {
    log += c.toString();
  });
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`nats-server exited:\n${log}`);
    const ok = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (tries > 200) throw new Error(`nats-server not healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The hook URLs SRS 6 uses: SRS_VHOST_HTTP_HOOKS_ON_* from its environment, else srs.conf's. */
function srsHookUrls(
  env: Readonly<Record<string, string>>,
  toLoopback: (url: string) => string = (url) => url,
): Record<string, string> {
  const conf = readFileSync(join(root, 'srs/srs.conf'), 'utf8');
  const urls: Record<string, string> = {};
  for (const action of HOOK_ACTIONS) {
    const fromEnv = env[`SRS_VHOST_HTTP_HOOKS_${action.toUpperCase()}`];
    const fromFile = new RegExp(`^\\s*${action}\\s+(\\S+);`, 'm').exec(conf)?.[1];
    const url = fromEnv ?? fromFile;
    if (url === undefined) throw new Error(`SRS has no ${action} hook`);
    // The file's URLs name compose hosts too (the environment's are mapped already).
    urls[action] = toLoopback(url);
  }
  return urls;
}

/** Runs srs/entrypoint.sh with `env` and `env` as its command: the environment SRS starts with. */
function srsEntrypointEnv(
  compose: ComposeFile,
  env: Record<string, string>,
): { ok: boolean; env: Record<string, string>; stderr: string } {
  const entrypoint = compose.services.srs?.entrypoint ?? [];
  // No entrypoint of ours: the image's runs SRS with the environment as compose gives it.
  if (entrypoint.length === 0) return { ok: true, env, stderr: '' };
  // The script as compose mounts it (its container path is the entrypoint's last word).
  const mounted = compose.services.srs?.volumes?.find((v) =>
    v.split(':')[1]?.endsWith(String(entrypoint.at(-1))),
  );
  const script = join(root, String(mounted?.split(':')[0]));
  const r = spawnSync(String(entrypoint[0]), [script, 'env'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return { ok: r.status === 0, env: out, stderr: r.stderr };
}

interface Mutation {
  /** Settings removed from a service's environment: as if compose.yaml lacked them. */
  drop?: Partial<Record<ServiceName | 'srs', string[]>>;
}

interface Running {
  gateway: ServiceProcess;
  stream: ServiceProcess;
  srs: SrsStandIn;
  env: Record<string, string>;
  compose: ComposeFile;
  /** SRS's environment after its entrypoint. */
  srsEnv: Record<string, string>;
}

/** Everything compose.yaml starts, as processes, with `mutation` applied. */
async function runCompose(t: Test, mutation: Mutation = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-compose-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const vars = dotEnv();
  const compose = loadCompose(join(root, 'compose.yaml'), vars);

  // `npm run nats:credentials`, into this project directory's .secrets/nats.
  const creds = spawnSync(
    process.execPath,
    [
      '--conditions=roomcast-source',
      '--import',
      'tsx',
      'scripts/nats.credentials.ts',
      join(dir, '.secrets', 'nats'),
    ],
    { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
  );
  if (creds.status !== 0) throw new Error(`nats:credentials failed: ${creds.stderr}`);
  const secretsDir = join(dir, 'run-secrets');
  mkdirSync(secretsDir);
  const secretFiles = writeSecrets(compose, vars, dir, secretsDir);

  // NATS: compose's nodes (nats-1..3), each with the shipped config, its include
  // (auth.conf) beside it as the nats_auth secret, and its own store; routed on loopback.
  const natsNames = Object.keys(compose.services).filter((name) => /^nats-\d+$/.test(name));
  const natsNodes = new Map<string, NatsNodePorts>();
  for (const name of natsNames)
    natsNodes.set(name, {
      port: await freePort(),
      httpPort: await freePort(),
      routePort: await freePort(),
    });
  const skip = natsIsOld() ? SKIPPED_FOR_OLD_NATS : [];
  await Promise.all(
    [...natsNodes].map(async ([name, ports]) => {
      const natsDir = join(dir, name);
      mkdirSync(natsDir);
      writeFileSync(join(natsDir, 'nats-server.conf'), natsConf(ports, natsNodes, natsDir, skip));
      const authSecret = compose.services[name]?.secrets?.find(
        (s) => typeof s === 'object' && s.target === '/etc/nats/auth.conf',
      );
      const authSource = typeof authSecret === 'object' ? authSecret.source : 'nats_auth';
      writeFileSync(join(natsDir, 'auth.conf'), readFileSync(String(secretFiles.get(authSource))));
      const env = compose.services[name]?.environment ?? {};
      await startNatsServer(t, join(natsDir, 'nats-server.conf'), ports.httpPort, env);
    }),
  );

  const otlp = await startOtlpReceiver(t);
  const srs = new SrsStandIn({ hookBase: 'http://127.0.0.1:1/unset', hookTimeoutMs: 5000 });
  await srs.start();
  t.teardown(() => srs.stop());

  // Free ports for the fixed ones, and the compose network's names on loopback.
  const ports: Partial<Record<ServiceName, Record<string, string>>> = {};
  for (const name of ROOMCAST) {
    const own: Record<string, string> = {};
    for (const key of PORT_SETTINGS[name]) {
      if (compose.services[name]?.environment?.[key] === undefined)
        throw new Error(`compose.yaml: ${name} sets no ${key}`);
      own[key] = String(await freePort());
    }
    ports[name] = own;
  }
  const composeEnv = (name: string) => compose.services[name]?.environment ?? {};
  const hosts: Record<string, string> = {
    ...Object.fromEntries(
      [...natsNodes].map(([name, ports]) => [`${name}:4222`, `127.0.0.1:${ports.port}`]),
    ),
    'srs:1985': new URL(srs.apiUrl).host,
    'jaeger:4318': new URL(otlp.endpoint).host,
    [`stream:${composeEnv('stream').STREAM_PORT}`]: `127.0.0.1:${ports.stream?.STREAM_PORT}`,
    [`gateway:${composeEnv('gateway').GATEWAY_PORT}`]: `127.0.0.1:${ports.gateway?.GATEWAY_PORT}`,
  };
  const without = (env: Record<string, string>, keys: readonly string[]) =>
    Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));
  const envOf = (name: ServiceName | 'srs'): Record<string, string> => {
    const env = without(
      serviceEnv(compose, name, { secretFiles, hosts }),
      mutation.drop?.[name] ?? [],
    );
    if (name === 'srs') return env;
    return { ...without(env, OVERRIDES.drop), ...OVERRIDES.set, ...ports[name] };
  };

  // Start order of compose's depends_on: NATS healthy → room → the others → SRS.
  await startService(t, 'room', envOf('room'));
  const [gateway, stream] = await Promise.all([
    startService(t, 'gateway', envOf('gateway')),
    startService(t, 'stream', envOf('stream')),
    startService(t, 'catalog', envOf('catalog')),
    startService(t, 'alert', envOf('alert')),
  ]);

  // SRS: its entrypoint builds the hook URLs; the stand-in posts to one base for all four.
  const entry = srsEntrypointEnv(compose, envOf('srs'));
  const srsEnv = entry.ok ? entry.env : envOf('srs');
  const urls = srsHookUrls(srsEnv, (url) => mapHosts(compose, url, hosts));
  const base = String(urls.on_publish).replace(/\/on_publish$/, '');
  for (const action of HOOK_ACTIONS)
    if (urls[action] !== `${base}/${action}`) throw new Error(`SRS ${action}: ${urls[action]}`);
  srs.hookBase = base;
  return { gateway, stream, srs, env: vars, compose, srsEnv };
}

/** Until `check` holds (polled), or fails with `what` after `timeoutMs`. */
const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) =>
  waitUntil(what, check, { ms: timeoutMs });

/** A JSON answer, read loosely: the test looks for what it expects and fails otherwise. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked by the assertions
type Json = Record<string, any>;

/** A REST client on the gateway's real port, as `sub`. */
async function rest(run: Running, sub: string, grants?: { create?: boolean }) {
  const gw = run.compose.services.gateway?.environment ?? {};
  const token = await mintToken({
    secret: run.env.ROOMCAST_JWT_SECRET ?? '',
    issuer: gw.AUTH_ISSUER ?? '',
    audience: gw.AUTH_AUDIENCE ?? '',
    sub,
    ...(grants === undefined ? {} : { grants }),
  });
  return async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${run.gateway.port}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: (text === '' ? {} : JSON.parse(text)) as Json };
  };
}

/** Creates a public room as alice; its owner's publish parameter (`?key=...`). */
async function createRoom(run: Running, roomId: string) {
  const alice = await rest(run, 'alice', { create: true });
  const made = await alice('POST', '/api/rooms', { roomId, title: 'Compose', isPrivate: false });
  if (made.status !== 201) throw new Error(`create: ${made.status} ${JSON.stringify(made.body)}`);
  const urls = await alice('GET', `/api/rooms/${roomId}/urls`);
  const publish = new URL(String(urls.body.publish?.rtmp)).search;
  return { alice, publish };
}

t.test('compose.yaml as processes: create a room, publish, play, end it', async (t) => {
  const run = await runCompose(t);
  const { srs } = run;
  t.match(
    run.srsEnv.SRS_VHOST_HTTP_HOOKS_ON_PUBLISH,
    new RegExp(`/api/srs/hooks/${run.env.ROOMCAST_HOOK_SECRET}/on_publish$`),
    "SRS's on_publish carries the hook secret of .env",
  );
  const roomId = 'compose-room';
  const { alice, publish } = await createRoom(run, roomId);
  t.match(publish, /^\?key=/, 'the owner publishes with the stream key');

  const published = await srs.publish(roomId, publish);
  t.ok(published.ok, `on_publish allowed (${published.error ?? 'ok'})`);
  await until('the room is live', async () => {
    const r = await alice('GET', `/api/rooms/${roomId}`);
    return r.body.room?.status === 'live' || r.body.status === 'live';
  });
  t.pass('the room is live');
  await until('the stream service reads the SRS API', () =>
    srs.apiRequests.some((r) => r.startsWith('GET /api/v1/')),
  );
  t.pass('the stream service reached the SRS API at STREAM_SRS_API_URL');

  const bob = await rest(run, 'bob');
  const playUrls = await bob('GET', `/api/rooms/${roomId}/urls`);
  t.equal(playUrls.status, 200, 'a viewer gets the play URLs');
  const played = await srs.play(roomId, new URL(String(playUrls.body.play?.rtmp)).search);
  t.ok(played.ok, `on_play allowed (${played.error ?? 'ok'})`);
  const stream = await alice('GET', `/api/rooms/${roomId}/stream`);
  t.equal(stream.status, 200, `the stream's state: ${JSON.stringify(stream.body)}`);

  const ended = await alice('DELETE', `/api/rooms/${roomId}`);
  t.equal(ended.status, 200, 'the owner ends the room');
  await until('the ended room’s publisher is kicked through the SRS API', () =>
    srs.apiRequests.includes(`DELETE /api/v1/clients/${published.clientId}`),
  );
  t.notOk(srs.hasClient(published.clientId), 'SRS no longer carries the publisher');
  t.notOk(srs.hasClient(played.clientId), 'nor the player');
  const again = await srs.publish(roomId, publish);
  t.notOk(again.ok, 'an ended room refuses a new publish');
});

t.test('a stream service without the hook secret refuses every publish', async (t) => {
  const run = await runCompose(t, { drop: { stream: ['STREAM_HOOK_SECRET_FILE'] } });
  const { publish } = await createRoom(run, 'no-secret');
  const published = await run.srs.publish('no-secret', publish);
  t.notOk(published.ok, 'on_publish refused: SRS calls with a secret the service does not have');
  t.equal(run.srs.hooksOf('on_publish')[0]?.status, 403, 'answered 403 (unknown source)');
});

t.test('a stream service without STREAM_SRS_API_URL never reaches SRS', async (t) => {
  const run = await runCompose(t, { drop: { stream: ['STREAM_SRS_API_URL'] } });
  const { publish } = await createRoom(run, 'no-api');
  t.ok((await run.srs.publish('no-api', publish)).ok, 'the hook still answers');
  // What the service logs when it cannot read SRS (the reconcile's or the confirmation's).
  await run.stream.waitFor(/SRS API|SRS (is )?(down|unreachable)|confirmation failed/, 20_000);
  t.same(run.srs.apiRequests, [], 'and the stand-in’s API saw no request');
});

t.test('SRS without the hook secret gets no usable hook URL', async (t) => {
  const vars = dotEnv();
  const compose = loadCompose(join(root, 'compose.yaml'), vars);
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-compose-srs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secretFiles = new Map([['stream_hook_secret', join(dir, 'stream_hook_secret')]]);
  const hosts = { 'stream:8085': '127.0.0.1:8085' };
  const env = serviceEnv(compose, 'srs', { secretFiles, hosts });
  // No secret file at all (e.g. ROOMCAST_HOOK_SECRET unset and an empty file not made).
  const missing = srsEntrypointEnv(compose, env);
  t.notOk(missing.ok, `the entrypoint stops SRS: ${missing.stderr.trim()}`);
  for (const bad of ['', 'short', 'CHANGE_ME_HOOK_SECRET', 'has spaces in it, 16+ chars']) {
    writeFileSync(join(dir, 'stream_hook_secret'), bad);
    t.notOk(srsEntrypointEnv(compose, env).ok, `refused: ${JSON.stringify(bad)}`);
  }
  // Without the entrypoint, SRS would use srs.conf's URLs: the placeholder, which the
  // stream service refuses to take as its secret.
  const fileOnly = srsHookUrls({});
  t.match(fileOnly.on_publish, /\/CHANGE_ME_HOOK_SECRET\/on_publish$/);
});
