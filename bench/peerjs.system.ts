/**
 * The PeerJS server as a system under test: one process (peerjs.server.ts) and
 * nothing behind it, no nats-server and no room service, so its CPU per relayed
 * message is the whole cost of its relay. Rooms do not exist there: a PeerJS
 * client addresses another by the id it connected with.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, readMemory, type BenchSystem } from './bench.system.js';
import { launch } from './bench.procs.js';

/** Whether the `peer` package is installed (a devDependency; `--servers` includes PeerJS by default then). */
export function peerjsInstalled(root: string): boolean {
  return existsSync(join(root, 'node_modules/peer/package.json'));
}

export async function startPeerjs(o: { root: string }): Promise<BenchSystem> {
  const server = launch(
    'peerjs',
    process.execPath,
    [
      `--import=${join(o.root, 'dist/bench/server.hook.js')}`,
      join(o.root, 'dist/bench/peerjs.server.js'),
    ],
    { PATH: process.env.PATH, PEERJS_HOST: HOST },
  );
  try {
    const port = Number((await server.waitFor(/"peerjs ready","port":(\d+)/))[1]);
    return {
      server,
      nats: undefined,
      room: undefined,
      host: HOST,
      port,
      memory: () => readMemory(server),
      createRooms: () => Promise.resolve(),
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
