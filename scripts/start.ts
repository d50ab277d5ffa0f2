/**
 * `npm start`: the whole system on one machine. Starts a private nats-server with
 * JetStream storage under the data directory (it survives restarts), then every
 * service as its own process, and prints where to connect. Ctrl-C stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger } from '#shared/log.js';
import type { AnyRoomReply } from '#shared/room.commands.js';
import { subjects } from '#shared/subjects.js';
import { mintToken } from '#shared/tokens.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = resolve(process.env.ROOMCAST_DATA_DIR ?? join(root, '.data'));
const natsPort = Number(process.env.NATS_PORT ?? 4222);
/** The services `npm start` runs, in start order. */
const services = ['room', 'gateway', 'alert'] as const;

mkdirSync(dataDir, { recursive: true });
const secretFile = join(dataDir, 'dev-secret');
if (!existsSync(secretFile))
  writeFileSync(secretFile, randomBytes(32).toString('base64url'), { mode: 0o600 });
const devSecret = process.env.AUTH_JWT_SECRET ?? readFileSync(secretFile, 'utf8').trim();

const env: NodeJS.ProcessEnv = {
  ...process.env,
  NATS_URL: process.env.NATS_URL ?? `nats://127.0.0.1:${natsPort}`,
  AUTH_JWT_SECRET: devSecret,
  GATEWAY_HOST: process.env.GATEWAY_HOST ?? '127.0.0.1',
};
const config = loadConfig(env);
const children = new Map<string, ChildProcess>();
let stopping = false;

function prefixed(name: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) =>
      process.stderr.write(`[${name}] ${line}\n`),
    );
  }
}

function launch(name: string, cmd: string, args: string[]): ChildProcess {
  // A process group of its own: Ctrl-C reaches only this script, which then stops
  // the services before NATS, so they can drain.
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  prefixed(name, child);
  children.set(name, child);
  child.once('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stderr.write(
        `[start] ${name} exited (${signal ?? code ?? '?'}); stopping everything\n`,
      );
      void stop(1);
    }
  });
  return child;
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (stopping) throw new Error('stopping');
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

function exited(child: ChildProcess | undefined): Promise<unknown> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve();
  return new Promise((r) => child.once('exit', r));
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Services first (they drain into NATS), then NATS itself.
  const order = [...services].reverse().map((s) => children.get(s));
  for (const child of order) child?.kill('SIGTERM');
  await Promise.all(order.map(exited));
  const nats = children.get('nats');
  nats?.kill('SIGTERM');
  await exited(nats);
  process.exit(code);
}
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGKILL');
});
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const natsBin =
  ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
if (process.env.NATS_URL === undefined) {
  mkdirSync(join(dataDir, 'nats'), { recursive: true });
  launch('nats', natsBin, [
    '-a',
    '127.0.0.1',
    '-p',
    String(natsPort),
    '-js',
    '-sd',
    join(dataDir, 'nats'),
  ]);
}
const bus = await (async () => {
  let b: Bus | undefined;
  await waitFor('nats-server', async () => {
    b = await Bus.connect({
      servers: config.nats.servers,
      name: 'start',
      requestTimeoutMs: 2000,
      log: createLogger('start', 'error'),
    });
    return true;
  });
  if (b === undefined) throw new Error('no NATS connection');
  return b;
})();

for (const name of services)
  launch(name, process.execPath, [join(root, 'dist', 'services', name, 'main.js')]);
const port = config.gateway.port;
const http = `http://127.0.0.1:${port}`;
await waitFor('gateway', async () => (await fetch(`${http}/healthz`)).ok);

// A demo room to try things in; it already exists after the first start.
await waitFor('room service', async () => {
  const reply = await bus.request<AnyRoomReply>(subjects.roomCommand('demo'), {
    type: 'create',
    userId: 'demo',
    title: 'Demo room',
    isPrivate: false,
  });
  return reply.ok || reply.error.code === 'ROOM_EXISTS';
});
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
    `  signaling (WebSocket): ws://127.0.0.1:${port}/signaling`,
    `  health:                ${http}/healthz`,
    `  NATS:                  ${config.nats.servers.join(',')}`,
    `  data directory:        ${dataDir}`,
    `  development JWT secret (HS256): ${devSecret}`,
    `  token for user "demo" (24 h, may create, publish, view and administer every room):`,
    `    ${token}`,
    `  a room to try: "demo"  (more tokens: npm run token -- <user> --view '*')`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'),
);
