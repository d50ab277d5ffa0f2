/**
 * Scenario `validate`: TypeBox's compiled check of our frame union beside a
 * hand-written one (validate.hand.ts), in ns per frame, on candidate, offer and
 * join frames; JSON.parse alone for scale. The project's style guide asks for this
 * measurement before anyone trades the schema for hand-written code.
 *
 * Both checks must agree on every sample (valid and invalid) before anything is
 * timed: a faster check that accepts other frames proves nothing.
 */
import { performance } from 'node:perf_hooks';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { loadConfig } from '#config/config.js';
import { clientFrameSchemas, type ProtocolLimits } from '#shared/wire/protocol.js';
import {
  fmt,
  median,
  ratio,
  type BenchContext,
  type Scenario,
  type Section,
  type Table,
} from './bench.scenario.js';
import { handChecks } from './validate.hand.js';

/** The relay rate the gateway is asked to sustain, to put ns per frame in proportion. */
const RELAY_RATE = 50_000;
const VARIANTS = 64;

function samples(kind: 'candidate' | 'offer' | 'join'): string[] {
  return Array.from({ length: VARIANTS }, (_, i) => {
    const room = `room-${i}`;
    const to = `peer${i.toString(36)}AbCdEfGh`;
    switch (kind) {
      case 'candidate':
        return JSON.stringify({
          type: 'candidate',
          room,
          to,
          candidate: {
            candidate: `candidate:842163049 1 udp 1677729535 192.0.2.${i} ${40000 + i} typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-cost 999`,
            sdpMid: '0',
            sdpMLineIndex: 0,
          },
        });
      case 'offer':
        return JSON.stringify({
          type: 'offer',
          room,
          to,
          id: i,
          sdp:
            `v=0\r\no=- ${4611731400430051336 + i} 2 IN IP4 127.0.0.1\r\n` + 'a=x\r\n'.repeat(500),
        });
      case 'join':
        return JSON.stringify({
          type: 'join',
          room,
          role: i % 2 === 0 ? 'viewer' : 'publisher',
          id: `j${i}`,
        });
    }
  });
}

/** Frames both checks must refuse (and a few more they must accept). */
function edgeCases(valid: string): unknown[] {
  const v = JSON.parse(valid) as Record<string, unknown>;
  return [
    { ...v, extra: 1 },
    { ...v, room: 'a.b' },
    { ...v, room: 'x'.repeat(65) },
    { ...v, id: '' },
    { ...v, id: -1 },
    { ...v, id: 1.5 },
    { ...v, id: 'x'.repeat(64) },
    { ...v, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    { ...v, traceparent: 'nope' },
    JSON.parse(valid.replace('{', '{"__proto__":{"x":1},')),
    JSON.parse(valid.replace('{', '{"constructor":1,')),
    { ...v, type: 'other' },
    [v],
    null,
    'text',
  ];
}

function agree(
  typebox: (v: unknown) => boolean,
  hand: (v: unknown) => boolean,
  values: unknown[],
): void {
  for (const value of values) {
    if (typebox(value) !== hand(value))
      throw new Error(`validators disagree on ${JSON.stringify(value ?? null).slice(0, 200)}`);
  }
}

let sink = 0;
/** Milliseconds `n` calls of `fn` take, cycling over `inputs`. */
function timeCalls<T>(fn: (v: T) => unknown, inputs: T[], n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (fn(inputs[i % inputs.length]!)) sink++;
  return performance.now() - t0;
}

/** A timer for `fn`: calibrated once (which also warms the JIT), then ns per call of one batch. */
function meter<T>(fn: (v: T) => unknown, inputs: T[], batchMs: number): () => number {
  let n = 1024;
  while (timeCalls(fn, inputs, n) < batchMs) n *= 2;
  return () => (timeCalls(fn, inputs, n) * 1e6) / n;
}

export const validate: Scenario = {
  name: 'validate',
  async run(ctx: BenchContext): Promise<Section> {
    const cfg = loadConfig({});
    const limits: ProtocolLimits = {
      maxTokenBytes: cfg.auth.maxTokenBytes,
      maxSdpBytes: cfg.gateway.maxSdpBytes,
      maxCandidateBytes: cfg.gateway.maxCandidateBytes,
    };
    const schemas = clientFrameSchemas(limits);
    const hand = handChecks(limits);
    const reps = ctx.quick ? 3 : 7;
    const batchMs = ctx.quick ? 50 : 100;
    const rows: string[][] = [];
    const data: Record<string, { bytes: number; parse: number; typebox: number; hand: number }> =
      {};
    for (const kind of ['candidate', 'offer', 'join'] as const) {
      const tb = TypeCompiler.Compile(schemas[kind]);
      const typeboxCheck = (v: unknown) => tb.Check(v);
      const handCheck = hand[kind]!;
      const texts = samples(kind);
      const values = texts.map((t) => JSON.parse(t) as unknown);
      agree(typeboxCheck, handCheck, values);
      agree(typeboxCheck, handCheck, edgeCases(texts[0]!));
      if (!values.every(typeboxCheck)) throw new Error(`a ${kind} sample is not valid`);

      const parse: number[] = [];
      const typebox: number[] = [];
      const handNs: number[] = [];
      const timeParse = meter((t: string) => JSON.parse(t), texts, batchMs);
      const timeTypebox = meter(typeboxCheck, values, batchMs);
      const timeHand = meter(handCheck, values, batchMs);
      for (let r = 0; r < reps; r++) {
        // Interleaved, order alternating: neither check always runs on a warmer CPU.
        parse.push(timeParse());
        if (r % 2 === 0) {
          typebox.push(timeTypebox());
          handNs.push(timeHand());
        } else {
          handNs.push(timeHand());
          typebox.push(timeTypebox());
        }
      }
      const d = {
        bytes: Math.round(texts.reduce((a, t) => a + t.length, 0) / texts.length),
        parse: median(parse),
        typebox: median(typebox),
        hand: median(handNs),
      };
      data[kind] = d;
      rows.push([
        kind,
        fmt(d.bytes),
        fmt(d.parse),
        fmt(d.typebox),
        fmt(d.hand),
        ratio(d.typebox, d.hand),
        `${fmt((d.typebox * RELAY_RATE) / 1e7, 2)}%`,
      ]);
    }
    if (sink < 0) ctx.log('');
    const table: Table = {
      title: `Frame validation, ns per frame (median of ${reps} batches, ${VARIANTS} distinct frames each)`,
      head: [
        'frame',
        'bytes',
        'JSON.parse',
        'TypeBox compiled',
        'hand-written',
        'TypeBox / hand',
        `TypeBox at ${fmt(RELAY_RATE)} msg/s (share of a core)`,
      ],
      rows,
    };
    const cand = data.candidate!;
    return {
      title: 'Frame validation (TypeBox compiled vs hand-written)',
      tables: [table],
      goals: [],
      notes: [
        `At ${fmt(RELAY_RATE)} candidate frames/s TypeBox costs ${fmt((cand.typebox * RELAY_RATE) / 1e7, 2)}% of a core, the hand-written check ${fmt((cand.hand * RELAY_RATE) / 1e7, 2)}%: compare with the gateway's whole cost per relayed frame in the relay table.`,
        'Both checks agree on every sample and on the edge cases (extra keys, `__proto__`, bad ids, ids and traceparents at their limits) before timing.',
      ],
      data,
    };
  },
};
