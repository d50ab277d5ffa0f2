/**
 * One measured run of peer pairs relaying candidate frames through a fresh system:
 * start everything, set the pairs up, warm up, then count what the clients
 * received in a measurement window and what CPU every process used in it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Fleet, shares } from './bench.fleet.js';
import { cpuBetween, loadAverage, machineBusyCores, markCpu, type CpuUse } from './bench.procs.js';
import type { BenchContext } from './bench.scenario.js';
import { startFloor } from './floor.system.js';
import { startPeerjs } from './peerjs.system.js';
import {
  AUDIENCE,
  ISSUER,
  startSystem,
  type BenchSystem,
  type ServerKind,
} from './bench.system.js';
import type { Go, Target } from './load.messages.js';

/** Limits raised for the benchmark (through the environment; the defaults stay as they are). */
export const BENCH_ENV = {
  GATEWAY_RATE_PER_S: '1000000',
  GATEWAY_RATE_BURST: '1000000',
  GATEWAY_MAX_CONNECTIONS: '100000',
  // Every simulated client comes from a few local addresses and may open before its `auth` frame.
  GATEWAY_PREAUTH_PER_ADDRESS: '0',
  GATEWAY_SHUTDOWN_GRACE_MS: '500',
};

export interface PairRunOptions {
  server: ServerKind;
  fastPath: boolean;
  /** GATEWAY_RELAY_HOLD_MS of our gateway (0 unless told). */
  holdMs?: number;
  pairs: number;
  /** Instruction for the whole fleet: a window per direction, or a total rate split evenly. */
  go: Go;
  frameBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface PairRun {
  server: ServerKind;
  fastPath: boolean;
  holdMs: number;
  /** Relayed frames received by clients in the window, and per second. */
  received: number;
  perSecond: number;
  /** Frames sent by the clients per second (open loop: the offered rate). */
  sentPerSecond: number;
  gateway: CpuUse;
  nats: CpuUse;
  room: CpuUse;
  clients: CpuUse;
  /** The busiest load generator, in cores (1.0 would mean it is the bottleneck). */
  clientMaxCores: number;
  /** Cores the whole machine kept busy, and how much of that was not ours. */
  machineCores: number;
  otherCores: number;
  /** Relayed frames per socket read at the clients: how many frames a write of the server carried. */
  framesPerRead: number;
  errors: number;
  closed: number;
  lastError: string | undefined;
  hist: [number, number][];
  loadavg: string;
}

/** A system under test with its load generators, and where the clients connect. */
export interface Rig {
  sys: BenchSystem;
  fleet: Fleet;
  target: Target;
}

/**
 * Starts a fresh system and `loaders` load generators, runs `fn`, and tears it all
 * down whatever happens.
 */
export async function withRig<T>(
  ctx: BenchContext,
  o: { server: ServerKind; env: Record<string, string>; loaders: number },
  fn: (rig: Rig) => Promise<T>,
): Promise<T> {
  const profile = ctx.profileDir !== undefined && o.server === 'ours';
  const sys =
    o.server === 'peerjs'
      ? await startPeerjs({ root: ctx.root })
      : o.server === 'floor'
        ? await startFloor({ root: ctx.root })
        : await startSystem({
            root: ctx.root,
            server: o.server,
            secret: ctx.secret,
            env: { ...BENCH_ENV, ...o.env },
            ...(profile ? { profileDir: ctx.profileDir } : {}),
            ...(ctx.against === undefined ? {} : { against: ctx.against }),
          });
  const fleet = Fleet.start(ctx.root, o.loaders);
  const target: Target = {
    host: sys.host,
    port: sys.port,
    secret: ctx.secret,
    issuer: ISSUER,
    audience: AUDIENCE,
    authFrame: profile,
    // The floor speaks PeerJS's protocol too.
    ...(o.server === 'peerjs' || o.server === 'floor' ? { protocol: 'peerjs' as const } : {}),
  };
  try {
    return await fn({ sys, fleet, target });
  } catch (err) {
    fleet.kill();
    throw err;
  } finally {
    await fleet.close();
    await sys.stop();
  }
}

export function runPairs(ctx: BenchContext, o: PairRunOptions): Promise<PairRun> {
  const env: Record<string, string> = { GATEWAY_LOCAL_FASTPATH: String(o.fastPath) };
  if (o.holdMs !== undefined) env.GATEWAY_RELAY_HOLD_MS = String(o.holdMs);
  return withRig(
    ctx,
    { server: o.server, env, loaders: ctx.loaders },
    async ({ sys, fleet, target }) => {
      const rooms = Array.from({ length: o.pairs }, (_, i) => `r${i}`);
      await sys.createRooms(rooms, 10);
      await fleet.setup(
        shares(rooms, fleet.size).map((share) => ({
          kind: 'pairs' as const,
          target,
          rooms: share,
          frameBytes: o.frameBytes,
          localAddresses: [],
          concurrency: 32,
        })),
      );
      const n = fleet.size;
      await fleet.go((i) =>
        o.go.mode === 'window'
          ? o.go
          : {
              mode: 'rate',
              perSecond:
                (o.go.perSecond *
                  (Math.floor(((i + 1) * o.pairs) / n) - Math.floor((i * o.pairs) / n))) /
                o.pairs,
            },
      );
      await sleep(o.warmupMs);

      const serverPid = sys.server.pid;
      // The PeerJS server has neither: their CPU is none.
      const natsPids = sys.nats === undefined ? [] : [sys.nats.pid];
      const roomPids = sys.room === undefined ? [] : [sys.room.pid];
      const pids = [serverPid, ...natsPids, ...roomPids, ...fleet.pids];
      const marked = fleet.mark();
      const a = markCpu(pids);
      await marked;
      await sleep(o.measureMs);
      const sampled = fleet.sample();
      const b = markCpu(pids);
      const s = await sampled;
      await fleet.halt();

      const wall = (b.at - a.at) / 1000;
      const ours = cpuBetween(a, b, pids);
      const machineCores = machineBusyCores(a, b);
      return {
        server: o.server,
        fastPath: o.fastPath,
        holdMs: o.holdMs ?? 0,
        received: s.received,
        perSecond: s.received / wall,
        sentPerSecond: s.sent / wall,
        gateway: cpuBetween(a, b, [serverPid]),
        nats: cpuBetween(a, b, natsPids),
        room: cpuBetween(a, b, roomPids),
        clients: cpuBetween(a, b, fleet.pids),
        clientMaxCores: Math.max(...fleet.pids.map((pid) => cpuBetween(a, b, [pid]).cores)),
        machineCores,
        otherCores: Math.max(0, machineCores - ours.cores),
        framesPerRead: s.reads > 0 ? s.received / s.reads : 0,
        errors: s.errors,
        closed: s.closed,
        lastError: s.lastError,
        hist: s.hist,
        loadavg: loadAverage(),
      };
    },
  );
}

/** Label of a server with its relay path (PeerJS has one: in its process). */
export function label(
  ctx: BenchContext,
  server: ServerKind,
  fastPath: boolean,
  holdMs = 0,
): string {
  if (server === 'peerjs') return `${ctx.names.peerjs}, in-process`;
  if (server === 'floor') return `${ctx.names.floor}, through NATS`;
  const held = holdMs > 0 ? `, signals held ${holdMs} ms` : '';
  return `${ctx.names[server]}, ${fastPath ? 'local fast path' : 'through NATS'}${held}`;
}
