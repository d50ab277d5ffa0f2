/**
 * The fork IPC channel between a bench scenario and its load processes (load.ts,
 * load.audience.ts), both ends: each command carries a sequence number and gets one
 * reply with the same number, either an answer (`ok`) or `{ error }`. The messages
 * themselves are in load.messages.ts and audience.messages.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export type Envelope<T> = { seq: number } & T;

/** What a load process answers when a command failed. */
export interface Failure {
  error: string;
}

type Answer<R> = Exclude<R, Failure>;

/** A forked load process as the scenario sees it. */
export class Loader<C extends { cmd: string }, R extends { ok: string } | Failure> {
  private seq = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (r: Answer<R>, at: number) => void; reject: (e: Error) => void }
  >();
  readonly exited: Promise<void>;

  /** `label` names the process in errors ("load generator 1234: ..."). */
  constructor(
    readonly process: ChildProcess,
    private readonly label: string,
  ) {
    process.on('message', (m: Envelope<Answer<R>> | Envelope<Failure>) => {
      const w = this.waiting.get(m.seq);
      if (w === undefined) return;
      this.waiting.delete(m.seq);
      if ('error' in m) w.reject(new Error(`${label} ${this.pid}: ${m.error}`));
      else w.resolve(m, performance.now());
    });
    this.exited = new Promise((resolve) =>
      process.once('exit', (code) => {
        for (const w of this.waiting.values())
          w.reject(new Error(`${label} ${this.pid} exited (${code})`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  /** Forks `script` (below dist/bench/ of `root`) as a load process. */
  static fork<C extends { cmd: string }, R extends { ok: string } | Failure>(
    root: string,
    script: string,
    label: string,
  ): Loader<C, R> {
    const child = fork(join(root, 'dist/bench', script), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Loader<C, R>(child, label);
  }

  get pid(): number {
    return this.process.pid ?? 0;
  }

  /**
   * Sends a command; resolves with the answer, which must be `ok`, and
   * `performance.now()` at its arrival (when that process was done).
   */
  call<K extends Answer<R>['ok']>(
    c: C,
    ok: K,
  ): Promise<Extract<Answer<R>, { ok: K }> & { at: number }> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, {
        resolve: (r, at) => {
          if (r.ok !== ok) reject(new Error(`${c.cmd}: expected ${ok}, got ${r.ok}`));
          else resolve({ ...(r as Extract<Answer<R>, { ok: K }>), at });
        },
        reject,
      });
      // With a callback a failed send (the process has just exited: EPIPE) rejects
      // this call; without one it is an 'error' event that takes the whole bench down.
      this.process.send({ seq, ...c } satisfies Envelope<C>, (err) => {
        if (err === null || !this.waiting.delete(seq)) return;
        reject(new Error(`${this.label} ${this.pid}: ${c.cmd} not sent (${err.message})`));
      });
    });
  }
}

/**
 * The load process's end: answers each command from the parent with `handle`'s
 * reply (a thrown error becomes `{ error }`), and exits once the parent is gone.
 * `usage` is printed when the script is run on its own rather than forked.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- C types the handler: one of a command union is no handler of any `{ cmd }`.
export function serveCommands<C extends { cmd: string }, R extends object>(
  usage: string,
  handle: (c: C) => Promise<R>,
): void {
  if (process.send === undefined) {
    process.stderr.write(`${usage}\n`);
    process.exit(2);
  }
  process.on('message', (m: Envelope<C>) => {
    handle(m)
      .catch((err: unknown): Failure => ({
        error: err instanceof Error ? err.message : String(err),
      }))
      .then((reply: R | Failure) => {
        // Disconnecting only once the reply is out: with it still queued Node's
        // channel code throws (node 20: "Cannot set properties of null").
        process.send?.({ seq: m.seq, ...reply }, () => {
          if (m.cmd === 'close') process.disconnect();
        });
      })
      .catch(() => process.exit(1));
  });
  // The orchestrator is gone: nothing to report to.
  process.on('disconnect', () => process.exit(0));
}
