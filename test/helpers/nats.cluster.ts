/**
 * A three-node (or n-node) nats-server cluster for one test or the chaos run: free
 * loopback ports, routes between every node, JetStream with a store directory per
 * node, the shipped users and permissions of startNats (nats.ts), one seed directory
 * for them all. Stopped in teardown (the caller's) and when the process exits.
 *
 * A node is ready when its /healthz answers 200: in a cluster that means JetStream's
 * meta group has a leader and the node's streams are current, which is what a
 * restarted node must reach before the next one may be killed.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAuth, seedPath } from '#shared/runtime/bus.credentials.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { authorization, launchNats, registerSeedDir, type NatsConnectOptions } from './nats.js';
import { freePort } from './net.js';
import { waitUntil } from './deadline.js';

export interface NatsNode {
  /** server_name, `n1`… */
  name: string;
  url: string;
  port: number;
  /** Its JetStream store (and config): kept across kill and restart. */
  storeDir: string;
  process: ChildProcess;
  /** True while the process runs. */
  running(): boolean;
  /** SIGKILL (default) or SIGTERM; the store stays for `restart`. */
  kill(hard?: boolean): Promise<void>;
  /** Starts the node again on its ports and store; resolves once /healthz is 200. */
  restart(): Promise<void>;
  /** /healthz answers 200. */
  healthy(): Promise<boolean>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's URL: the seeds a process is given. */
  urls: string[];
  /** `NATS_URL` of a process: the seeds, comma-separated. */
  url: string;
  seedFile(credential: Credential): string;
  /** Connect options of `credential` (all seeds); the test-only superuser by default. */
  connectOptions(credential?: Credential): NatsConnectOptions;
  /** `NATS_URL` (all seeds) and `NATS_NKEY_SEED_FILE` of a process connecting as `credential`. */
  env(credential: Credential): Record<string, string>;
  /** Until every running node answers /healthz with 200. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the stores. */
  stop(): Promise<void>;
}

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

async function healthz(httpPort: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`, {
      signal: AbortSignal.timeout(2000),
    });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

const until = (what: string, check: () => Promise<boolean>, timeoutMs: number) =>
  waitUntil(`nats cluster: ${what}`, check, { ms: timeoutMs, everyMs: 100 });

/** Starts `size` routed nodes with JetStream and waits until all are healthy. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-nats-cluster-'));
  const seedDir = join(dir, 'credentials');
  const auth = authorization(seedDir);
  const specs = [];
  for (let i = 1; i <= size; i++)
    specs.push({
      name: `n${i}`,
      port: await freePort(),
      routePort: await freePort(),
      httpPort: await freePort(),
    });
  const routes = specs.map((s) => `nats-route://127.0.0.1:${s.routePort}`);
  const nodes: NatsNode[] = [];
  const launching = specs.map(async (spec) => {
    const storeDir = join(dir, spec.name);
    mkdirSync(storeDir);
    const configFile = join(storeDir, 'nats.conf');
    writeFileSync(
      configFile,
      [
        auth,
        `server_name: ${spec.name}`,
        `http: 127.0.0.1:${spec.httpPort}`,
        'cluster {',
        '  name: roomcast',
        `  listen: 127.0.0.1:${spec.routePort}`,
        `  routes: ${JSON.stringify(routes)}`,
        '}',
        '',
      ].join('\n'),
    );
    const node: NatsNode = {
      name: spec.name,
      url: `nats://127.0.0.1:${spec.port}`,
      port: spec.port,
      storeDir,
      process: await launchNats(spec.port, storeDir, configFile),
      running: () => !exited(node.process),
      async kill(hard = true) {
        const p = node.process;
        if (exited(p)) return;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill(hard ? 'SIGKILL' : 'SIGTERM');
        await gone;
      },
      async restart() {
        node.process = await launchNats(spec.port, storeDir, configFile);
        await until(`${spec.name} healthy`, () => node.healthy(), 60_000);
      },
      healthy: () => healthz(spec.httpPort),
    };
    nodes.push(node);
  });
  try {
    await Promise.all(launching);
  } catch (err) {
    for (const n of nodes) await n.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  const urls = nodes.map((n) => n.url);
  const url = urls.join(',');
  // Processes and test buses look their seeds up by NATS_URL, or by its first seed.
  for (const u of [url, ...urls]) registerSeedDir(u, seedDir);
  const cluster: NatsCluster = {
    nodes,
    urls,
    url,
    seedFile: (credential) => seedPath(seedDir, credential),
    connectOptions: (credential = Credential.operator) => ({
      servers: urls,
      ...connectAuth(credential, seedPath(seedDir, credential)),
    }),
    env: (credential) => ({
      NATS_URL: url,
      NATS_NKEY_SEED_FILE: seedPath(seedDir, credential),
    }),
    async waitHealthy(timeoutMs = 60_000) {
      await until(
        'every node healthy',
        async () =>
          (await Promise.all(nodes.filter((n) => n.running()).map((n) => n.healthy()))).every(
            Boolean,
          ),
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      for (const u of [url, ...urls]) registerSeedDir(u, undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitHealthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
