/**
 * The floor (floor.server.ts) as a system under test: a nats-server of its own
 * (no JetStream: nothing is stored) and the floor process. Its CPU per message is
 * both processes', as ours is the gateway's and nats-server's.
 */
import { join } from 'node:path';
import { HOST, launchNats, readMemory, type BenchSystem } from './bench.system.js';
import { launch } from './bench.procs.js';

export async function startFloor(o: { root: string }): Promise<BenchSystem> {
  const { nats, url } = await launchNats();
  const started = [nats];
  const stop = async () => {
    for (const c of [...started].reverse()) await c.stop();
  };
  try {
    const server = launch(
      'floor',
      process.execPath,
      [
        `--import=${join(o.root, 'dist/bench/server.hook.js')}`,
        join(o.root, 'dist/bench/floor.server.js'),
      ],
      { PATH: process.env.PATH, FLOOR_HOST: HOST, NATS_URL: url },
    );
    started.push(server);
    const port = Number((await server.waitFor(/"floor ready","port":(\d+)/))[1]);
    return {
      server,
      nats,
      room: undefined,
      host: HOST,
      port,
      memory: () => readMemory(server),
      createRooms: () => Promise.resolve(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
