/**
 * `npm start`'s NATS credentials: with its own nats-server, a seed per shipped
 * credential under `<data>/credentials/` (made on the first start, mode 0600, kept
 * across restarts) and `<data>/nats.conf` with their public keys and permissions;
 * with a server of the operator's (NATS_URL), whatever NATS_NKEY_SEED_FILE says.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  authorizationConf,
  credentialsDir,
  ensureSeedFiles,
  seedPath,
} from '#shared/runtime/bus.credentials.js';
import type { Credential } from '#shared/runtime/bus.permissions.js';

export interface StartCredentials {
  /** Where the seeds are (own server only). */
  dir: string | undefined;
  /** The seed file `credential` connects with, if any. */
  seedFile(credential: Credential): string | undefined;
  /** The environment that gives a process `credential`'s seed. */
  env(credential: Credential): NodeJS.ProcessEnv;
  /** Writes the seeds and the server config that lets them (only them) in; its path. */
  writeServerConfig(): string;
}

export function startCredentials(o: {
  dataDir: string;
  ownNats: boolean;
  configuredSeedFile: string | undefined;
}): StartCredentials {
  const dir = o.ownNats ? credentialsDir(o.dataDir) : undefined;
  const seedFile = (credential: Credential) =>
    dir === undefined ? o.configuredSeedFile : seedPath(dir, credential);
  return {
    dir,
    seedFile,
    env(credential) {
      const file = seedFile(credential);
      return file === undefined ? {} : { NATS_NKEY_SEED_FILE: file };
    },
    writeServerConfig() {
      if (dir === undefined) throw new Error('the NATS server is not ours to configure');
      const file = join(o.dataDir, 'nats.conf');
      writeFileSync(file, authorizationConf(ensureSeedFiles(dir)), { mode: 0o600 });
      return file;
    },
  };
}

/** One nats-server `npm start` runs: its name, client URL and command-line arguments. */
export interface StartNatsNode {
  name: string;
  url: string;
  args: string[];
}

/**
 * The nats-servers of `npm start`: one on `port` (the default), or with
 * `NATS_CLUSTER=n` (n ≥ 2) a cluster of n routed nodes on ports `port`…`port+n-1`,
 * routes on `port+1000`…, each with its own JetStream store under `<data>/nats-<name>`
 * (the single node keeps `<data>/nats`). `authConfig` is the users file
 * (`writeServerConfig`), included by each node's own config.
 */
export function startNatsNodes(o: {
  dataDir: string;
  port: number;
  cluster: number;
  authConfig: string;
}): StartNatsNode[] {
  const base = ['-a', '127.0.0.1', '-js'];
  if (o.cluster <= 1) {
    const store = join(o.dataDir, 'nats');
    mkdirSync(store, { recursive: true });
    return [
      {
        name: 'nats',
        url: `nats://127.0.0.1:${o.port}`,
        args: [...base, '-p', String(o.port), '-sd', store, '-c', o.authConfig],
      },
    ];
  }
  const names = Array.from({ length: o.cluster }, (_, i) => `nats-${i + 1}`);
  const routes = names.map((_, i) => `nats-route://127.0.0.1:${o.port + 1000 + i}`);
  return names.map((name, i) => {
    const store = join(o.dataDir, name);
    mkdirSync(store, { recursive: true });
    const config = join(o.dataDir, `${name}.conf`);
    writeFileSync(
      config,
      [
        `include "${basename(o.authConfig)}"`,
        // JetStream knows its peers by server_name: it must stay the same across restarts.
        `server_name: ${name}`,
        'cluster {',
        '  name: roomcast',
        `  listen: 127.0.0.1:${o.port + 1000 + i}`,
        `  routes: ${JSON.stringify(routes)}`,
        '}',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return {
      name,
      url: `nats://127.0.0.1:${o.port + i}`,
      args: [...base, '-p', String(o.port + i), '-sd', store, '-c', config],
    };
  });
}
