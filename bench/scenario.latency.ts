/**
 * Scenario `latency`: relay latency at a fixed offered load (5,000 frames/s over
 * 1,000 connections, 5 per connection per second), measured at the receiving
 * client from a send timestamp inside the candidate line. Open loop: frames go out
 * on schedule whether or not earlier ones have arrived.
 *
 * Beside our gateway and the baseline (through NATS and on the local fast path) it
 * runs the PeerJS server (when installed) on the same pairs at the same rate: the
 * relay most apps start with, in one process, as the yardstick for our CPU per
 * message through NATS. Our gateway runs once more through NATS with its relayed
 * signals held HOLD_MS (GATEWAY_RELAY_HOLD_MS): the CPU that milliseconds buy.
 */
import { quantileUs } from './bench.fleet.js';
import { label, runPairs, type PairRun } from './bench.measure.js';
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
import type { ServerKind } from './bench.system.js';

const RATE = 5000;
/** GATEWAY_RELAY_HOLD_MS of the held line. */
const HOLD_MS = 5;
const GOAL_P99_MS = 2;
/** Our CPU per message through NATS, at most this times the PeerJS server's in-process (issue 10). */
const GOAL_VS_PEERJS = 1;

export const latency: Scenario = {
  name: 'latency',
  async run(ctx: BenchContext): Promise<Section> {
    const pairs = 500;
    const rounds = ctx.quick ? 1 : 3;
    const paths = ctx.quick ? [false] : [false, true];
    const warmupMs = ctx.quick ? 1000 : 2000;
    const measureMs = ctx.quick ? 3000 : 8000;
    const runs: PairRun[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const fastPath of paths) {
        // PeerJS has one path (its process), run with the NATS path's round, and so
        // do the floor (always through NATS) and the held line (a hold only applies
        // to frames bound for NATS).
        const among = fastPath
          ? (['ours', 'baseline'] as const)
          : (['ours', 'baseline', 'peerjs', 'floor'] as const);
        const held =
          fastPath || ctx.quick || !ctx.servers.includes('ours') ? [] : ['held' as const];
        for (const kind of [...interleave(ctx, round, among), ...held]) {
          const server = kind === 'held' ? 'ours' : kind;
          const holdMs = kind === 'held' ? HOLD_MS : 0;
          ctx.log(`latency: round ${round + 1}/${rounds}, ${label(ctx, server, fastPath, holdMs)}`);
          const r = await runPairs(ctx, {
            server,
            fastPath,
            ...(holdMs > 0 ? { holdMs } : {}),
            pairs,
            go: { mode: 'rate', perSecond: RATE },
            frameBytes: 200,
            warmupMs,
            measureMs,
          });
          ctx.log(
            `  p50 ${fmt(quantileUs(r.hist, 0.5))} µs, p99 ${fmt(quantileUs(r.hist, 0.99))} µs, ${fmt(r.perSecond)} msg/s, others ${r.otherCores.toFixed(2)} cores`,
          );
          runs.push(r);
        }
      }
    }

    const pick = (server: ServerKind, fastPath: boolean, holdMs = 0) =>
      runs.filter((r) => r.server === server && r.fastPath === fastPath && r.holdMs === holdMs);
    const q = (rs: PairRun[], x: number) => median(rs.map((r) => quantileUs(r.hist, x) / 1000));
    /** Gateway and nats-server CPU per relayed frame, in µs. */
    const cpuPerMsg = (rs: PairRun[]) =>
      median(rs.map((r) => ((r.gateway.seconds + r.nats.seconds) / r.received) * 1e6));
    const withPeerjs = ctx.servers.includes('peerjs');
    const peerjsCpu = cpuPerMsg(pick('peerjs', false));
    // Round by round (the k-th run of each is round k): the two saw the same machine.
    const peerjsRuns = pick('peerjs', false);
    const perRound = pick('ours', false)
      .map((r, k) => ratio(cpuPerMsg([r]), cpuPerMsg(peerjsRuns.slice(k, k + 1))))
      .join(', ');
    const lines: [ServerKind, boolean, number][] = [
      ...paths.flatMap((fp) => [
        ['ours', fp, 0] as [ServerKind, boolean, number],
        ['baseline', fp, 0] as [ServerKind, boolean, number],
      ]),
      ['ours', false, HOLD_MS] as [ServerKind, boolean, number],
      ['floor', false, 0] as [ServerKind, boolean, number],
      ...(withPeerjs ? [['peerjs', false, 0] as [ServerKind, boolean, number]] : []),
    ].filter(([server, fp, hold]) => pick(server, fp, hold).length > 0);
    const summary: Table = {
      title: `Relay latency at ${fmt(RATE)} msg/s, ${2 * pairs} connections (client send → client receive); median of ${rounds} round(s)`,
      head: [
        'server, path',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'µs CPU/msg (server + nats)',
        ...(withPeerjs ? ['CPU/msg vs PeerJS'] : []),
        'msg/s',
      ],
      rows: lines.map(([server, fp, hold]) => {
        const rs = pick(server, fp, hold);
        return [
          label(ctx, server, fp, hold),
          fmt(q(rs, 0.5), 3),
          fmt(q(rs, 0.99), 3),
          fmt(q(rs, 0.999), 3),
          fmt(cpuPerMsg(rs), 1),
          ...(withPeerjs ? [ratio(cpuPerMsg(rs), peerjsCpu)] : []),
          fmt(median(rs.map((r) => r.perSecond))),
        ];
      }),
    };
    const detail: Table = {
      title: 'Every run, in the order run',
      head: [
        'server, path',
        'p50 ms',
        'p99 ms',
        'max bucket ms',
        'µs CPU/msg (server + nats)',
        'clients (busiest)',
        'others',
        'errors',
      ],
      rows: runs.map((r) => [
        label(ctx, r.server, r.fastPath, r.holdMs),
        fmt(quantileUs(r.hist, 0.5) / 1000, 3),
        fmt(quantileUs(r.hist, 0.99) / 1000, 3),
        fmt(quantileUs(r.hist, 1) / 1000, 1),
        fmt(cpuPerMsg([r]), 1),
        `${r.clients.cores.toFixed(2)} (${r.clientMaxCores.toFixed(2)})`,
        r.otherCores.toFixed(2),
        String(r.errors + r.closed),
      ]),
    };
    const p99 = q(pick('ours', false), 0.99);
    const oursCpu = cpuPerMsg(pick('ours', false));
    const baseCpu = cpuPerMsg(pick('baseline', false));
    const heldRuns = pick('ours', false, HOLD_MS);
    const heldCpu = cpuPerMsg(heldRuns);
    const floorRuns = pick('floor', false);
    const floorCpu = cpuPerMsg(floorRuns);
    return {
      title: 'Relay latency at a fixed rate',
      tables: [summary, detail],
      goals: [
        {
          what: `p99 < ${GOAL_P99_MS} ms at ${fmt(RATE)} msg/s through NATS`,
          measured: `${fmt(p99, 3)} ms`,
          met: p99 < GOAL_P99_MS,
        },
        ...(withPeerjs
          ? [
              {
                what: `CPU per message through NATS (gateway + nats-server) ≤ ${GOAL_VS_PEERJS}× the PeerJS server's in-process at ${fmt(RATE)} msg/s`,
                measured: `${fmt(oursCpu, 1)} µs vs ${fmt(peerjsCpu, 1)} µs: ${ratio(oursCpu, peerjsCpu)}`,
                met: oursCpu / peerjsCpu <= GOAL_VS_PEERJS,
              },
            ]
          : []),
      ],
      notes: [
        ...(pick('baseline', false).length > 0
          ? [
              `CPU per message through NATS: the baseline spends ${ratio(baseCpu, oursCpu)} what our gateway does (server + nats-server).`,
            ]
          : []),
        ...(withPeerjs
          ? [
              `CPU per message, ours through NATS against the PeerJS server (npm \`peer\` 1.0.2, default configuration, one process, no broker): ${fmt(oursCpu, 1)} µs against ${fmt(peerjsCpu, 1)} µs, ${ratio(oursCpu, peerjsCpu)}. Its clients speak its protocol (connect with an id, \`CANDIDATE\` frames with \`dst\`, relayed with \`src\`, same size and timestamp) and send its client's \`HEARTBEAT\` every 5 s (200/s over 1,000 connections, in its CPU, not in its messages); it checks no token and keeps no rooms. Round by round: ${perRound}.`,
            ]
          : []),
        ...(withPeerjs && floorRuns.length > 0
          ? [
              `The floor (bench/floor.server.ts: PeerJS's protocol relayed through NATS on our bus, no token, no rooms, no validation): ${fmt(floorCpu, 1)} µs per message, ${ratio(floorCpu, peerjsCpu)} PeerJS's; ours through NATS ${ratio(oursCpu, floorCpu)} the floor's. The floor is what the path costs (three processes woken per frame at this rate); the rest of ours is its own work (tokens, rooms, validation, acknowledgements).`,
            ]
          : []),
        ...(withPeerjs && heldRuns.length > 0
          ? [
              `Signals held ${HOLD_MS} ms before they leave for NATS (GATEWAY_RELAY_HOLD_MS=${HOLD_MS}; default 0): ${fmt(heldCpu, 1)} µs per message, ${ratio(heldCpu, peerjsCpu)} PeerJS's, for a p50 of ${fmt(q(heldRuns, 0.5), 3)} ms and a p99 of ${fmt(q(heldRuns, 0.99), 3)} ms.`,
            ]
          : []),
        "Latency is measured by the receiving client with the clock the sender stamped it with (both peers of a pair live in one process); it includes both clients' event loops.",
        'Histogram buckets are 10 µs wide.',
      ],
      data: runs,
    };
  },
};
