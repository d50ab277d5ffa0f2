/**
 * `npm run chaos`: the system of chaos.system.ts under the mixed load of
 * chaos.load.ts, while one process at a time is killed with SIGKILL and started
 * again, in rounds (a NATS node, a room replica, a gateway, the stream service);
 * then the invariants (chaos.check.ts) and the figures, printed.
 *
 *   npm run chaos                    # one round: four kills, about two minutes
 *   npm run chaos -- --rounds 5      # twenty kills
 *   npm run chaos -- --minutes 10    # the soak: rounds until ten minutes are up
 *   npm run chaos -- --minutes 10 --no-kills   # the load alone: memory of every process
 *   npm run chaos -- --verbose       # and every refused step, and the services' logs
 *
 * Exits 1 when an invariant does not hold.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { rssBytes } from '../bench.procs.js';
import { MemoryParts } from './chaos.memory.js';
import {
  checkInvariants,
  describeAsks,
  percentile,
  refusedByKill,
  windows,
  type Invariants,
  type Kill,
} from './chaos.check.js';
import { runLoad, type LoadRecord } from './chaos.load.js';
import {
  KINDS,
  ROOM_LEASE_MS,
  startChaosSystem,
  victimOf,
  type ChaosSystem,
} from './chaos.system.js';

export interface ChaosOptions {
  /** Rounds of four kills; with `minutes`, rounds go on until the time is up. */
  rounds?: number;
  /** False: the load alone for `minutes`, nothing killed (memory of every process). */
  kills?: boolean;
  minutes?: number;
  /** Concurrent sessions of the load. */
  workers?: number;
  /** How long a killed process stays dead, in ms. */
  downMs?: number;
  /** Time after a restart before the next kill, in ms. */
  settleMs?: number;
  print?: (line: string) => void;
  /** Also print every refused step, by the kill before it. */
  verbose?: boolean;
}

export interface ChaosReport {
  kills: Kill[];
  invariants: Invariants;
  windows: Map<string, number[]>;
  resumes: { total: number; ok: number; samePeer: number; maxMs: number };
  memory: { label: string; beforeMb: number; afterMb: number; growth: number }[];
  ops: { total: number; failed: number; byCode: Record<string, number> };
  sessions: number;
}

/** Every process alive now, by label, with its pid. */
function processes(sys: ChaosSystem): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of sys.nats.nodes) if (n.running()) out.set(`nats ${n.name}`, n.process.pid ?? 0);
  for (const m of sys.members) out.set(m.label, m.proc.child.pid ?? 0);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions = {}): Promise<ChaosReport> {
  const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const downMs = o.downMs ?? 2000;
  const settleMs = o.settleMs ?? 4000;
  const sys = await startChaosSystem();
  try {
    const bus = await Bus.connect({
      ...sys.nats.connectOptions(),
      name: 'chaos',
      requestTimeoutMs: 3000,
      log: createLogger('chaos', 'error'),
    });
    let stopped = false;
    const load = runLoad(sys, { workers: o.workers ?? 6, stopped: () => stopped });
    const steady = o.kills === false;
    const startedAt = Date.now();
    const endAt = o.minutes === undefined ? undefined : startedAt + o.minutes * 60_000;
    // Without kills the run is about memory: the baseline is taken once caches and
    // JIT have warmed up (a tenth of the run, at least 30 s), not while they fill.
    await sleep(steady ? Math.max(30_000, ((endAt ?? startedAt) - startedAt) / 10) : 5000);
    const before = processes(sys);
    const beforeRss = new Map([...before].map(([label, pid]) => [label, rssBytes(pid)]));
    const kills: Kill[] = [];
    // The soak's memory as it goes, not only its two ends: a store that fills toward a
    // plateau reads differently from one that grows with every room.
    const parts = new MemoryParts(bus);
    for (let at = Date.now(); steady && endAt !== undefined && at < endAt; at = Date.now()) {
      await sleep(Math.min(60_000, endAt - at));
      const now = [...before].map(([label, pid]) => {
        const of = parts.of(label, pid);
        return `${label} ${(rssBytes(pid) / 2 ** 20).toFixed(0)}${of === '' ? '' : ` (${of})`}`;
      });
      print(
        `memory at +${((Date.now() - startedAt) / 60_000).toFixed(1)} min (RSS MB): ${now.join(', ')}`,
      );
    }
    parts.close();
    for (
      let round = 0;
      !steady && (endAt === undefined ? round < (o.rounds ?? 1) : Date.now() < endAt);
      round++
    ) {
      for (const kind of KINDS) {
        const victim = victimOf(sys, kind, round);
        const at = Date.now();
        await victim.kill();
        await sleep(downMs);
        await victim.restart();
        if (kind === 'nats') await sys.nats.waitHealthy();
        const back = Date.now();
        kills.push({ kind, label: victim.label, at, back });
        print(`killed ${victim.label} (SIGKILL), back after ${back - at} ms`);
        await sleep(settleMs);
      }
    }
    await sleep(3000);
    const after = processes(sys);
    stopped = true;
    const rec: LoadRecord = await load;
    const memory = [...before]
      .filter(([label, pid]) => after.get(label) === pid)
      .map(([label, pid]) => {
        const b = (beforeRss.get(label) ?? 0) / 2 ** 20;
        const a = rssBytes(pid) / 2 ** 20;
        return { label, beforeMb: b, afterMb: a, growth: a / b - 1 };
      });
    // Before the check, which reads the whole log and can take minutes after a long run.
    print(
      `memory (RSS MB, before → after): ${memory.map((m) => `${m.label} ${m.beforeMb.toFixed(1)} → ${m.afterMb.toFixed(1)}`).join(', ')}; checking…`,
    );
    // A failover window lasts at most a lease (a dead replica's rooms move) plus slack.
    const checking = Date.now();
    const invariants = await checkInvariants(bus, rec, kills, ROOM_LEASE_MS + 5000, print);
    print(`checked in ${((Date.now() - checking) / 1000).toFixed(1)} s`);
    for (const key of [...invariants.lost, ...invariants.duplicated])
      print(`  ${key}: ${whereStored(sys, key, rec, kills)}`);
    await bus.close();
    const failed = rec.ops.filter((x) => !x.ok);
    const byCode: Record<string, number> = {};
    for (const f of failed) byCode[f.code ?? '?'] = (byCode[f.code ?? '?'] ?? 0) + 1;
    const report: ChaosReport = {
      kills,
      invariants,
      windows: windows(rec, kills),
      resumes: {
        total: rec.resumes.length,
        ok: rec.resumes.filter((r) => r.ok).length,
        samePeer: rec.resumes.filter((r) => r.samePeer).length,
        maxMs: Math.max(0, ...rec.resumes.map((r) => r.ms)),
      },
      memory,
      ops: { total: rec.ops.length, failed: failed.length, byCode },
      sessions: rec.rooms.size,
    };
    printReport(report, print);
    if (o.verbose === true) {
      printFailures(rec, kills, print);
      print(`service logs: ${saveLogs(sys, kills)}`);
    }
    return report;
  } finally {
    await sys.stop();
  }
}

/**
 * For a lost or duplicated transition: when it was acknowledged against the kills, and
 * which nodes' stores hold its peer id (its room id for a create or an end) at all (a lost ack that no store ever held
 * was answered without an append; one that a store holds was lost by a read or an election).
 */
function whereStored(sys: ChaosSystem, key: string, rec: LoadRecord, kills: Kill[]): string {
  const ack = rec.acks.find((a) => a.key === key);
  // A member's transitions by its peer id, a room's own by the room id.
  const needle = ack === undefined ? key : 'peerId' in ack ? ack.peerId : ack.roomId;
  const at = ack?.at ?? 0;
  const before = kills.filter((k) => k.at <= at).at(-1);
  const when =
    before === undefined ? 'before the first kill' : `${at - before.at} ms after ${before.label}`;
  const held = sys.nats.nodes.map((n) => {
    const r = spawnSync('grep', ['-rl', '--binary-files=text', needle, n.storeDir]);
    return `${n.name}: ${r.stdout.toString().trim().split('\n').filter(Boolean).length} files`;
  });
  return `acknowledged ${when}; stores ${held.join(', ')}`;
}

export function invariantsHold(r: ChaosReport): boolean {
  const i = r.invariants;
  return (
    i.lost.length === 0 &&
    i.duplicated.length === 0 &&
    i.gaps.length === 0 &&
    i.diverged.length === 0 &&
    i.twoPublishers.length === 0 &&
    i.outside === 0 &&
    // A resume refused while the room itself fails over is tried again on the next
    // tick; what must hold is that every resume that succeeds keeps the peer id.
    r.resumes.samePeer === r.resumes.ok
  );
}

function printReport(r: ChaosReport, print: (line: string) => void): void {
  const i = r.invariants;
  print('');
  print(
    `chaos: ${r.kills.length} kills, ${r.sessions} rooms, ${r.ops.total} steps (${r.ops.failed} refused: ${JSON.stringify(r.ops.byCode)})`,
  );
  print(
    `acknowledged transitions: ${i.acknowledged}; lost ${i.lost.length}, duplicated ${i.duplicated.length}`,
  );
  for (const k of [...i.lost, ...i.duplicated].slice(0, 10)) print(`  ${k}`);
  print(
    `rooms whose log has a gap or a foreign batch: ${i.gaps.length}; live ≠ replay: ${i.diverged.length} (${i.movedOn} had moved on since the pass over the log); two publishers: ${i.twoPublishers.length}`,
  );
  print(`live states asked: ${describeAsks(i.stateAsks)}`);
  if (i.diverged.length > 0) print(`  live ≠ replay: ${i.diverged.slice(0, 10).join(', ')}`);
  print(`refusals outside a failover window: ${i.outside}`);
  for (const line of i.outsideSamples) print(`  ${line}`);
  print(
    `resumes on the other gateway: ${r.resumes.ok} of ${r.resumes.total} attempts succeeded (a refused one is tried again), same peer id ${r.resumes.samePeer}, slowest ${r.resumes.maxMs} ms`,
  );
  print('failover windows (ms)        p50     p99     max   (kills)');
  for (const [key, w] of [...r.windows].sort()) {
    const f = (p: number) => String(percentile(w, p)).padStart(7);
    print(
      `  ${key.padEnd(26)}${f(50)} ${f(99)} ${String(Math.max(...w)).padStart(7)}   (${w.length})`,
    );
  }
  print('memory of survivors (RSS MB)  before   after  growth');
  for (const m of r.memory)
    print(
      `  ${m.label.padEnd(26)}${m.beforeMb.toFixed(1).padStart(7)} ${m.afterMb.toFixed(1).padStart(7)} ${(m.growth * 100).toFixed(1).padStart(6)}%`,
    );
  print(invariantsHold(r) ? 'invariants: hold' : 'invariants: BROKEN');
}

/** Every refused step, under the kill it followed: what a failover window is made of. */
function printFailures(rec: LoadRecord, kills: Kill[], print: (line: string) => void): void {
  print('refused steps by kill (op code: start after the kill +duration, ms)');
  const refused = refusedByKill(rec, kills);
  kills.forEach((k, i) => {
    const failed = refused[i] ?? [];
    print(`  ${k.label} (back after ${k.back - k.at}): ${failed.length}`);
    for (const x of failed)
      print(`    ${x.op} ${(x.code ?? '').slice(0, 40)}: ${x.start - k.at} +${x.end - x.start}`);
  });
  print('sockets closed 1006 (ms after the last kill: what the client saw)');
  for (const c of rec.closes1006) {
    const before = kills.filter((k) => k.at <= c.at).at(-1);
    print(
      `  ${before === undefined ? 'before any kill' : `${c.at - before.at} after ${before.label}`}: ${c.cause}`,
    );
  }
}

/** Writes every incarnation's log lines, and the kills, into a new directory; returns it. */
function saveLogs(sys: ChaosSystem, kills: Kill[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-chaos-logs-'));
  for (const m of sys.members)
    m.incarnations.forEach((p, i) =>
      writeFileSync(join(dir, `${m.label}.${i}.log`), p.lines.join('\n')),
    );
  writeFileSync(
    join(dir, 'kills.log'),
    kills
      .map((k) => `${new Date(k.at).toISOString()} ${k.label} back +${k.back - k.at}`)
      .join('\n'),
  );
  return dir;
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const minutes = arg('minutes');
  const rounds = arg('rounds');
  const report = await runChaos({
    verbose: process.argv.includes('--verbose'),
    kills: !process.argv.includes('--no-kills'),
    ...(minutes === undefined ? {} : { minutes }),
    ...(rounds === undefined ? {} : { rounds }),
  });
  process.exit(invariantsHold(report) ? 0 : 1);
}
