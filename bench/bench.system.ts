/**
 * One system under test: a private nats-server (random port, temporary store), the
 * room service, and either our gateway or the `ws` baseline, each a process of its
 * own started from dist/. Rooms are created over NATS, as the REST API will.
 * (The PeerJS server, which has neither, starts in peerjs.system.ts.)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { pool } from '#shared/runtime/task.pool.js';
import { launch, type Child } from './bench.procs.js';

/** Which WebSocket server is under test (PeerJS only in the relay scenarios). */
export type ServerKind = 'ours' | 'baseline' | 'peerjs' | 'floor';

export interface SystemOptions {
  /** Repository root (dist/ is below it). */
  root: string;
  server: ServerKind;
  /** Extra environment for the server under test (limits, the fast path). */
  env: Record<string, string>;
  secret: string;
  /** Directory for a V8 CPU profile of the server, when one is wanted. */
  profileDir?: string;
  /** Run this build of the gateway (its root directory) as the baseline instead of baseline.js. */
  against?: string;
}

/** The server's memory, after a memory-reducing GC (see server.hook.ts). */
export interface ServerMemory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface BenchSystem {
  server: Child;
  /** Undefined for the PeerJS server, which runs without them (the floor has no room service). */
  nats: Child | undefined;
  room: Child | undefined;
  host: string;
  port: number;
  /** Runs a memory-reducing GC in the server and reads its memory. */
  memory(): Promise<ServerMemory>;
  /** Creates rooms (owner `bench`, public) with the given capacity. */
  createRooms(ids: string[], maxViewers: number): Promise<void>;
  stop(): Promise<void>;
}

export const NATS_BIN =
  ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
export const ISSUER = 'roomcast';
export const AUDIENCE = 'roomcast';
export const HOST = '127.0.0.1';

/** The part of every bench system below the WebSocket servers: nats-server and the room service. */
export interface Backend {
  nats: Child;
  room: Child;
  natsUrl: string;
  /** The services' environment: NATS, auth and logging, then the caller's `env` over it. */
  env: NodeJS.ProcessEnv;
  /** Processes started so far, the backend's first: `stopAll` stops them last to first. */
  started: Child[];
  /** Stops every started process and removes the NATS store. */
  stopAll: () => Promise<void>;
}

/**
 * Starts a private nats-server (random port, JetStream in a temporary store named
 * after `storePrefix`) and the room service on it, with `nodeArgs` before its
 * script. On a failure, what was started is stopped again.
 */
export async function startBackend(o: {
  root: string;
  storePrefix: string;
  secret: string;
  issuer: string;
  audience: string;
  env: Record<string, string>;
  nodeArgs?: string[];
}): Promise<Backend> {
  const store = mkdtempSync(join(tmpdir(), o.storePrefix));
  const started: Child[] = [];
  const stopAll = async () => {
    for (const c of [...started].reverse()) await c.stop();
    rmSync(store, { recursive: true, force: true });
  };
  try {
    const { nats, url: natsUrl } = await launchNats(store);
    started.push(nats);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NATS_URL: natsUrl,
      AUTH_JWT_SECRET: o.secret,
      AUTH_ISSUER: o.issuer,
      AUTH_AUDIENCE: o.audience,
      LOG_LEVEL: 'info',
      // The services' fixed metrics ports would collide with anything else on the machine.
      METRICS_ENABLED: 'false',
      ...o.env,
    };
    const room = launch(
      'room',
      process.execPath,
      [...(o.nodeArgs ?? []), join(o.root, 'dist/services/room/main.js')],
      env,
    );
    started.push(room);
    await room.waitFor(/room service ready/);
    return { nats, room, natsUrl, env, started, stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Launches a private nats-server on a free port of HOST (JetStream in `store` when
 * given) and waits until it listens; one that never does is stopped.
 */
export async function launchNats(store?: string): Promise<{ nats: Child; url: string }> {
  const js = store === undefined ? [] : ['-js', '-sd', store];
  const nats = launch('nats-server', NATS_BIN, ['-a', HOST, '-p', '-1', ...js]);
  try {
    const port = (await nats.waitFor(/Listening for client connections on [\d.]+:(\d+)/))[1];
    return { nats, url: `nats://${HOST}:${port}` };
  } catch (err) {
    await nats.stop();
    throw err;
  }
}

/** Asks a server started with server.hook.js for its memory after a memory-reducing GC. */
export async function readMemory(server: Child): Promise<ServerMemory> {
  const line = server.next(/^\{"bench":"memory".*\}$/);
  server.process.kill('SIGUSR2');
  return JSON.parse((await line)[0]) as ServerMemory;
}

export async function startSystem(
  o: SystemOptions,
): Promise<BenchSystem & { nats: Child; room: Child }> {
  const { nats, room, natsUrl, env, started, stopAll } = await startBackend({
    root: o.root,
    storePrefix: 'roomcast-bench-nats-',
    secret: o.secret,
    issuer: ISSUER,
    audience: AUDIENCE,
    env: { ...o.env, GATEWAY_HOST: HOST, GATEWAY_PORT: '0' },
  });
  try {
    const serverArgs = [`--import=${join(o.root, 'dist/bench/server.hook.js')}`];
    const serverEnv =
      o.profileDir === undefined ? env : { ...env, BENCH_PROFILE_DIR: o.profileDir };
    const server =
      o.server === 'ours'
        ? launch(
            'gateway',
            process.execPath,
            [...serverArgs, join(o.root, 'dist/services/gateway/main.js')],
            serverEnv,
          )
        : o.against !== undefined
          ? launch(
              'other gateway',
              process.execPath,
              [...serverArgs, join(o.against, 'dist/services/gateway/main.js')],
              serverEnv,
            )
          : launch(
              'baseline',
              process.execPath,
              [...serverArgs, join(o.root, 'dist/bench/baseline.js')],
              serverEnv,
            );
    started.push(server);
    const ready = await server.waitFor(
      o.server === 'baseline' && o.against === undefined
        ? /"baseline ready","port":(\d+)/
        : /"url":"ws:\/\/[\d.]+:(\d+)\//,
    );
    const port = Number(ready[1]);

    const bus = await Bus.connect({
      servers: [natsUrl],
      name: 'bench',
      requestTimeoutMs: 10_000,
      log: createLogger('bench', 'error'),
    });
    const rooms = new RoomClient(bus);
    return {
      server,
      nats,
      room,
      host: HOST,
      port,
      memory: () => readMemory(server),
      async createRooms(ids, maxViewers) {
        await pool(ids, 64, async (roomId) => {
          await rooms
            .create(roomId, {
              userId: 'bench',
              title: `bench ${roomId}`,
              isPrivate: false,
              maxViewers,
            })
            .catch((err: unknown) => {
              if (err instanceof RoomRefusedError)
                throw new Error(`create ${roomId}: ${err.body.code}`);
              throw err;
            });
        });
      },
      async stop() {
        await bus.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
