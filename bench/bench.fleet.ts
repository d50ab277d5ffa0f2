/**
 * The load generators of one run, as seen from the orchestrator: forked processes
 * (dist/bench/load.js) that take commands and answer each with one reply.
 */
import { Loader } from './load.channel.js';
import {
  HIST_BUCKET_US,
  type Command,
  type Go,
  type Reply,
  type Sample,
  type Setup,
} from './load.messages.js';

type Generator = Loader<Command, Reply>;

/** Every load generator of one system under test. */
export class Fleet {
  private constructor(private readonly loaders: Generator[]) {}

  /** Forks `count` load generators. */
  static start(root: string, count: number): Fleet {
    const loaders = Array.from({ length: count }, () =>
      Loader.fork<Command, Reply>(root, 'load.js', 'load generator'),
    );
    return new Fleet(loaders);
  }

  get pids(): number[] {
    return this.loaders.map((l) => l.pid);
  }

  get size(): number {
    return this.loaders.length;
  }

  /** Sets up every generator with its own share (`setups[i]` goes to generator i). */
  async setup(setups: Setup[]): Promise<{ connections: number; setupMs: number }> {
    const replies = await Promise.all(
      this.loaders.map((l, i) => l.call({ cmd: 'setup', setup: setups[i]! }, 'ready')),
    );
    let connections = 0;
    let setupMs = 0;
    for (const r of replies) {
      connections += r.connections;
      setupMs = Math.max(setupMs, r.setupMs);
    }
    return { connections, setupMs };
  }

  /** Starts sending; `go(i)` is generator i's instruction. */
  async go(go: (i: number) => Go): Promise<void> {
    await Promise.all(this.loaders.map((l, i) => l.call({ cmd: 'go', go: go(i) }, 'done')));
  }

  async mark(): Promise<void> {
    await Promise.all(this.loaders.map((l) => l.call({ cmd: 'mark' }, 'done')));
  }

  async halt(): Promise<void> {
    await Promise.all(this.loaders.map((l) => l.call({ cmd: 'halt' }, 'done')));
  }

  /** Counters of every generator, summed, with the latency histograms merged. */
  async sample(): Promise<Sample> {
    const all = await Promise.all(this.loaders.map((l) => l.call({ cmd: 'sample' }, 'sample')));
    const hist = new Map<number, number>();
    const total: Sample = {
      sent: 0,
      received: 0,
      errors: 0,
      lastError: undefined,
      closed: 0,
      reads: 0,
      hist: [],
    };
    for (const s of all) {
      total.sent += s.sent;
      total.received += s.received;
      total.errors += s.errors;
      total.closed += s.closed;
      total.reads += s.reads;
      total.lastError ??= s.lastError;
      for (const [b, n] of s.hist) hist.set(b, (hist.get(b) ?? 0) + n);
    }
    total.hist = [...hist.entries()].sort((a, b) => a[0] - b[0]);
    return total;
  }

  /** Closes every connection and lets the generators exit. */
  async close(): Promise<void> {
    await Promise.all(
      this.loaders.map(async (l) => {
        await l.call({ cmd: 'close' }, 'done').catch(() => undefined);
        const timer = setTimeout(() => l.process.kill('SIGKILL'), 5000);
        await l.exited;
        clearTimeout(timer);
      }),
    );
  }

  /** Kills the generators without ceremony (after a failure). */
  kill(): void {
    for (const l of this.loaders) l.process.kill('SIGKILL');
  }
}

/** The latency below which `q` of the histogram's samples fall, in µs. */
export function quantileUs(hist: [number, number][], q: number): number {
  const count = hist.reduce((a, [, n]) => a + n, 0);
  if (count === 0) return Number.NaN;
  const rank = Math.ceil(q * count);
  let seen = 0;
  for (const [bucket, n] of hist) {
    seen += n;
    if (seen >= rank) return (bucket + 1) * HIST_BUCKET_US;
  }
  return Number.NaN;
}

/** Splits `items` into `n` nearly equal consecutive shares. */
export function shares<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < n; i++)
    out.push(
      items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)),
    );
  return out;
}
