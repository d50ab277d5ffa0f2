/**
 * A real nats-server for one test: free port, its own JetStream store, stopped in
 * teardown and when the test process exits (an orphan would break the next run).
 *
 * It runs with the shipped authorization (shared/runtime/bus.permissions.ts): one
 * nkey per credential, seeds in the store directory, anonymous connections refused,
 * plus the test-only `operator` superuser that test drivers connect as by default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Authenticator } from '@nats-io/nats-core';
import {
  authorizationConf,
  connectAuth,
  ensureSeedFile,
  publicKeyOf,
  seedPath,
} from '#shared/runtime/bus.credentials.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { freePort } from './net.js';

/** How to connect as one credential: spread into `Bus.connect` or nats.js's `connect`. */
export interface NatsConnectOptions {
  servers: string[];
  authenticator?: Authenticator;
  inboxPrefix: string;
}

export interface NatsServer {
  url: string;
  /** The seed file of `credential` (every credential has one, `operator` too). */
  seedFile(credential: Credential): string;
  /** Connect options of `credential`; the test-only superuser by default. */
  connectOptions(credential?: Credential): NatsConnectOptions;
  /** `NATS_URL` and `NATS_NKEY_SEED_FILE` of a process connecting as `credential`. */
  env(credential: Credential): Record<string, string>;
  port: number;
  storeDir: string;
  process: ChildProcess;
  /** Stops the server (SIGKILL when `hard`), keeping the store for a restart. */
  kill(hard?: boolean): Promise<void>;
  /** Starts the server again on the same port and store. */
  restart(): Promise<void>;
  /** Stops the server and removes its store. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Runs nats-server on `port` with JetStream in `storeDir`; resolves once it is ready. */
export function launchNats(
  port: number,
  storeDir: string,
  configFile: string,
): Promise<ChildProcess> {
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, '-c', configFile];
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server did not start on ${port}:\n${log}`));
    }, 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        child.stderr.removeAllListeners('data');
        // ROOMCAST_NATS_LOG=<file>: the server's log goes there (permission violations
        // are logged as `Publish Violation` / `Subscription Violation`).
        const logFile = process.env.ROOMCAST_NATS_LOG;
        if (logFile === undefined) child.stderr.resume();
        else child.stderr.on('data', (chunk: Buffer) => appendFileSync(logFile, chunk));
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
}

/** The seed files of the servers started here, by URL: processes spawned on one find theirs. */
const seedDirs = new Map<string, string>();

/**
 * `NATS_NKEY_SEED_FILE` for a process of `credential` on the test server at
 * `natsUrl`; nothing when that server was not started here.
 */
export function credentialEnv(
  natsUrl: string | undefined,
  credential: Credential,
): Record<string, string> {
  const dir = natsUrl === undefined ? undefined : seedDirs.get(natsUrl);
  return dir === undefined ? {} : { NATS_NKEY_SEED_FILE: seedPath(dir, credential) };
}

/** Lets processes spawned with `NATS_URL=url` find their seeds in `dir` (`credentialEnv`). */
export function registerSeedDir(url: string, dir: string | undefined): void {
  if (dir === undefined) seedDirs.delete(url);
  else seedDirs.set(url, dir);
}

/** Seeds for every credential in `dir`, and the server config that lets them in. */
export function authorization(dir: string): string {
  const users = Object.values(Credential).map((credential) => ({
    credential,
    publicKey: publicKeyOf(ensureSeedFile(seedPath(dir, credential))),
  }));
  return authorizationConf(users);
}

/** Starts nats-server with JetStream; `config` is extra server config text (e.g. mappings). */
export async function startNats(options: { config?: string } = {}): Promise<NatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), 'roomcast-nats-'));
  const seedDir = join(storeDir, 'credentials');
  const configFile = join(storeDir, 'nats.conf');
  writeFileSync(configFile, `${authorization(seedDir)}\n${options.config ?? ''}\n`);
  let port = await freePort();
  let child: ChildProcess;
  for (let attempt = 0; ; attempt++) {
    try {
      child = await launchNats(port, storeDir, configFile);
      break;
    } catch (err) {
      // The port may have been taken between probing and binding: try another.
      if (attempt >= 3) throw err;
      port = await freePort();
    }
  }
  const url = `nats://127.0.0.1:${port}`;
  seedDirs.set(url, seedDir);
  const server: NatsServer = {
    url,
    seedFile: (credential) => seedPath(seedDir, credential),
    connectOptions: (credential = Credential.operator) => ({
      servers: [url],
      ...connectAuth(credential, seedPath(seedDir, credential)),
    }),
    env: (credential) => ({ NATS_URL: url, ...credentialEnv(url, credential) }),
    port,
    storeDir,
    process: child,
    async kill(hard = false) {
      const p = server.process;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
    async restart() {
      server.process = await launchNats(port, storeDir, configFile);
    },
    async stop() {
      await server.kill(true);
      seedDirs.delete(url);
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return server;
}
