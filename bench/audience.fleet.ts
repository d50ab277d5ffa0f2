/**
 * The load processes of the `audience` scenario, as the scenario sees them:
 * forked dist/bench/load.audience.js processes that take commands and answer each
 * with one reply (the time the reply arrived is kept: when that process was done).
 */
import { Loader } from './load.channel.js';
import type { AudienceCommand, AudienceReply } from './audience.messages.js';

export type AudienceLoader = Loader<AudienceCommand, AudienceReply>;

export function forkLoaders(root: string, count: number): AudienceLoader[] {
  return Array.from({ length: count }, () =>
    Loader.fork<AudienceCommand, AudienceReply>(root, 'load.audience.js', 'audience load process'),
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
