/**
 * Scenario `latency`: relay latency at a fixed offered load (5,000 frames/s over
 * 1,000 connections, 5 per connection per second), measured at the receiving
 * client from a send timestamp inside the candidate line. Open loop: frames go out
 * on schedule whether or not earlier ones have arrived.
 *
 * Beside our gateway and the baseline (through NATS and on the local fast path) it
 * runs the PeerJS server (when installed) on the same pairs at the same rate: the
 * relay most apps start with, in one process, as the yardstick for our CPU per
 * message through NATS.
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
        // PeerJS has one path (its process), run with the NATS path's round.
        const among = fastPath
          ? (['ours', 'baseline'] as const)
          : (['ours', 'baseline', 'peerjs'] as const);
        for (const server of interleave(ctx, round, among)) {
          ctx.log(`latency: round ${round + 1}/${rounds}, ${label(ctx, server, fastPath)}`);
          const r = await runPairs(ctx, {
            server,
            fastPath,
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

    const pick = (server: ServerKind, fastPath: boolean) =>
      runs.filter((r) => r.server === server && r.fastPath === fastPath);
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
    const lines: [ServerKind, boolean][] = [
      ...paths.flatMap((fp) => [
        ['ours', fp] as [ServerKind, boolean],
        ['baseline', fp] as [ServerKind, boolean],
      ]),
      ...(withPeerjs ? [['peerjs', false] as [ServerKind, boolean]] : []),
    ].filter(([server]) => ctx.servers.includes(server));
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
      rows: lines.map(([server, fp]) => {
        const rs = pick(server, fp);
        return [
          label(ctx, server, fp),
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
        label(ctx, r.server, r.fastPath),
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
        `CPU per message through NATS: the baseline spends ${ratio(baseCpu, oursCpu)} what our gateway does (server + nats-server).`,
        ...(withPeerjs
          ? [
              `CPU per message, ours through NATS against the PeerJS server (npm \`peer\` 1.0.2, default configuration, one process, no broker): ${fmt(oursCpu, 1)} µs against ${fmt(peerjsCpu, 1)} µs, ${ratio(oursCpu, peerjsCpu)}. Its clients speak its protocol (connect with an id, \`CANDIDATE\` frames with \`dst\`, relayed with \`src\`, same size and timestamp) and send its client's \`HEARTBEAT\` every 5 s (200/s over 1,000 connections, in its CPU, not in its messages); it checks no token and keeps no rooms. Round by round: ${perRound}.`,
            ]
          : []),
        "Latency is measured by the receiving client with the clock the sender stamped it with (both peers of a pair live in one process); it includes both clients' event loops.",
        'Histogram buckets are 10 µs wide.',
      ],
      data: runs,
    };
  },
};
