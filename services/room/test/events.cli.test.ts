/**
 * The operators' CLI (`npm run events`): shows a room's events from a sequence or a
 * time, follows new ones live, and rebuilds a room from its log to compare it with
 * the live room.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { JetStreamRoomLog } from '../room.log.js';
import { RoomService } from '../room.service.js';
import { KvSnapshotStore } from '../room.snapshots.js';
import { parseSince } from '../../../scripts/events.js';
import { startNats } from '../../../test/helpers/nats.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const none = { publish: false, view: false, admin: false };
const cliArgs = ['--conditions=roomcast-source', '--import', 'tsx', 'scripts/events.ts'];

t.test('events CLI', async (t) => {
  const nats = await startNats();
  const logger = createLogger('test', 'error');
  const config = loadConfig({ NATS_URL: nats.url });
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name: 'cli-test',
    requestTimeoutMs: 2000,
    log: logger,
  });
  const log = await JetStreamRoomLog.open(bus.nc, { writer: 'svc', replicas: 1, timeoutMs: 2000 });
  const service = new RoomService({
    bus,
    config: config.room,
    log,
    snapshots: await KvSnapshotStore.open(bus.nc, { replicas: 1 }),
    logger,
  });
  await service.start();
  t.teardown(async () => {
    await service.stop();
    await bus.close();
    await nats.stop();
  });
  await service.handle('r1', { type: 'create', userId: 'o', title: 'One', isPrivate: false });
  await service.handle('r1', {
    type: 'join',
    peerId: 'p1',
    userId: 'o',
    role: 'publisher',
    perms: none,
    gateway: 'g',
    conn: 'c1',
  });
  await service.handle('r1', {
    type: 'join',
    peerId: 'p2',
    userId: 'u',
    role: 'viewer',
    perms: none,
    gateway: 'g',
    conn: 'c2',
  });
  await service.handle('r2', { type: 'create', userId: 'o', title: 'Two', isPrivate: true });

  // As operators run it: the read-only `events` user.
  const env = { ...process.env, ...nats.env('events') };
  // Asynchronous on purpose: the room service answering `rebuild` lives in this process.
  const cli = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [...cliArgs, ...args],
        { cwd: root, env, encoding: 'utf8' },
        (err, stdout, stderr) => {
          resolve({
            status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1,
            stdout,
            stderr,
          });
        },
      );
    });

  const rooms = await cli('rooms');
  t.equal(rooms.status, 0, rooms.stderr);
  t.match(rooms.stdout, /^r1\t3 batches\nr2\t1 batches\n$/, 'rooms and their batch counts');

  const show = await cli('show', 'r1');
  t.equal(show.status, 0, show.stderr);
  const lines = show.stdout.trim().split('\n');
  t.same(
    lines.map((l) => `${l.split('\t')[0] ?? ''} ${l.split('\t')[2] ?? ''}`),
    ['#1 room_created', '#2 member_joined', '#3 publisher_granted', '#4 member_joined'],
    'one line per event with its room sequence',
  );

  t.same(
    (await cli('show', 'r1', '--from-seq', '3')).stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0]),
    ['#3', '#4'],
    '--from-seq',
  );
  t.equal(
    (await cli('show', 'r1', '--since', '1h')).stdout.trim().split('\n').length,
    4,
    '--since a duration',
  );
  t.equal(
    (await cli('show', 'r1', '--since', '2999-01-01T00:00:00Z')).stdout,
    '',
    '--since a future date: nothing',
  );
  const json = (await cli('show', 'r1', '--json')).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { seq: number; type: string; room: string });
  t.same(
    json.map((e) => [e.room, e.seq, e.type]),
    [
      ['r1', 1, 'room_created'],
      ['r1', 2, 'member_joined'],
      ['r1', 3, 'publisher_granted'],
      ['r1', 4, 'member_joined'],
    ],
  );

  const rebuild = await cli('rebuild', 'r1');
  t.equal(rebuild.status, 0, rebuild.stdout + rebuild.stderr);
  t.match(rebuild.stdout, /MATCH: the live room equals its log/);

  t.test('--follow prints new events as they are appended', async (t) => {
    const child = spawn(process.execPath, [...cliArgs, 'show', 'r1', '--follow'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seen: string[] = [];
    const next = (re: RegExp) =>
      new Promise<void>((resolve) => {
        const rl = createInterface({ input: child.stdout });
        rl.on('line', (l) => {
          seen.push(l);
          if (re.test(l)) {
            rl.close();
            resolve();
          }
        });
      });
    await next(/^#4\t/);
    const more = next(/^#5\t.*member_left/);
    await service.handle('r1', {
      type: 'leave',
      peerId: 'p2',
      userId: 'u',
      gateway: 'g',
      conn: 'c2',
    });
    await more;
    child.kill('SIGINT');
    t.ok(
      seen.some((l) => l.startsWith('#5\t')),
      'the new event arrived live',
    );
  });

  t.test('rebuild tells when the live room differs from its log', async (t) => {
    // Another writer appends behind the live room's back: the log now holds an event the room never applied.
    const intruder = await JetStreamRoomLog.open(bus.nc, {
      writer: 'intruder',
      replicas: 1,
      timeoutMs: 2000,
    });
    const [last] = (await intruder.readRoom('r2', 0)).slice(-1);
    await intruder.append(
      'r2',
      [{ type: 'publisher_refused', v: 1, at: Date.now(), userId: 'x', reason: 'PUBLISHER_TAKEN' }],
      {
        seq: last!.batch.seq,
        streamSeq: last!.streamSeq,
      },
    );
    const r = await cli('rebuild', 'r2');
    t.equal(r.status, 1, 'exit code 1');
    t.match(r.stdout, /DIFFERENT/);
  });

  t.test('usage errors', async (t) => {
    t.equal((await cli()).status, 2);
    t.equal((await cli('show')).status, 2, 'a room is required');
    t.equal((await cli('show', 'bad.room')).status, 2, 'room ids are checked');
  });
});

t.test('--since parses dates and durations', async (t) => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  t.equal(parseSince('90s', now), now - 90_000);
  t.equal(parseSince('15m', now), now - 900_000);
  t.equal(parseSince('2h', now), now - 7_200_000);
  t.equal(parseSince('1d', now), now - 86_400_000);
  t.equal(parseSince('2026-11-24T10:00:00Z', now), Date.parse('2026-11-24T10:00:00Z'));
  t.throws(() => parseSince('yesterday', now));
});
