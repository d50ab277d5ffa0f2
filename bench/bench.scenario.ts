/**
 * What a benchmark scenario is: a module with a name that runs on its own and
 * returns tables. run.ts knows nothing else about it, so a new scenario (room
 * operations, restart time, SRS hook answers) is one new file and one line in
 * run.ts's list.
 */
import type { ServerKind } from './bench.system.js';

export interface BenchContext {
  /** Repository root; dist/ is below it. */
  root: string;
  /** Smaller and shorter runs (about a minute in all). */
  quick: boolean;
  /** HS256 secret of this run's tokens. */
  secret: string;
  /** Where to write CPU profiles of the server under test (`--profile`), else undefined. */
  profileDir: string | undefined;
  /** Load-generator processes per system (`--loaders`). */
  loaders: number;
  /**
   * Another build of the gateway (a directory with package.json, node_modules and
   * dist/) that takes the baseline's place (`--against`): before/after comparisons.
   */
  against: string | undefined;
  /** How tables name the servers. */
  names: { ours: string; baseline: string; peerjs: string; floor: string };
  /** The servers to run (`--servers`; all four unless told, PeerJS when installed). */
  servers: readonly ServerKind[];
  /** Prints a progress line (stderr). */
  log(msg: string): void;
}

/**
 * The servers to run in a round, of those a scenario can run (`among`; PeerJS only
 * where the load is relaying), rotating which goes first so drift hits all alike.
 */
export function interleave(ctx: BenchContext, round: number): ('ours' | 'baseline')[];
export function interleave<K extends ServerKind>(
  ctx: BenchContext,
  round: number,
  among: readonly K[],
): K[];
export function interleave(
  ctx: BenchContext,
  round: number,
  among: readonly ServerKind[] = ['ours', 'baseline'],
): ServerKind[] {
  const wanted = among.filter((s) => ctx.servers.includes(s));
  const k = wanted.length === 0 ? 0 : round % wanted.length;
  return [...wanted.slice(k), ...wanted.slice(0, k)];
}

export interface Table {
  title: string;
  head: string[];
  rows: string[][];
}

/** A goal and whether this run met it. */
export interface Goal {
  what: string;
  measured: string;
  met: boolean;
}

export interface Section {
  title: string;
  tables: Table[];
  notes: string[];
  goals: Goal[];
  /** Raw figures, kept in the JSON results file. */
  data: unknown;
}

export interface Scenario {
  /** What `--only` names. */
  name: string;
  run(ctx: BenchContext): Promise<Section>;
}

/** Median of the finite values (NaN when none). */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** A number with thousands separators and `digits` decimals. */
export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `a / b` as "1.23×". */
export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

/** A table as GitHub markdown. */
export function renderTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `**${t.title}**`,
    '',
    line(t.head),
    line(t.head.map(() => '---')),
    ...t.rows.map(line),
  ].join('\n');
}

/** A section as markdown: title, tables, goals, notes. */
export function renderSection(s: Section): string {
  const parts = [`### ${s.title}`, ''];
  for (const t of s.tables) parts.push(renderTable(t), '');
  if (s.goals.length > 0) {
    for (const g of s.goals) parts.push(`- ${g.met ? 'met' : 'MISSED'}: ${g.what} (${g.measured})`);
    parts.push('');
  }
  for (const n of s.notes) parts.push(`- ${n}`);
  if (s.notes.length > 0) parts.push('');
  return parts.join('\n');
}
