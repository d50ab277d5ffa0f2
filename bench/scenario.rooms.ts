/**
 * Scenario `rooms`: the room service with its events persisted in JetStream.
 *
 * 1. Persisted transitions per second: joins and leaves of 1,000 rooms from
 *    load processes of their own (each its own NATS connection), every one
 *    acknowledged only after its events are in ROOM_EVENTS. Room-service, nats-server
 *    and load CPU are reported, so the load is seen not to be the bottleneck.
 * 2. Restart time: 10,000 rooms (created, two members each), the room service killed
 *    with SIGKILL right after the traffic, started again: the time until it is ready
 *    (every room loaded from snapshots and log tails) and until a sample of rooms
 *    answers.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { ErrorCode } from '#shared/wire/errors.js';
import { cpuBetween, launch, markCpu, machineBusyCores, type Child } from './bench.procs.js';
import {
  fmt,
  interleave,
  median,
  type BenchContext,
  type Scenario,
  type Section,
  type Table,
} from './bench.scenario.js';
import { pool } from '#shared/runtime/task.pool.js';
import { launchNats } from './bench.system.js';

const GOAL_TRANSITIONS_PER_S = 5000;
const GOAL_RESTART_S = 10;

interface Rig {
  nats: Child;
  natsUrl: string;
  bus: Bus;
  room: Child;
  env: NodeJS.ProcessEnv;
  startRoom(): Promise<Child>;
  stop(): Promise<void>;
}

/** A nats-server and the room service of the build in `root` (ours, or `--against`'s). */
async function startRig(ctx: BenchContext, root: string = ctx.root): Promise<Rig> {
  const store = mkdtempSync(join(tmpdir(), 'roomcast-bench-rooms-'));
  const { nats, url: natsUrl } = await launchNats(store);
  // A stable replica id, as production runs it: the restarted service takes its own
  // leases back at once instead of waiting for them to lapse.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NATS_URL: natsUrl,
    LOG_LEVEL: 'info',
    METRICS_ENABLED: 'false',
    ROOM_REPLICA_ID: 'bench-room',
  };
  const startRoom = async () => {
    const room = launch('room', process.execPath, [join(root, 'dist/services/room/main.js')], env);
    await room.waitFor(/room service ready/, 120_000);
    return room;
  };
  const room = await startRoom();
  const bus = await Bus.connect({
    servers: [natsUrl],
    name: 'bench-rooms',
    requestTimeoutMs: 30_000,
    log: createLogger('bench', 'error'),
  });
  const rig: Rig = {
    nats,
    natsUrl,
    bus,
    room,
    env,
    startRoom,
    async stop() {
      await bus.close();
      await rig.room.stop();
      await nats.stop();
      rmSync(store, { recursive: true, force: true });
    },
  };
  return rig;
}

async function createRooms(bus: Bus, count: number, members: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => `bench${i}`);
  const none = { publish: false, view: false, admin: false };
  const rooms = new RoomClient(bus);
  await pool(ids, 128, async (id) => {
    await rooms
      .create(id, { userId: 'bench', title: id, isPrivate: false, maxViewers: 10_000 })
      .catch((err: unknown) => {
        if (!(err instanceof RoomRefusedError)) throw err;
        if (err.body.code !== ErrorCode.ROOM_EXISTS)
          throw new Error(`create ${id}: ${err.body.code}`);
      });
    for (let m = 0; m < members; m++) {
      const peerId = `m${m}`;
      // Members only fill the rooms' state: a refused join does not stop the run.
      await rooms
        .join(id, {
          peerId,
          userId: peerId,
          role: 'viewer',
          perms: none,
          gateway: 'bench',
          conn: peerId,
        })
        .catch((err: unknown) => {
          if (!(err instanceof RoomRefusedError)) throw err;
        });
    }
  });
}

interface LoadResult {
  acked: number;
  refused: number;
  failed: number;
}

async function transitions(
  ctx: BenchContext,
  rig: Rig,
  seconds: number,
): Promise<{
  perS: number;
  roomCores: number;
  natsCores: number;
  loadCores: number;
  machineCores: number;
  refused: number;
  failed: number;
}> {
  const loaders = Array.from({ length: 2 }, (_, i) =>
    fork(
      join(ctx.root, 'dist/bench/load.rooms.js'),
      [rig.natsUrl, '1000', '64', String(seconds), String(i)],
      { stdio: 'ignore' },
    ),
  );
  const pids = [rig.room.pid, rig.nats.pid, ...loaders.map((l) => l.pid ?? 0)];
  const results = loaders.map(
    (l) => new Promise<LoadResult>((resolve) => l.once('message', (m) => resolve(m as LoadResult))),
  );
  await new Promise((r) => setTimeout(r, 300)); // connections up before the clock starts
  const a = markCpu(pids);
  const done = await Promise.all(results);
  const b = markCpu(pids);
  const wall = (b.at - a.at) / 1000;
  const acked = done.reduce((n, r) => n + r.acked, 0);
  return {
    perS: acked / wall,
    roomCores: cpuBetween(a, b, [rig.room.pid]).cores,
    natsCores: cpuBetween(a, b, [rig.nats.pid]).cores,
    loadCores: cpuBetween(
      a,
      b,
      loaders.map((l) => l.pid ?? 0),
    ).cores,
    machineCores: machineBusyCores(a, b),
    refused: done.reduce((n, r) => n + r.refused, 0),
    failed: done.reduce((n, r) => n + r.failed, 0),
  };
}

async function restart(
  rig: Rig,
  sample: number,
  rooms: number,
): Promise<{ readyS: number; answeringS: number; loaded: number }> {
  // A crash: SIGKILL, no last snapshot, leases left behind.
  rig.room.process.kill('SIGKILL');
  await rig.room.exited;
  const t0 = performance.now();
  rig.room = await rig.startRoom();
  const readyS = (performance.now() - t0) / 1000;
  const loaded = Number(
    /"rooms":(\d+)/.exec(rig.room.lines.find((l) => l.includes('room service ready')) ?? '')?.[1] ??
      0,
  );
  const ids = Array.from({ length: sample }, (_, i) => `bench${Math.floor((i * rooms) / sample)}`);
  const client = new RoomClient(rig.bus);
  await pool(ids, 64, async (id) => {
    for (;;) {
      const answered = await client
        .get(id, {}, { timeoutMs: 2000 })
        .then(() => true)
        .catch(() => false);
      if (answered) return;
    }
  });
  const trouble = rig.room.lines.filter((l) => /"level":"(warn|error)"/.test(l));
  for (const l of trouble.slice(0, 5)) process.stderr.write(`[bench] room after restart: ${l}\n`);
  return { readyS, answeringS: (performance.now() - t0) / 1000, loaded };
}

/**
 * With `--against`: the same transitions load on our room service and on the other
 * build's, in interleaved rounds (each its own nats-server; the load processes are
 * ours for both). Room-service CPU per transition is the steadier figure: the
 * transitions per second move with whatever else the machine runs.
 */
async function compare(ctx: BenchContext, seconds: number, rounds: number): Promise<Table> {
  const against = ctx.against;
  if (against === undefined) throw new Error('compare needs --against');
  const rigs = { ours: await startRig(ctx), baseline: await startRig(ctx, against) };
  try {
    await createRooms(rigs.ours.bus, 1000, 0);
    await createRooms(rigs.baseline.bus, 1000, 0);
    const runs: Record<'ours' | 'baseline', { perS: number; usPer: number }[]> = {
      ours: [],
      baseline: [],
    };
    for (let i = 0; i < rounds; i++) {
      for (const kind of interleave(ctx, i)) {
        const r = await transitions(ctx, rigs[kind], seconds);
        const usPer = (r.roomCores * 1e6) / r.perS;
        ctx.log(
          `rooms (${ctx.names[kind]}): ${fmt(r.perS)} transitions/s, ${usPer.toFixed(1)} µs room-service CPU each`,
        );
        runs[kind].push({ perS: r.perS, usPer });
      }
    }
    const row = (
      label: string,
      pick: (r: { perS: number; usPer: number }) => number,
      show: (x: number) => string,
      lowerIsBetter: boolean,
    ): string[] => {
      const o = median(runs.ours.map(pick));
      const b = median(runs.baseline.map(pick));
      const ratio = lowerIsBetter ? b / o : o / b;
      return [
        label,
        show(o),
        show(b),
        `${ratio.toFixed(2)}×`,
        `${runs.ours.map((r) => show(pick(r))).join(' / ')} vs ${runs.baseline.map((r) => show(pick(r))).join(' / ')}`,
      ];
    };
    return {
      title: `The same load on ${ctx.names.ours} and ${ctx.names.baseline}, interleaved ${seconds} s rounds, median of ${rounds} (ratio > 1: ours better)`,
      head: ['', ctx.names.ours, ctx.names.baseline, 'ratio', 'every round (ours vs baseline)'],
      rows: [
        row('persisted transitions per second', (r) => r.perS, fmt, false),
        row(
          'room-service CPU per transition (µs)',
          (r) => r.usPer,
          (x) => x.toFixed(1),
          true,
        ),
      ],
    };
  } finally {
    await rigs.ours.stop();
    await rigs.baseline.stop();
  }
}

/** A table row: the median of the rounds' values, then every round's, each shown by `show`. */
function perRound(label: string, values: number[], show: (x: number) => string): string[] {
  return [label, show(median(values)), values.map((v) => show(v)).join(' / ')];
}
const cores = (x: number) => x.toFixed(2);
const inSeconds = (x: number) => `${x.toFixed(2)} s`;

export const rooms: Scenario = {
  name: 'rooms',
  async run(ctx: BenchContext): Promise<Section> {
    const seconds = ctx.quick ? 5 : 10;
    const rounds = ctx.quick ? 1 : 3;
    const restartRooms = ctx.quick ? 2000 : 10_000;
    const comparison =
      ctx.against === undefined ? undefined : await compare(ctx, seconds, Math.max(rounds, 3));
    const rig = await startRig(ctx);
    try {
      ctx.log('rooms: creating 1,000 rooms');
      await createRooms(rig.bus, 1000, 0);
      const runs = [];
      for (let i = 0; i < rounds; i++) {
        const r = await transitions(ctx, rig, seconds);
        ctx.log(
          `rooms: ${fmt(r.perS)} persisted transitions/s (room ${r.roomCores.toFixed(2)} cores, nats ${r.natsCores.toFixed(2)}, load ${r.loadCores.toFixed(2)})`,
        );
        runs.push(r);
      }
      ctx.log(`rooms: creating ${fmt(restartRooms)} rooms for the restart`);
      await createRooms(rig.bus, restartRooms, 2);
      const restarts = [];
      for (let i = 0; i < rounds; i++) {
        const r = await restart(rig, 200, restartRooms);
        ctx.log(
          `rooms: restart with ${fmt(r.loaded)} rooms: ready in ${r.readyS.toFixed(2)} s, answering in ${r.answeringS.toFixed(2)} s`,
        );
        restarts.push(r);
      }
      const perS = median(runs.map((r) => r.perS));
      const answeringS = median(restarts.map((r) => r.answeringS));
      return {
        title: 'Room operations (room service, events persisted)',
        tables: [
          ...(comparison === undefined ? [] : [comparison]),
          {
            title: `Joins and leaves of 1,000 rooms, each acknowledged after its append to ROOM_EVENTS; ${seconds} s rounds, median of ${rounds}`,
            head: ['', 'median', 'every round'],
            rows: [
              perRound(
                'persisted transitions per second',
                runs.map((r) => r.perS),
                fmt,
              ),
              perRound(
                'room service CPU (cores)',
                runs.map((r) => r.roomCores),
                cores,
              ),
              perRound(
                'nats-server CPU (cores)',
                runs.map((r) => r.natsCores),
                cores,
              ),
              perRound(
                'load processes CPU (cores)',
                runs.map((r) => r.loadCores),
                cores,
              ),
              perRound(
                'whole machine busy (cores)',
                runs.map((r) => r.machineCores),
                cores,
              ),
              ['refused / failed', '', runs.map((r) => `${r.refused} / ${r.failed}`).join(', ')],
            ],
          },
          {
            title: `Restart after SIGKILL with ${fmt(restartRooms)} rooms (three events each); median of ${rounds}`,
            head: ['', 'median', 'every round'],
            rows: [
              perRound(
                'start to ready (every room loaded)',
                restarts.map((r) => r.readyS),
                inSeconds,
              ),
              perRound(
                'start to 200 sampled rooms answering',
                restarts.map((r) => r.answeringS),
                inSeconds,
              ),
              ['rooms loaded', fmt(restarts[0]?.loaded ?? 0), ''],
            ],
          },
        ],
        goals: [
          {
            what: `≥ ${fmt(GOAL_TRANSITIONS_PER_S)} persisted room transitions per second`,
            measured: fmt(perS),
            met: perS >= GOAL_TRANSITIONS_PER_S,
          },
          {
            what: `${fmt(restartRooms)} rooms back in under ${GOAL_RESTART_S} s after a crash`,
            measured: `${answeringS.toFixed(2)} s`,
            met: answeringS < GOAL_RESTART_S,
          },
        ],
        notes: [
          'The restart time includes starting Node and connecting to NATS. The replica has a stable ROOM_REPLICA_ID, so it takes its own leases back at once; a replacement with a new id waits up to ROOM_LEASE_MS (6 s) for them to lapse.',
        ],
        data: { runs, restarts },
      };
    } finally {
      await rig.stop();
    }
  },
};
