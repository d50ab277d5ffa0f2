/**
 * Scenario `idle`: memory per idle connection that is authenticated and joined to
 * a room (rooms of 10: one publisher, nine viewers). The server's memory is read
 * before the clients connect and once they are all in and quiet; the difference
 * divided by the connections is the figure. The clients answer pings, so the
 * gateway's heartbeat keeps them.
 *
 * Two readings each time, once the connections have been idle for a while (10 s;
 * 3 s with --quick): RSS as it is, and RSS after V8's memory-reducing collection
 * (server.hook.ts), because what setting up 10,000 connections leaves behind
 * (garbage, a young generation grown for the burst) is not what an idle connection
 * costs. The collected figure is the one held against the goal; both are printed.
 *
 * A process may open 20,000 files here: the clients are spread over several
 * processes, each bound to its own 127.0.0.x source addresses.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { shares } from './bench.fleet.js';
import { withRig } from './bench.measure.js';
import { rssBytes } from './bench.procs.js';
import {
  fmt,
  interleave,
  median,
  ratio,
  type BenchContext,
  type Scenario,
  type Section,
  type Table,
} from './bench.scenario.js';
import type { ServerKind, ServerMemory } from './bench.system.js';

const GOAL_BYTES = 4096;
const ROOM_SIZE = 10;
const LOADERS = 4;

interface Reading {
  /** RSS as it is, median of a few readings. */
  rss: number;
  /** After a memory-reducing GC. */
  gc: ServerMemory;
  nats: number;
  room: number;
}

interface IdleRun {
  server: ServerKind;
  connections: number;
  setupMs: number;
  before: Reading;
  after: Reading;
  errors: number;
  closed: number;
}

/** Median of a few RSS readings, `gapMs` apart. */
async function steadyRss(pid: number, readings: number, gapMs: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < readings; i++) {
    if (i > 0) await sleep(gapMs);
    out.push(rssBytes(pid));
  }
  return median(out);
}

function runIdle(
  ctx: BenchContext,
  server: ServerKind,
  count: number,
  settleMs: number,
): Promise<IdleRun> {
  return withRig(ctx, { server, env: {}, loaders: LOADERS }, async ({ sys, fleet, target }) => {
    const read = async (): Promise<Reading> => {
      const [rss, nats, room] = await Promise.all([
        steadyRss(sys.server.pid, 5, 200),
        // Set for our gateway and the baseline, the only servers this scenario runs.
        steadyRss(sys.nats!.pid, 5, 200),
        steadyRss(sys.room!.pid, 5, 200),
      ]);
      const gc = await sys.memory();
      // RSS right after the collection, once the freed pages had a moment to go back.
      await sleep(300);
      return { rss, gc: { ...gc, rss: rssBytes(sys.server.pid) }, nats, room };
    };
    const rooms = Array.from({ length: Math.ceil(count / ROOM_SIZE) }, (_, i) => `idle${i}`);
    await sys.createRooms(rooms, ROOM_SIZE);
    await sleep(1000);
    const before = await read();
    const { connections, setupMs } = await fleet.setup(
      shares(rooms, LOADERS).map((share, i) => ({
        kind: 'idle' as const,
        target,
        rooms: share,
        roomSize: ROOM_SIZE,
        // Two source addresses per process, none of them 127.0.0.1 (others use its ports).
        localAddresses: [`127.0.0.${10 + 2 * i}`, `127.0.0.${11 + 2 * i}`],
        concurrency: 64,
      })),
    );
    // Idle for a while, so that "as it is" is a quiet gateway, not one mid-burst.
    await sleep(settleMs);
    const after = await read();
    const s = await fleet.sample();
    return { server, connections, setupMs, before, after, errors: s.errors, closed: s.closed };
  });
}

type Measure = 'rss' | 'gcRss' | 'heap' | 'nats' | 'room';
const measures: Record<Measure, (r: Reading) => number> = {
  rss: (r) => r.rss,
  gcRss: (r) => r.gc.rss,
  heap: (r) => r.gc.heapUsed,
  nats: (r) => r.nats,
  room: (r) => r.room,
};
const per = (r: IdleRun, k: Measure) =>
  (measures[k](r.after) - measures[k](r.before)) / r.connections;

export const idle: Scenario = {
  name: 'idle',
  async run(ctx: BenchContext): Promise<Section> {
    const count = ctx.quick ? 5000 : 10_000;
    const rounds = ctx.quick ? 1 : 2;
    const runs: IdleRun[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const server of interleave(ctx, round)) {
        ctx.log(
          `idle: round ${round + 1}/${rounds}, ${ctx.names[server]}, ${fmt(count)} connections`,
        );
        const r = await runIdle(ctx, server, count, ctx.quick ? 3000 : 10_000);
        ctx.log(
          `  ${fmt(per(r, 'gcRss'))} B/conn collected, ${fmt(per(r, 'rss'))} B/conn as is, heap ${fmt(per(r, 'heap'))} B/conn (${fmt(r.connections)} joined in ${fmt(r.setupMs)} ms)`,
        );
        runs.push(r);
      }
    }
    const pick = (s: ServerKind) => runs.filter((r) => r.server === s);
    const m = (s: ServerKind, k: Measure) => median(pick(s).map((r) => per(r, k)));
    const mb = (b: number) => `${fmt(b / 2 ** 20, 1)} MiB`;
    const row = (what: string, k: Measure, withRatio: boolean) => [
      what,
      `${fmt(m('ours', k))} B`,
      `${fmt(m('baseline', k))} B`,
      withRatio ? ratio(m('baseline', k), m('ours', k)) : '',
    ];
    const summary: Table = {
      title: `Memory per idle, authenticated, joined connection at ${fmt(count)} connections (rooms of ${ROOM_SIZE}); median of ${rounds} round(s)`,
      head: ['', ctx.names.ours, ctx.names.baseline, 'baseline / ours'],
      rows: [
        row('server RSS per connection, after a memory-reducing GC', 'gcRss', true),
        row('server RSS per connection, as it is (garbage included)', 'rss', true),
        row('of which JS heap in use', 'heap', true),
        row('nats-server RSS per connection', 'nats', false),
        row('room service RSS per member', 'room', false),
      ],
    };
    const detail: Table = {
      title: 'Every run, in the order run',
      head: [
        'server',
        'connections',
        'set-up',
        'server RSS before → after (collected)',
        'per connection (collected)',
        'errors',
      ],
      rows: runs.map((r) => [
        ctx.names[r.server],
        fmt(r.connections),
        `${fmt(r.setupMs / 1000, 1)} s`,
        `${mb(r.before.rss)} → ${mb(r.after.rss)} (${mb(r.before.gc.rss)} → ${mb(r.after.gc.rss)})`,
        `${fmt(per(r, 'rss'))} B (${fmt(per(r, 'gcRss'))} B)`,
        String(r.errors + r.closed),
      ]),
    };
    const ours = m('ours', 'gcRss');
    return {
      title: 'Idle connections',
      tables: [summary, detail],
      goals: [
        {
          what: `< ${fmt(GOAL_BYTES)} B per idle connection in the gateway (RSS after a memory-reducing GC${ctx.quick ? ', at the --quick size' : ''})`,
          measured: `${fmt(ours)} B`,
          met: ours < GOAL_BYTES,
        },
      ],
      notes: [
        "The server runs with a preloaded hook (bench/server.hook.ts) that collects (V8's low-memory collection, through the inspector) and reports memory on SIGUSR2; its code is unchanged.",
        "Kernel socket buffers are in no process's RSS.",
        'Each connection holds one NATS subscription (its peer subject); each room one more (its broadcasts).',
      ],
      data: runs,
    };
  },
};
