/**
 * Scenario `audience` (issue 10): one publisher and N viewers in one room, served
 * by two gateway processes on the same port, N = 1,000, 5,000 and 20,000 (1,000 and
 * 5,000 with --quick). Per N: the viewers connect (timed on its own: connections/s
 * and the gateways' CPU per connection), join as fast as the load processes can (a
 * bounded number in flight each), sit idle, then all leave at once. Measured: time
 * until all joined, joins/s, join latency, bytes and frames the clients received
 * per join, the size of `joined`, CPU per join in each gateway,
 * the room service and nats-server, memory per idle audience connection, errors,
 * and how the leave storm was answered.
 *
 * Every phase is capped (PHASE_CAP_MS): a system that cannot keep up is reported as
 * "not done: X of N", never waited for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { closeLoaders, forkLoaders, type AudienceLoader } from './audience.fleet.js';
import type { Counters, Tally } from './audience.messages.js';
import { openFiles, startAudienceSystem, type AudienceSystem } from './audience.system.js';
import { shares } from './bench.fleet.js';
import { cpuBetween, machineBusyCores, markCpu, rssBytes, type CpuMark } from './bench.procs.js';
import {
  fmt,
  median,
  type BenchContext,
  type Goal,
  type Scenario,
  type Section,
  type Table,
} from './bench.scenario.js';
import { AUDIENCE, HOST, ISSUER } from './bench.system.js';
import type { Target } from './load.messages.js';

const PHASE_CAP_MS = 120_000;
/** Quiet time that ends the join phase's delivery (broadcasts still arriving after the last `joined`). */
const SETTLE_QUIET_MS = 1000;
const SETTLE_CAP_MS = 30_000;
const IDLE_MS = 2000;
const GATEWAYS = 2;
/** Sockets per load process: well under the 20,000 open files a process may have. */
const PER_LOADER = 8000;
const JOINS_IN_FLIGHT = 64;
const ROOM = 'audience';

/** Issue 10's goals. */
const GOAL = {
  joinsPerS: 3000,
  /** CPU per join at the largest N over the smallest. */
  cpuGrowth: 1.5,
  bytesPerJoin: 2048,
  joinedBytes: 4096,
  /** Idle audience connection in the gateway, and in gateway + nats-server + room service. */
  gatewayIdle: 3072,
  totalIdle: 6144,
};

/** Memory of the system's processes: RSS as it is, and after a memory-reducing GC (Node only). */
interface Memory {
  gateways: number[];
  gatewaysCollected: number[];
  nats: number;
  room: number;
  roomCollected: number;
  files: number[];
}

export interface AudienceRun {
  n: number;
  connected: number;
  connectFailures: number;
  lastConnectFailure: string | undefined;
  /** The connect phase: connections per second, and the gateways' CPU per connection (µs). */
  connectPerS: number;
  connectGatewayUs: number;
  joined: number;
  joinRefused: Tally;
  joinPending: number;
  /** Seconds from the first join sent to the last `joined` (or to the cap). */
  joinS: number;
  allJoined: boolean;
  p50Ms: number;
  p99Ms: number;
  joinedBytesMedian: number;
  joinedBytesMax: number;
  publisherJoinedBytes: number;
  /** Received by every client, publisher included, from the first join until delivery went quiet. */
  counters: Counters;
  settledS: number;
  /** Whether delivery went quiet before SETTLE_CAP_MS. */
  quiet: boolean;
  cpuUs: { gateways: number[]; room: number; nats: number; total: number };
  loadCores: number;
  machineCores: number;
  before: Memory;
  after: Memory;
  leave: { members: number; left: number; refused: Tally; pending: number; s: number };
  closed: Tally;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)]!;
}

function sum(t: Tally): number {
  return Object.values(t).reduce((a, b) => a + b, 0);
}

function merge(ts: Tally[]): Tally {
  const out: Tally = {};
  for (const t of ts) for (const [k, n] of Object.entries(t)) out[k] = (out[k] ?? 0) + n;
  return out;
}

function showTally(t: Tally): string {
  const e = Object.entries(t);
  return e.length === 0 ? '0' : e.map(([k, n]) => `${k} ${fmt(n)}`).join(', ');
}

async function readMemory(sys: AudienceSystem): Promise<Memory> {
  const steady = async (pid: number) => {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await sleep(200);
      out.push(rssBytes(pid));
    }
    return median(out);
  };
  const gateways = await Promise.all(sys.gateways.map((g) => steady(g.pid)));
  const nats = await steady(sys.nats.pid);
  const room = await steady(sys.room.pid);
  const gatewaysCollected = [];
  for (const g of sys.gateways) gatewaysCollected.push(await sys.collectedRss(g));
  const roomCollected = await sys.collectedRss(sys.room);
  return {
    gateways,
    gatewaysCollected,
    nats,
    room,
    roomCollected,
    files: sys.gateways.map((g) => openFiles(g.pid)),
  };
}

async function counters(loaders: AudienceLoader[]): Promise<Counters> {
  const all = await Promise.all(loaders.map((l) => l.call({ cmd: 'counters' }, 'counters')));
  return {
    bytes: all.reduce((a, c) => a + c.bytes, 0),
    frames: all.reduce((a, c) => a + c.frames, 0),
    byType: merge(all.map((c) => c.byType)),
    errors: merge(all.map((c) => c.errors)),
    closed: merge(all.map((c) => c.closed)),
  };
}

/** Waits until no frame arrived for SETTLE_QUIET_MS (`quiet`), or SETTLE_CAP_MS passed. */
async function settle(loaders: AudienceLoader[]): Promise<{ last: Counters; quiet: boolean }> {
  const end = Date.now() + SETTLE_CAP_MS;
  let last = await counters(loaders);
  let quietSince = Date.now();
  while (Date.now() - quietSince < SETTLE_QUIET_MS) {
    if (Date.now() >= end) return { last, quiet: false };
    await sleep(250);
    const now = await counters(loaders);
    if (now.frames !== last.frames) quietSince = Date.now();
    last = now;
  }
  return { last, quiet: true };
}

async function runOnce(ctx: BenchContext, n: number): Promise<AudienceRun> {
  const sys = await startAudienceSystem({
    root: ctx.root,
    secret: ctx.secret,
    issuer: ISSUER,
    audience: AUDIENCE,
    gateways: GATEWAYS,
    env: { ROOM_MAX_VIEWERS_LIMIT: String(Math.max(100_000, n)) },
  });
  const loaderCount = Math.max(2, Math.ceil(n / PER_LOADER));
  const loaders = forkLoaders(ctx.root, loaderCount);
  try {
    const target: Target = {
      host: HOST,
      port: sys.port,
      secret: ctx.secret,
      issuer: ISSUER,
      audience: AUDIENCE,
    };
    await sys.createRoom(ROOM, n + 10);
    const pub = await loaders[0]!.call(
      { cmd: 'publisher', target, room: ROOM, localAddress: '127.0.0.19' },
      'publisher',
    );
    await sleep(1000);
    const before = await readMemory(sys);

    const counts = shares(
      Array.from({ length: n }, (_, i) => i),
      loaderCount,
    ).map((s) => s.length);
    const gatewayPids = sys.gateways.map((g) => g.pid);
    const c0 = markCpu(gatewayPids);
    const connected = await Promise.all(
      loaders.map((l, i) =>
        l.call(
          {
            cmd: 'connect',
            target,
            count: counts[i]!,
            // Two source addresses per process, none of them 127.0.0.1: ports enough for each.
            localAddresses: [`127.0.0.${20 + 2 * i}`, `127.0.0.${21 + 2 * i}`],
            concurrency: 100,
            capMs: PHASE_CAP_MS,
          },
          'connected',
        ),
      ),
    );
    const connectedCount = connected.reduce((a, c) => a + c.connected, 0);
    // Each connection's token is verified at the upgrade: this is mostly that.
    const c1 = markCpu(gatewayPids);
    const connectPerS = connectedCount / ((c1.at - c0.at) / 1000);
    const connectGatewayUs =
      connectedCount > 0 ? (cpuBetween(c0, c1, gatewayPids).seconds * 1e6) / connectedCount : NaN;
    ctx.log(`audience: ${fmt(connectedCount)} of ${fmt(n)} viewers connected; joining`);

    const pids = [
      ...sys.gateways.map((g) => g.pid),
      sys.room.pid,
      sys.nats.pid,
      ...loaders.map((l) => l.pid),
    ];
    await Promise.all(loaders.map((l) => l.call({ cmd: 'mark' }, 'done')));
    const a: CpuMark = markCpu(pids);
    const joins = await Promise.all(
      loaders.map((l) =>
        l.call(
          { cmd: 'join', room: ROOM, concurrency: JOINS_IN_FLIGHT, capMs: PHASE_CAP_MS },
          'joined',
        ),
      ),
    );
    const joined = joins.reduce((x, j) => x + j.joined, 0);
    const joinPending = joins.reduce((x, j) => x + j.pending, 0);
    const joinS = (Math.max(...joins.map((j) => j.at)) - a.at) / 1000;
    ctx.log(
      `audience: ${fmt(joined)} of ${fmt(n)} joined in ${joinS.toFixed(1)} s; waiting for delivery to go quiet`,
    );
    const { last: settled, quiet } = await settle(loaders);
    const b = markCpu(pids);
    const settledS = (b.at - a.at) / 1000;

    await sleep(IDLE_MS);
    const after = await readMemory(sys);

    ctx.log(`audience: ${fmt(joined)} viewers leave at once`);
    const leaves = await Promise.all(
      loaders.map((l) => l.call({ cmd: 'leave', room: ROOM, capMs: PHASE_CAP_MS }, 'left')),
    );
    const final = await counters(loaders);

    const latencies = joins.flatMap((j) => j.latenciesMs);
    const sizes = joins.flatMap((j) => j.joinedBytes);
    const perJoin = (secs: number) => (joined > 0 ? (secs * 1e6) / joined : Number.NaN);
    const gatewaysUs = sys.gateways.map((g) => perJoin(cpuBetween(a, b, [g.pid]).seconds));
    const roomUs = perJoin(cpuBetween(a, b, [sys.room.pid]).seconds);
    const natsUs = perJoin(cpuBetween(a, b, [sys.nats.pid]).seconds);
    return {
      n,
      connected: connectedCount,
      connectFailures: connected.reduce((x, c) => x + c.failed, 0),
      lastConnectFailure: connected.find((c) => c.lastFailure !== undefined)?.lastFailure,
      connectPerS,
      connectGatewayUs,
      joined,
      joinRefused: merge(joins.map((j) => j.refused)),
      joinPending,
      joinS,
      allJoined: joined === n,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      joinedBytesMedian: quantile(sizes, 0.5),
      joinedBytesMax: sizes.length === 0 ? Number.NaN : Math.max(...sizes),
      publisherJoinedBytes: pub.joinedBytes,
      counters: settled,
      settledS,
      quiet,
      cpuUs: {
        gateways: gatewaysUs,
        room: roomUs,
        nats: natsUs,
        total: gatewaysUs.reduce((x, y) => x + y, 0) + roomUs + natsUs,
      },
      loadCores: cpuBetween(
        a,
        b,
        loaders.map((l) => l.pid),
      ).cores,
      machineCores: machineBusyCores(a, b),
      before,
      after,
      leave: {
        members: joined,
        left: leaves.reduce((x, l) => x + l.left, 0),
        refused: merge(leaves.map((l) => l.refused)),
        pending: leaves.reduce((x, l) => x + l.pending, 0),
        s: Math.max(...leaves.map((l) => l.lastMs)) / 1000,
      },
      closed: final.closed,
    };
  } finally {
    await closeLoaders(loaders);
    await sys.stop();
  }
}

/**
 * Idle memory per viewer connection, bytes: gateways (summed), nats-server, room
 * service. Per connection, not per joined viewer: when not all joined, the others
 * are connected and hold memory too (less than a member would).
 */
function idle(r: AudienceRun) {
  const per = (x: number, y: number) => (r.connected > 0 ? (y - x) / r.connected : Number.NaN);
  const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const gateway = per(total(r.before.gatewaysCollected), total(r.after.gatewaysCollected));
  const gatewayAsIs = per(total(r.before.gateways), total(r.after.gateways));
  const nats = per(r.before.nats, r.after.nats);
  const room = per(r.before.roomCollected, r.after.roomCollected);
  const roomAsIs = per(r.before.room, r.after.room);
  return { gateway, gatewayAsIs, nats, room, roomAsIs, total: gateway + nats + room };
}

const joinsPerS = (r: AudienceRun) => r.joined / r.joinS;
const bytesPerJoin = (r: AudienceRun) => r.counters.bytes / Math.max(1, r.joined);
const framesPerJoin = (r: AudienceRun) => r.counters.frames / Math.max(1, r.joined);
const errors = (r: AudienceRun) => sum(r.counters.errors) + sum(r.leave.refused) + sum(r.closed);

function table(runs: AudienceRun[], n: number): Table {
  const rs = runs.filter((r) => r.n === n);
  const m = (f: (r: AudienceRun) => number) => median(rs.map(f));
  const each = (f: (r: AudienceRun) => string) => rs.map(f).join(' / ');
  const row = (
    what: string,
    f: (r: AudienceRun) => number,
    show: (x: number) => string,
    goal = '',
    pass = '',
  ) => [what, show(m(f)), rs.length > 1 ? each((r) => show(f(r))) : '', goal, pass];
  const B = (x: number) => `${fmt(x)} B`;
  const us = (x: number) => `${fmt(x, 1)} µs`;
  const ms = (x: number) => `${fmt(x, 1)} ms`;
  const yes = (ok: boolean) => (ok ? 'pass' : 'FAIL');
  const big = n === 20_000;
  const joinedAll = rs.every((r) => r.allJoined);
  const rows: string[][] = [
    [
      'time until all joined',
      joinedAll
        ? `${fmt(
            m((r) => r.joinS),
            2,
          )} s`
        : `not done: ${each((r) => `${fmt(r.joined)} of ${fmt(n)} in ${fmt(r.joinS, 1)} s`)}`,
      rs.length > 1 && joinedAll ? each((r) => `${fmt(r.joinS, 2)} s`) : '',
      '',
      '',
    ],
    row(
      'joins per second',
      joinsPerS,
      (x) => fmt(x),
      big ? `≥ ${fmt(GOAL.joinsPerS)}` : '',
      big ? yes(m(joinsPerS) >= GOAL.joinsPerS && joinedAll) : '',
    ),
    row(
      'connections per second (connect phase, 100 in flight per load process)',
      (r) => r.connectPerS,
      (x) => fmt(x),
    ),
    row('CPU per connection, gateways (connect phase)', (r) => r.connectGatewayUs, us),
    row('join latency p50', (r) => r.p50Ms, ms),
    row('join latency p99', (r) => r.p99Ms, ms),
    row(
      'bytes sent to clients per join',
      bytesPerJoin,
      B,
      `≤ ${fmt(GOAL.bytesPerJoin)} B`,
      yes(m(bytesPerJoin) <= GOAL.bytesPerJoin),
    ),
    row('frames sent to clients per join', framesPerJoin, (x) => fmt(x, 1)),
    row('`joined` reply, median', (r) => r.joinedBytesMedian, B),
    row(
      '`joined` reply, largest',
      (r) => r.joinedBytesMax,
      B,
      `≤ ${fmt(GOAL.joinedBytes)} B`,
      yes(m((r) => r.joinedBytesMax) <= GOAL.joinedBytes),
    ),
    ...[0, 1].map((i) =>
      row(`CPU per join, gateway ${i + 1}`, (r) => r.cpuUs.gateways[i] ?? Number.NaN, us),
    ),
    row('CPU per join, room service', (r) => r.cpuUs.room, us),
    row('CPU per join, nats-server', (r) => r.cpuUs.nats, us),
    row('CPU per join, all three', (r) => r.cpuUs.total, us),
    row(
      'delivery quiet after (CPU window)',
      (r) => r.settledS,
      (x) => `${fmt(x, 1)} s`,
      rs.some((r) => !r.quiet) ? `not quiet at the ${SETTLE_CAP_MS / 1000} s cap` : '',
    ),
    row(
      'load processes CPU (cores)',
      (r) => r.loadCores,
      (x) => fmt(x, 2),
    ),
    row(
      'whole machine busy (cores)',
      (r) => r.machineCores,
      (x) => fmt(x, 2),
    ),
    row(
      'idle audience connection, gateways (after GC)',
      (r) => idle(r).gateway,
      B,
      `≤ ${fmt(GOAL.gatewayIdle)} B`,
      yes(m((r) => idle(r).gateway) <= GOAL.gatewayIdle),
    ),
    row('idle audience connection, gateways (as is)', (r) => idle(r).gatewayAsIs, B),
    row('idle audience connection, nats-server', (r) => idle(r).nats, B),
    row('idle audience connection, room service (after GC)', (r) => idle(r).room, B),
    row('idle audience connection, room service (as is)', (r) => idle(r).roomAsIs, B),
    row(
      'idle audience connection, all three',
      (r) => idle(r).total,
      B,
      `≤ ${fmt(GOAL.totalIdle)} B`,
      yes(m((r) => idle(r).total) <= GOAL.totalIdle),
    ),
    [
      'connections per gateway (open files, after − before)',
      each((r) => r.after.files.map((f, i) => fmt(f - (r.before.files[i] ?? 0))).join(' + ')),
      '',
      '',
      '',
    ],
    [
      'leave storm: answered `left` of members, in',
      each(
        (r) =>
          `${fmt(r.leave.left)} of ${fmt(r.leave.members)}${r.leave.pending > 0 ? ` (${fmt(r.leave.pending)} unanswered at the cap)` : ''} in ${fmt(r.leave.s, 2)} s`,
      ),
      '',
      big ? 'all, 0 UNAVAILABLE' : '',
      big
        ? yes(
            rs.every(
              (r) =>
                r.leave.pending === 0 &&
                r.leave.left === r.leave.members &&
                (r.leave.refused.UNAVAILABLE ?? 0) === 0,
            ),
          )
        : '',
    ],
    ['leave storm: errors', each((r) => showTally(r.leave.refused)), '', '', ''],
    [
      'joins refused; unanswered at the cap',
      each((r) => `${showTally(r.joinRefused)}; ${fmt(r.joinPending)}`),
      '',
      '',
      '',
    ],
    [
      'error frames in the join phase, by code',
      each((r) => showTally(r.counters.errors)),
      '',
      big ? '0' : '',
      big ? yes(rs.every((r) => errors(r) === 0)) : '',
    ],
    [
      'connections closed by the server, by close code',
      each((r) => showTally(r.closed)),
      '',
      '',
      '',
    ],
    [
      'connect failures',
      each(
        (r) =>
          `${fmt(r.connectFailures)}${r.lastConnectFailure === undefined ? '' : ` (${r.lastConnectFailure})`}`,
      ),
      '',
      '',
      '',
    ],
    ['frames received, by type', each((r) => showTally(r.counters.byType)), '', '', ''],
  ];
  return {
    title: `1 publisher, ${fmt(n)} viewers over ${GATEWAYS} gateway processes; median of ${rs.length} round(s)`,
    head: ['', 'median', 'every round', 'goal', ''],
    rows,
  };
}

export const audience: Scenario = {
  name: 'audience',
  async run(ctx: BenchContext): Promise<Section> {
    const sizes = ctx.quick ? [1000, 5000] : [1000, 5000, 20_000];
    const rounds = ctx.quick ? 1 : 2;
    const runs: AudienceRun[] = [];
    for (let round = 0; round < rounds; round++)
      for (const n of sizes) {
        ctx.log(`audience: round ${round + 1}/${rounds}, ${fmt(n)} viewers`);
        const r = await runOnce(ctx, n);
        ctx.log(
          `  ${fmt(r.joined)} joined in ${fmt(r.joinS, 1)} s (${fmt(joinsPerS(r))}/s), ${fmt(bytesPerJoin(r))} B/join, ${fmt(r.cpuUs.total, 0)} µs CPU/join; leave: ${fmt(r.leave.left)} left, ${showTally(r.leave.refused)}, ${fmt(r.leave.pending)} unanswered`,
        );
        runs.push(r);
      }
    const at = (n: number, f: (r: AudienceRun) => number) =>
      median(runs.filter((r) => r.n === n).map(f));
    const small = sizes[0]!;
    const large = sizes[sizes.length - 1]!;
    const cpuGrowth = at(large, (r) => r.cpuUs.total) / at(small, (r) => r.cpuUs.total);
    const largeRuns = runs.filter((r) => r.n === large);
    const worst = (f: (r: AudienceRun) => number) => Math.max(...runs.map(f));
    const goals: Goal[] = [
      {
        what: `≥ ${fmt(GOAL.joinsPerS)} joins/s sustained at ${fmt(large)} viewers, 0 errors`,
        measured: `${fmt(at(large, joinsPerS))}/s, ${fmt(median(largeRuns.map(errors)))} errors${largeRuns.every((r) => r.allJoined) ? '' : ', not all joined'}`,
        met:
          at(large, joinsPerS) >= GOAL.joinsPerS &&
          largeRuns.every((r) => r.allJoined && errors(r) === 0),
      },
      {
        what: `CPU per join at ${fmt(large)} within ${GOAL.cpuGrowth}× of ${fmt(small)}`,
        measured: `${cpuGrowth.toFixed(2)}×`,
        met: cpuGrowth <= GOAL.cpuGrowth,
      },
      {
        what: `≤ ${fmt(GOAL.bytesPerJoin)} B sent to clients per join (every N)`,
        measured: `worst ${fmt(worst(bytesPerJoin))} B`,
        met: worst(bytesPerJoin) <= GOAL.bytesPerJoin,
      },
      {
        what: `\`joined\` reply ≤ ${fmt(GOAL.joinedBytes)} B`,
        measured: `largest ${fmt(worst((r) => r.joinedBytesMax))} B`,
        met: worst((r) => r.joinedBytesMax) <= GOAL.joinedBytes,
      },
      {
        what: `the ${fmt(large)}-viewer leave storm fully answered, 0 UNAVAILABLE`,
        measured: largeRuns
          .map(
            (r) =>
              `${fmt(r.leave.left)} of ${fmt(r.leave.members)} left, ${fmt(r.leave.refused.UNAVAILABLE ?? 0)} UNAVAILABLE`,
          )
          .join('; '),
        met: largeRuns.every(
          (r) =>
            r.leave.pending === 0 &&
            r.leave.left === r.leave.members &&
            r.allJoined &&
            (r.leave.refused.UNAVAILABLE ?? 0) === 0,
        ),
      },
      {
        what: `idle audience connection ≤ ${fmt(GOAL.gatewayIdle)} B in the gateway (after GC, at ${fmt(large)})`,
        measured: `${fmt(at(large, (r) => idle(r).gateway))} B`,
        met: at(large, (r) => idle(r).gateway) <= GOAL.gatewayIdle,
      },
      {
        what: `idle audience connection ≤ ${fmt(GOAL.totalIdle)} B in gateway + nats-server + room service (at ${fmt(large)})`,
        measured: `${fmt(at(large, (r) => idle(r).total))} B`,
        met: at(large, (r) => idle(r).total) <= GOAL.totalIdle,
      },
    ];
    return {
      title: 'Audience: one publisher, many viewers, two gateways',
      tables: sizes.map((n) => table(runs, n)),
      goals,
      notes: [
        `Viewers connect first (timed apart from the joins: connections per second and the gateways' CPU per connection, mostly the token check), then join with ${JOINS_IN_FLIGHT} joins in flight per load process (${PER_LOADER.toLocaleString('en-US')} sockets at most each, two 127.0.0.x source addresses each). Every phase is capped at ${PHASE_CAP_MS / 1000} s.`,
        'Bytes and frames per join: everything the clients (publisher included) read from the first join until no frame arrived for 1 s, WebSocket headers included, divided by the viewers joined; CPU per join is over the same window.',
        'Idle memory: RSS after the joins and 2 s idle, minus RSS before the viewers connected, per viewer connection (when not all joined, that mixes members and mere connections); the Node processes after a memory-reducing GC (bench/server.hook.ts), "as is" without.',
        'CPU, bytes and frames "per join" are divided by the joins that succeeded; when some were refused (UNAVAILABLE), their work is in the numerator too.',
        'Errors (as the goal counts them): `error` frames in the join phase, refused leaves, and connections the server closed.',
      ],
      data: runs,
    };
  },
};
