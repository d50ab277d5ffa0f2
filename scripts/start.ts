/**
 * `npm start`: the whole system on one machine. Starts a private nats-server with
 * JetStream storage under the data directory (it survives restarts), then every
 * service that is built as its own process, and prints where to connect. Ctrl-C
 * (or SIGTERM) stops them all, services first so that they drain into NATS.
 *
 * The gateway runs as GATEWAY_WORKERS processes (one per core by default) that all
 * listen on GATEWAY_PORT, each with a gateway id of its own: a room spans them as it
 * spans gateways on different hosts (see start.workers.ts).
 *
 * A service that crashes is started again with backoff while the others keep
 * serving; nats-server exiting, or a crash loop, stops everything with the reason
 * (the policy: supervisor.ts; applying it: start.supervise.ts). Each restart is
 * logged with how the process ended, and the counts are in the last line.
 *
 * Environment: ROOMCAST_DATA_DIR (default .data under the repository root),
 * NATS_PORT (4222; or NATS_URL to use a nats-server of your own), NATS_CLUSTER (1; 3
 * runs three routed nodes on NATS_PORT…+2 with NATS_REPLICAS=3), GATEWAY_PORT
 * (8090), GATEWAY_WORKERS, START_RESTART_DELAY_MS (250), START_RESTART_MAX_DELAY_MS
 * (10000), START_CRASH_LOOP_COUNT (5), START_CRASH_LOOP_WINDOW_MS (60000), and every
 * variable of config/config.ts, passed on to the services.
 *
 * The private nats-server refuses anonymous connections: each service connects as its
 * own NATS user, with the permissions of shared/runtime/bus.permissions.ts. Their nkey
 * seeds are made on the first start in `<data>/credentials/` (mode 0600, kept across
 * restarts); `<data>/nats.conf` holds only the public keys. With NATS_URL (a server of
 * your own), the services get whatever NATS_NKEY_SEED_FILE says, as you set it.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { connectAuth } from '#shared/runtime/bus.credentials.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { ErrorCode } from '#shared/wire/errors.js';
import { mintToken } from '#shared/auth/tokens.js';
import { dataDir as dataDirectory, repoRoot } from './data.dir.js';
import { startCredentials, startNatsNodes } from './start.nats.js';
import { Supervisor } from './start.supervise.js';
import { gatewayWorkers, restartedId, workerCount } from './start.workers.js';
import { restartPolicy } from './supervisor.js';

const root = repoRoot();
const dataDir = dataDirectory();
const natsPort = Number(process.env.NATS_PORT ?? 4222);
/** NATS_CLUSTER=3: three local nats-servers in one cluster, streams with 3 replicas. */
const natsCluster = Number(process.env.NATS_CLUSTER ?? 1);
const clusterUrls = Array.from(
  { length: Math.max(1, natsCluster) },
  (_, i) => `nats://127.0.0.1:${natsPort + i}`,
).join(',');
/** Time a process has to stop after SIGTERM before it is killed, in ms. */
const STOP_TIMEOUT_MS = 10_000;
/** Time each part has to come up, in ms. */
const READY_TIMEOUT_MS = 30_000;

/**
 * The services, in start order (the gateway last: once it answers, clients may
 * come). One that is not built (no dist/services/<name>/main.js) is skipped, so
 * a service lands here by existing.
 */
const SERVICES = ['room', 'catalog', 'stream', 'alert', 'gateway'] as const;
const entry = (name: (typeof SERVICES)[number]) => join(root, 'dist', 'services', name, 'main.js');
const services = SERVICES.filter((name) => existsSync(entry(name)));
const skipped = SERVICES.filter((name) => !services.includes(name));

mkdirSync(dataDir, { recursive: true });
/** Who runs on this data directory: refuses a second `npm start` on the same store. */
const runFile = join(dataDir, 'run.json');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
if (existsSync(runFile)) {
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as {
    pid: number;
    children: Record<string, number>;
  };
  if (alive(run.pid)) {
    process.stderr.write(
      `[start] npm start is already running on ${dataDir} (pid ${run.pid}); stop it first\n`,
    );
    process.exit(1);
  }
  const left = Object.entries(run.children).filter(([, pid]) => alive(pid));
  if (left.length > 0)
    process.stderr.write(
      `[start] a previous npm start died and may have left: ${left.map(([n, p]) => `${n} (pid ${p})`).join(', ')}\n`,
    );
}

/** A secret kept in the data directory, made on the first start. */
function keptSecret(name: string): string {
  const file = join(dataDir, name);
  if (!existsSync(file))
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}
const devSecret = process.env.AUTH_JWT_SECRET ?? keptSecret('dev-secret');
/** The secret in SRS's hook URLs (SRS does not sign its callbacks). */
const hookSecret = process.env.STREAM_HOOK_SECRET ?? keptSecret('hook-secret');

const env: NodeJS.ProcessEnv = {
  ...process.env,
  NATS_URL: process.env.NATS_URL ?? clusterUrls,
  ...(natsCluster > 1 && process.env.NATS_URL === undefined
    ? { NATS_REPLICAS: process.env.NATS_REPLICAS ?? String(Math.min(3, natsCluster)) }
    : {}),
  AUTH_JWT_SECRET: devSecret,
  STREAM_HOOK_SECRET: hookSecret,
  GATEWAY_HOST: process.env.GATEWAY_HOST ?? '127.0.0.1',
  // Development only: the demo page and its token endpoint. Nothing else turns these on.
  GATEWAY_DEMO: process.env.GATEWAY_DEMO ?? 'true',
  GATEWAY_DEV_TOKENS: process.env.GATEWAY_DEV_TOKENS ?? 'true',
  // One room replica with a stable name: after a crash it takes its own leases back at once.
  ROOM_REPLICA_ID: process.env.ROOM_REPLICA_ID ?? 'local-room',
};
const config = loadConfig(env);
/**
 * Without GATEWAY_ID the workers' ids are new on every run (host, this script's pid and
 * a random tag, as a lone gateway's default id): the room service lets go of a dead
 * gateway's members when its beacon stops, which a successor with the same id would
 * keep alive for ever.
 */
const runId = `${hostname()
  .replace(/[^A-Za-z0-9_-]/g, '_')
  .slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
const workers = gatewayWorkers({
  count: workerCount(config.gateway.workers, availableParallelism()),
  baseId: process.env.GATEWAY_ID ?? runId,
  metricsPort: config.telemetry.gatewayMetricsPort,
});
const supervisor = new Supervisor({
  policy: restartPolicy(process.env),
  env,
  log: (line) => process.stderr.write(`[start] ${line}\n`),
  output: (name, line) => process.stderr.write(`[${name}] ${line}\n`),
  changed: () => {
    if (!stopping) writeRunFile();
  },
  onFatal: () => void stop(1),
});
let stopping = false;

function writeRunFile(): void {
  writeFileSync(runFile, JSON.stringify({ pid: process.pid, children: supervisor.pids() }) + '\n');
}

/** Signals a child's whole process group (whatever it started itself goes too). */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    child.kill(sig);
  }
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (stopping) throw new Error('stopping');
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/** Stops `child` with SIGTERM, and SIGKILL if it is still there after the timeout. */
async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  signal(child, 'SIGTERM');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  supervisor.stopRestarting();
  process.stderr.write('[start] stopping\n');
  // In reverse start order: the gateway first (no new clients; its members'
  // disconnects still reach the room service), NATS last.
  for (const name of [...services].reverse()) {
    if (name === 'gateway')
      await Promise.all(workers.map((w) => terminate(supervisor.child(w.name))));
    else await terminate(supervisor.child(name));
  }
  for (const name of Object.keys(supervisor.pids()).filter((n) => /^nats(-\d+)?$/.test(n)))
    await terminate(supervisor.child(name));
  rmSync(runFile, { force: true });
  process.stderr.write(`[start] stopped${restartSummary()}\n`);
  process.exit(code);
}
/** ` (restarts: room 2, stream 1)`, or nothing when nothing was restarted. */
function restartSummary(): string {
  const counts = Object.entries(supervisor.restarts());
  return counts.length === 0
    ? ''
    : ` (restarts: ${counts.map(([n, c]) => `${n} ${c}`).join(', ')})`;
}
process.on('exit', () => {
  for (const name of Object.keys(supervisor.pids())) {
    const child = supervisor.child(name);
    if (child !== undefined) signal(child, 'SIGKILL');
  }
});
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

/** Our own nats-server owns the credentials; with NATS_URL, they are the operator's. */
const ownNats = process.env.NATS_URL === undefined;
const credentials = startCredentials({
  dataDir,
  ownNats,
  configuredSeedFile: config.nats.nkeySeedFile,
});

async function main(): Promise<void> {
  if (ownNats) {
    const natsBin =
      ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
    const nodes = startNatsNodes({
      dataDir,
      port: natsPort,
      cluster: natsCluster,
      authConfig: credentials.writeServerConfig(),
    });
    for (const node of nodes)
      supervisor.start({
        name: node.name,
        cmd: natsBin,
        // One node of a cluster may die and is started again; the only node may not.
        role: { essential: nodes.length === 1, mayFinish: false },
        args: node.args,
      });
  }
  let connected: Bus | undefined;
  await waitFor('nats-server', async () => {
    // The demo rooms are created as a gateway would: `create` is a user command.
    connected = await Bus.connect({
      servers: config.nats.servers,
      name: 'start',
      requestTimeoutMs: 2000,
      log: createLogger('start', 'error'),
      ...connectAuth(Credential.gateway, credentials.seedFile(Credential.gateway)),
    });
    return true;
  });
  const bus = connected;
  if (bus === undefined) throw new Error('no NATS connection');

  for (const name of services) {
    if (name !== 'gateway')
      supervisor.start({
        name,
        cmd: process.execPath,
        args: [entry(name)],
        env: () => credentials.env(name),
        role: { essential: false, mayFinish: true },
      });
    else
      for (const w of workers)
        supervisor.start({
          name: w.name,
          cmd: process.execPath,
          args: [entry(name)],
          env: (restart) => ({
            ...credentials.env(Credential.gateway),
            GATEWAY_ID: restartedId(w.id, restart),
            GATEWAY_METRICS_PORT: String(w.metricsPort),
          }),
          // A gateway worker always serves: exit 0 is a crash too.
          role: { essential: false, mayFinish: false },
        });
  }
  const port = config.gateway.port;
  const http = `http://127.0.0.1:${port}`;
  if (services.includes('gateway'))
    await waitFor(`${workers.length} gateway process(es) on port ${port}`, () =>
      everyWorkerAnswers(http),
    );

  // The demo rooms; after the first start they exist already.
  const rooms = new RoomClient(bus);
  for (const room of config.gateway.demoRooms) {
    await waitFor(`room service (creating room "${room}")`, async () => {
      try {
        await rooms.create(room, { userId: 'demo', title: `Demo room ${room}`, isPrivate: false });
        return true;
      } catch (err) {
        if (err instanceof RoomRefusedError && err.code === ErrorCode.ROOM_EXISTS) return true;
        throw err;
      }
    });
  }
  await bus.close();

  const token = await mintToken({
    secret: devSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    sub: 'demo',
    ttlS: 24 * 3600,
    grants: { create: true, publish: ['*'], view: ['*'], admin: ['*'] },
  });
  process.stdout.write(
    [
      '',
      'Roomcast is running.',
      `  demo page:             ${http}/demo/`,
      `  signaling (WebSocket): ws://127.0.0.1:${port}/signaling`,
      `  REST API:              ${http}/api/rooms`,
      `  SRS hooks (srs.conf):  ${hookUrl()}`,
      `  health:                ${http}/healthz`,
      `  NATS:                  ${config.nats.servers.join(',')}${credentials.dir === undefined ? '' : `  (users and their seeds: ${credentials.dir})`}`,
      `  data directory:        ${dataDir}`,
      `  services:              ${services.join(', ')}${skipped.length > 0 ? `  (not built yet: ${skipped.join(', ')})` : ''}`,
      `  gateway processes:     ${workers.length} on port ${port} (GATEWAY_WORKERS; ids ${workers[0]?.id ?? ''}${workers.length > 1 ? ` … ${workers.at(-1)?.id ?? ''}` : ''})`,
      ...(config.telemetry.metricsEnabled
        ? [`  gateway /metrics:      ports ${workers.map((w) => w.metricsPort).join(', ')}`]
        : []),
      `  development JWT secret (HS256): ${devSecret}`,
      `  token for user "demo" (24 h; may create, publish, view and administer every room):`,
      `    ${token}`,
      `  demo rooms: ${config.gateway.demoRooms.join(', ')}  (more tokens: npm run token -- <user> --view '*')`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

/** Ids of gateway processes seen answering /healthz on the shared port, so far. */
const answered = new Set<string>();
/**
 * Whether every gateway worker answered /healthz on the shared port. Each probe is a
 * connection of its own (the kernel picks a worker per connection), a round of them
 * at a time so that many workers are all met within a few rounds.
 */
async function everyWorkerAnswers(http: string): Promise<boolean> {
  const probes = Array.from({ length: 2 * workers.length }, async () => {
    const res = await fetch(`${http}/healthz`, { headers: { connection: 'close' } });
    const body = (await res.json()) as { gateway?: unknown };
    if (res.ok && typeof body.gateway === 'string') answered.add(body.gateway);
  });
  await Promise.allSettled(probes);
  return workers.every((w) => answered.has(w.id));
}

/**
 * Where SRS's http_hooks go: the stream service's port (from its config section)
 * with the hook path that srs/srs.conf uses.
 */
function hookUrl(): string {
  if (!services.includes('stream')) return '(the stream service is not built yet)';
  const port = (config.stream as Record<string, unknown>).port;
  if (typeof port !== 'number') return '(see the stream service log)';
  const srsConf = join(root, 'srs', 'srs.conf');
  const hook = existsSync(srsConf)
    ? /on_publish\s+(https?:\/\/[^\s;]+)/.exec(readFileSync(srsConf, 'utf8'))?.[1]
    : undefined;
  // srs/srs.conf carries a placeholder where the secret goes; this run's secret replaces it.
  const path =
    hook === undefined ? '/' : new URL(hook).pathname.replace('CHANGE_ME_HOOK_SECRET', hookSecret);
  return `http://127.0.0.1:${port}${path}`;
}

main().catch((err: unknown) => {
  if (stopping) return;
  process.stderr.write(`[start] ${err instanceof Error ? err.message : String(err)}\n`);
  void stop(1);
});
