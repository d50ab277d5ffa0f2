/**
 * `npm start` keeps serving when a service dies: its script (dist/scripts/start.js,
 * built first) on free ports and a temporary data directory; the room service is
 * SIGKILLed and must come back by itself, with the rooms it had (from JetStream),
 * while the gateway stays up; the restart is logged and counted, and Ctrl-C still
 * stops everything cleanly.
 */
import t from 'tap';
import { buildIfStale } from './helpers/build.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/deadline.js';

const root = fileURLToPath(new URL('../', import.meta.url));

interface RunFile {
  pid: number;
  children: Record<string, number>;
}

const readRun = (dataDir: string): RunFile =>
  JSON.parse(readFileSync(join(dataDir, 'run.json'), 'utf8')) as RunFile;

const until = <T>(what: string, get: () => Promise<T | undefined> | T | undefined): Promise<T> =>
  waitFor(what, get, { ms: 60_000, everyMs: 100 });

t.test('the room service is SIGKILLed: it comes back, the rest kept serving', async (t) => {
  if (!(await buildIfStale(t))) return;

  const dataDir = mkdtempSync(join(tmpdir(), 'roomcast-restart-'));
  const ports: Record<string, string> = { GATEWAY_WORKERS: '1', LOG_LEVEL: 'warn' };
  for (const key of ['NATS_PORT', 'GATEWAY_PORT', 'STREAM_PORT'])
    ports[key] = String(await freePort());
  for (const name of ['GATEWAY', 'ROOM', 'STREAM', 'ALERT', 'CATALOG'])
    ports[`${name}_METRICS_PORT`] = String(await freePort());
  const inherited = Object.entries(process.env).filter(
    ([key]) =>
      !/^(NATS_|GATEWAY_|AUTH_|ROOM_|ROOMCAST_|STREAM_|ALERT_|CATALOG_|METRICS_|START_)/.test(key),
  );
  const system = spawn(process.execPath, [join(root, 'dist/scripts/start.js')], {
    cwd: root,
    env: { ...Object.fromEntries(inherited), ...ports, ROOMCAST_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  system.stdout.on('data', (c: Buffer) => (out += c.toString()));
  system.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => system.once('exit', r));
  t.teardown(() => {
    // Whatever a failed stop left behind: the run file lists the process groups.
    if (existsSync(join(dataDir, 'run.json')))
      for (const pid of Object.values(readRun(dataDir).children)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
    system.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  await until('npm start is up', () =>
    out.includes('Ctrl-C stops everything.') ? true : system.exitCode === null ? undefined : false,
  );
  t.equal(system.exitCode, null, `npm start is up: ${err.slice(-2000)}`);
  const token = /\n {4}(eyJ[\w-]+\.[\w-]+\.[\w-]+)\n/.exec(out)?.[1] ?? '';
  const http = `http://127.0.0.1:${ports.GATEWAY_PORT}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`${http}/api/rooms`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ roomId: 'before', title: 'Before the crash', isPrivate: false }),
  });
  t.equal(created.status, 201, 'a room made before the crash');

  const before = readRun(dataDir).children;
  const roomPid = before.room;
  if (roomPid === undefined) throw new Error('no room service in the run file');
  process.kill(-roomPid, 'SIGKILL');

  await until('the restart', () => (err.includes('room started again') ? true : undefined));
  t.match(
    err,
    /\[start\] room exited \(signal SIGKILL\); restart 1 in \d+ ms/,
    'logged with the signal',
  );
  const after = readRun(dataDir).children;
  t.not(after.room, roomPid, 'a new room service');
  t.equal(after.gateway, before.gateway, 'the gateway kept running');
  t.equal(after.nats, before.nats, 'and nats-server');

  const room = await until('the room service answers again', async () => {
    const res = await fetch(`${http}/api/rooms/before`, { headers });
    return res.status === 200
      ? ((await res.json()) as { room?: { id?: string; title?: string } })
      : undefined;
  });
  t.match(
    room,
    { room: { id: 'before', title: 'Before the crash' } },
    'with the room it had before the crash',
  );
  const again = await fetch(`${http}/api/rooms`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ roomId: 'after', title: 'After the crash', isPrivate: false }),
  });
  t.equal(again.status, 201, 'and takes new rooms');
  t.equal(system.exitCode, null, 'npm start still runs');

  system.kill('SIGINT');
  t.equal(await exited, 0, 'Ctrl-C still stops everything cleanly');
  t.match(err, /\[start\] stopped \(restarts: room 1\)/, 'the restart count in the last line');
});
