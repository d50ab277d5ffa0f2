/**
 * The load processes of the `audience` scenario, as the scenario sees them:
 * forked dist/bench/load.audience.js processes that take commands and answer each
 * with one reply (the time the reply arrived is kept: when that process was done).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AudienceCommand, AudienceEnvelope, AudienceReply } from './audience.messages.js';

type Answer = Exclude<AudienceReply, { error: string }>;

export class AudienceLoader {
  private seq = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (r: Answer) => void; reject: (e: Error) => void }
  >();
  readonly exited: Promise<void>;

  constructor(readonly process: ChildProcess) {
    process.on('message', (m: AudienceEnvelope<AudienceReply>) => {
      const w = this.waiting.get(m.seq);
      if (w === undefined) return;
      this.waiting.delete(m.seq);
      if ('error' in m) w.reject(new Error(`audience load process ${this.pid}: ${m.error}`));
      else w.resolve(m);
    });
    this.exited = new Promise((resolve) =>
      process.once('exit', (code) => {
        for (const w of this.waiting.values())
          w.reject(new Error(`audience load process ${this.pid} exited (${code})`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.process.pid ?? 0;
  }

  /** Sends a command; resolves with the reply and `performance.now()` at its arrival. */
  call<K extends Answer['ok']>(
    c: AudienceCommand,
    ok: K,
  ): Promise<Extract<Answer, { ok: K }> & { at: number }> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, {
        resolve: (r) => {
          if (r.ok !== ok) reject(new Error(`${c.cmd}: expected ${ok}, got ${r.ok}`));
          else resolve({ ...(r as Extract<Answer, { ok: K }>), at: performance.now() });
        },
        reject,
      });
      this.process.send({ seq, ...c } satisfies AudienceEnvelope<AudienceCommand>);
    });
  }
}

export function forkLoaders(root: string, count: number): AudienceLoader[] {
  return Array.from(
    { length: count },
    () =>
      new AudienceLoader(
        fork(join(root, 'dist/bench/load.audience.js'), [], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      ),
  );
}

/** Closes every connection and lets the processes exit (killed after 10 s). */
export async function closeLoaders(loaders: AudienceLoader[]): Promise<void> {
  await Promise.all(
    loaders.map(async (l) => {
      const timer = setTimeout(() => l.process.kill('SIGKILL'), 10_000);
      await l.call({ cmd: 'close' }, 'done').catch(() => undefined);
      await l.exited;
      clearTimeout(timer);
    }),
  );
}
