/**
 * Scenario `relay`: peer pairs relaying 200-byte candidate frames to each other as
 * fast as the server takes them, through NATS and with the local fast path, our
 * gateway and the baseline interleaved (ours, baseline, baseline, ours, ...) so
 * that the machine's drifting load hits both alike. Medians of the rounds.
 *
 * Each direction of each pair keeps a window of frames in flight and sends a new
 * one for each that arrives, so frames come in small bursts, as ICE candidates do.
 * The full run adds a window of one (no bursts at all): the server's worst case,
 * where no two frames for one client ever share a write. --quick runs only the
 * NATS path with bursts.
 *
 * The PeerJS server (when installed) runs the same pairs and windows in its one
 * process (it has no fast path to choose): the rows put it beside ours.
 */
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

const GOAL_MSG_S = 50_000;
const GOAL_RATIO = 1.5;
const PAIRS = 500;

interface Variant {
  name: string;
  fastPath: boolean;
  window: number;
}

export const relay: Scenario = {
  name: 'relay',
  async run(ctx: BenchContext): Promise<Section> {
    // --quick keeps what the goals are about (through NATS).
    const variants: Variant[] = [
      { name: 'through NATS', fastPath: false, window: 8 },
      ...(ctx.quick
        ? []
        : [
            { name: 'local fast path', fastPath: true, window: 8 },
            { name: 'through NATS, 1 in flight', fastPath: false, window: 1 },
          ]),
    ];
    const rounds = ctx.quick ? 1 : 3;
    const warmupMs = ctx.quick ? 1000 : 2000;
    const measureMs = ctx.quick ? 2500 : 5000;
    const runs: { v: Variant; r: PairRun }[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const [i, v] of variants.entries()) {
        const among = v.fastPath
          ? (['ours', 'baseline'] as const)
          : (['ours', 'baseline', 'peerjs'] as const);
        for (const server of interleave(ctx, round + i, among)) {
          ctx.log(`relay: round ${round + 1}/${rounds}, ${ctx.names[server]}, ${v.name}`);
          const r = await runPairs(ctx, {
            server,
            fastPath: v.fastPath,
            pairs: PAIRS,
            go: { mode: 'window', window: v.window },
            frameBytes: 200,
            warmupMs,
            measureMs,
          });
          ctx.log(
            `  ${fmt(r.perSecond)} msg/s, ${fmt((r.gateway.seconds / r.received) * 1e6, 1)} µs server CPU/msg, server ${r.gateway.cores.toFixed(2)} cores, nats ${r.nats.cores.toFixed(2)}, clients ${r.clients.cores.toFixed(2)} (max ${r.clientMaxCores.toFixed(2)}), others ${r.otherCores.toFixed(2)}`,
          );
          runs.push({ v, r });
        }
      }
    }

    const pick = (server: ServerKind, v: Variant) =>
      runs
        .filter((x) =>
          server === 'peerjs'
            ? x.r.server === server && x.v.window === v.window
            : x.r.server === server && x.v === v,
        )
        .map((x) => x.r);
    const withPeerjs = ctx.servers.includes('peerjs');
    const m = (rs: PairRun[], f: (r: PairRun) => number) => median(rs.map(f));
    const rate = (r: PairRun) => r.perSecond;
    const perCpuS = (r: PairRun) => r.received / r.gateway.seconds;
    const summary: Table = {
      title: `Relayed candidate frames (200 B) between ${PAIRS} pairs (${2 * PAIRS} connections) at saturation; median of ${rounds} round(s)`,
      head: [
        'path, frames in flight per direction',
        `${ctx.names.ours} msg/s`,
        `${ctx.names.baseline} msg/s`,
        'ratio',
        'ours: msg per server CPU-s',
        'baseline: msg per server CPU-s',
        'ratio',
        ...(withPeerjs
          ? [`${ctx.names.peerjs} msg/s`, 'PeerJS: msg per server CPU-s', 'ours / PeerJS']
          : []),
      ],
      rows: variants.map((v) => {
        const o = pick('ours', v);
        const b = pick('baseline', v);
        return [
          `${v.name}, ${v.window}`,
          fmt(m(o, rate)),
          fmt(m(b, rate)),
          ratio(m(o, rate), m(b, rate)),
          fmt(m(o, perCpuS)),
          fmt(m(b, perCpuS)),
          ratio(m(o, perCpuS), m(b, perCpuS)),
          ...(withPeerjs
            ? [
                fmt(m(pick('peerjs', v), rate)),
                fmt(m(pick('peerjs', v), perCpuS)),
                ratio(m(o, perCpuS), m(pick('peerjs', v), perCpuS)),
              ]
            : []),
        ];
      }),
    };
    const detail: Table = {
      title: 'Every run, in the order run (CPU in cores over the measurement window)',
      head: [
        'server, path (window)',
        'msg/s',
        'µs server CPU/msg',
        'server (kernel share)',
        'nats-server',
        'clients (busiest)',
        'others',
        'frames/read',
        'errors',
      ],
      rows: runs.map(({ v, r }) => [
        `${label(ctx, r.server, r.fastPath)} (${v.window})`,
        fmt(r.perSecond),
        fmt((r.gateway.seconds / r.received) * 1e6, 1),
        `${r.gateway.cores.toFixed(2)} (${fmt(r.gateway.systemShare * 100)}%)`,
        r.nats.cores.toFixed(2),
        `${r.clients.cores.toFixed(2)} (${r.clientMaxCores.toFixed(2)})`,
        r.otherCores.toFixed(2),
        r.framesPerRead.toFixed(1),
        String(r.errors + r.closed),
      ]),
    };
    const main = variants[0]!;
    const oursNats = m(pick('ours', main), rate);
    const baseNats = m(pick('baseline', main), rate);
    const failures = runs.filter(({ r }) => r.errors > 0 || r.closed > 0);
    return {
      title: 'Relay throughput at saturation',
      tables: [summary, detail],
      goals: [
        {
          what: `≥ ${fmt(GOAL_MSG_S)} relayed msg/s through NATS on one gateway process`,
          measured: `${fmt(oursNats)} msg/s`,
          met: oursNats >= GOAL_MSG_S,
        },
        {
          what: `≥ ${GOAL_RATIO}× the ${ctx.names.baseline} through NATS, same run`,
          measured: ratio(oursNats, baseNats),
          met: oursNats / baseNats >= GOAL_RATIO,
        },
      ],
      notes: [
        'Each run is a fresh nats-server, room service and server under test; the clients are raw-TCP WebSocket clients in separate processes (the busiest client process is far from a full core).',
        '"others" is CPU the machine spent on processes that are not part of the run (other work on the shared machine): the noise. msg/s at saturation moves with it; µs of server CPU per message much less.',
        '"frames/read" is relayed frames per socket read at the clients: how many frames one write of the server carried on average.',
        ...(withPeerjs
          ? [
              `${ctx.names.peerjs} (npm \`peer\`, default configuration) is one process with no broker; it has no fast path, so its figures for a window stand in every row with that window. Its load clients speak its protocol (\`CANDIDATE\` with \`dst\`, same frame size) and send its client's \`HEARTBEAT\` every 5 s. Server CPU here is the server process alone (for ours, nats-server is in the detail table).`,
            ]
          : []),
        ...(failures.length > 0
          ? [
              `${failures.length} run(s) saw errors or closed connections: ${failures[0]?.r.lastError ?? 'closed'}`,
            ]
          : []),
      ],
      data: runs.map(({ v, r: { hist: _hist, ...r } }) => ({
        variant: v.name,
        window: v.window,
        ...r,
      })),
    };
  },
};
