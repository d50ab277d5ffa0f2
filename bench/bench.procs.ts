/**
 * Processes of a benchmark run and what /proc says about them: CPU time
 * (utime + stime, every thread), resident memory, and how busy the whole machine
 * is (on a shared machine, the others' load is part of every figure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';

/** Clock ticks per second of /proc times (`getconf CLK_TCK`; 100 on Linux x86-64). */
const CLK_TCK = 100;
const PAGE_BYTES = 4096;

/** CPU seconds (user + system) a process has used so far, all its threads. */
export function cpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces), counted from field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
  return Number(statm[1]) * PAGE_BYTES;
}

/** Busy and total jiffies of the whole machine (all CPUs), from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export const CORES = cpus().length;

/** `/proc/loadavg`'s first three figures. */
export function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/** A CPU reading of several processes and the machine, to difference later. */
export interface CpuMark {
  at: number;
  procs: Map<number, { user: number; system: number }>;
  machine: { busy: number; total: number };
}

export function markCpu(pids: number[]): CpuMark {
  const procs = new Map<number, { user: number; system: number }>();
  for (const pid of pids) {
    try {
      procs.set(pid, cpuSeconds(pid));
    } catch {
      procs.set(pid, { user: 0, system: 0 });
    }
  }
  return { at: performance.now(), procs, machine: machineTicks() };
}

export interface CpuUse {
  seconds: number;
  /** Cores used on average over the interval (user + system). */
  cores: number;
  /** Share of that in the kernel. */
  systemShare: number;
}

/** CPU used by `pids` (summed) between two marks. */
export function cpuBetween(a: CpuMark, b: CpuMark, pids: number[]): CpuUse {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const x = a.procs.get(pid);
    const y = b.procs.get(pid);
    if (x === undefined || y === undefined) continue;
    user += y.user - x.user;
    system += y.system - x.system;
  }
  const wall = (b.at - a.at) / 1000;
  const seconds = user + system;
  return {
    seconds,
    cores: wall > 0 ? seconds / wall : 0,
    systemShare: seconds > 0 ? system / seconds : 0,
  };
}

/** Cores the whole machine kept busy between two marks (every process, ours and others'). */
export function machineBusyCores(a: CpuMark, b: CpuMark): number {
  const total = b.machine.total - a.machine.total;
  return total > 0 ? ((b.machine.busy - a.machine.busy) / total) * CORES : 0;
}

/** A child process whose stderr lines can be awaited (readiness) and kept (failures). */
export class Child {
  readonly lines: string[] = [];
  private watchers: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    live.add(process);
    this.exited = new Promise((resolve) =>
      process.once('exit', (code) => {
        live.delete(process);
        resolve(code);
      }),
    );
    for (const stream of [process.stdout, process.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > 400) this.lines.splice(0, 200);
        this.watchers = this.watchers.filter((w) => {
          const m = line.match(w.re);
          if (m === null) return true;
          w.resolve(m);
          return false;
        });
      });
    }
  }

  get pid(): number {
    const pid = this.process.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid`);
    return pid;
  }

  /** Resolves with the first output line matching `re`; rejects if the process exits first. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = line.match(re);
      if (m !== null) return Promise.resolve(m);
    }
    return this.next(re, timeoutMs);
  }

  /** Resolves with the next output line (from now on) matching `re`. */
  next(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`${this.name}: nothing matching ${re} in ${timeoutMs} ms:\n${this.tail()}`),
        );
      }, timeoutMs);
      this.watchers.push({
        re,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before ready:\n${this.tail()}`));
      });
    });
  }

  tail(): string {
    return this.lines.slice(-20).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const p = this.process;
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

const live = new Set<ChildProcess>();
/** Kills every child still running; run.ts calls it on exit and on signals. */
export function killAll(): void {
  for (const p of live) p.kill('SIGKILL');
}

/** Spawns `cmd` with its output piped (and kept for errors). */
export function launch(
  name: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Child {
  return new Child(name, spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
}
