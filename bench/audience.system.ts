/**
 * The system of the `audience` scenario: a private nats-server, the room service,
 * and TWO gateway processes listening on the same port (uWebSockets.js binds with
 * SO_REUSEPORT on Linux, so the kernel spreads connections over both), each with a
 * gateway id of its own. The room service and the gateways run with
 * bench/server.hook.ts preloaded, so their memory can be read after a
 * memory-reducing GC.
 */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient } from '#shared/room/room.client.js';
import { BENCH_ENV } from './bench.measure.js';
import { launch, rssBytes, type Child } from './bench.procs.js';
import { HOST, startBackend } from './bench.system.js';

export interface AudienceSystem {
  nats: Child;
  room: Child;
  gateways: Child[];
  port: number;
  /** RSS of a Node process after a memory-reducing GC (server.hook.ts). */
  collectedRss(child: Child): Promise<number>;
  createRoom(roomId: string, maxViewers: number): Promise<void>;
  stop(): Promise<void>;
}

/** Open sockets (and other files) of a process: how many clients a gateway holds. */
export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** A port free on HOST just now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export async function startAudienceSystem(o: {
  root: string;
  secret: string;
  issuer: string;
  audience: string;
  /** Extra environment (limits) for the room service and the gateways. */
  env: Record<string, string>;
  gateways: number;
}): Promise<AudienceSystem> {
  const hook = `--import=${join(o.root, 'dist/bench/server.hook.js')}`;
  const { nats, room, natsUrl, env, started, ...backend } = await startBackend({
    root: o.root,
    storePrefix: 'roomcast-bench-audience-',
    secret: o.secret,
    issuer: o.issuer,
    audience: o.audience,
    env: { ...BENCH_ENV, ...o.env, GATEWAY_HOST: HOST },
    nodeArgs: [hook],
  });
  let bus: Bus | undefined;
  const stopAll = async () => {
    await bus?.close();
    await backend.stopAll();
  };
  try {
    // A port picked here rather than 0: uWebSockets.js binds port 0 without
    // SO_REUSEPORT, so a second gateway could not join the first on it.
    const port = await freePort();
    const gateways: Child[] = [];
    for (let i = 0; i < o.gateways; i++) {
      const gw = launch(
        `gateway ${i + 1}`,
        process.execPath,
        [hook, join(o.root, 'dist/services/gateway/main.js')],
        { ...env, GATEWAY_ID: `bench-gw${i + 1}`, GATEWAY_PORT: String(port) },
      );
      started.push(gw);
      gateways.push(gw);
      await gw.waitFor(/"url":"ws:\/\/[\d.]+:(\d+)\//);
    }

    bus = await Bus.connect({
      servers: [natsUrl],
      name: 'bench-audience',
      requestTimeoutMs: 10_000,
      log: createLogger('bench', 'error'),
    });
    const rooms = new RoomClient(bus);
    return {
      nats,
      room,
      gateways,
      port,
      async collectedRss(child) {
        // A process still busy with a flood may answer late; no figure then, not a failed run.
        const line = child.next(/^\{"bench":"memory".*\}$/, 60_000);
        child.process.kill('SIGUSR2');
        if ((await line.catch(() => undefined)) === undefined) return Number.NaN;
        // RSS once the freed pages had a moment to go back.
        await new Promise((r) => setTimeout(r, 300));
        return rssBytes(child.pid);
      },
      async createRoom(roomId, maxViewers) {
        await rooms.create(roomId, {
          userId: 'bench',
          title: `bench ${roomId}`,
          isPrivate: false,
          maxViewers,
        });
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
