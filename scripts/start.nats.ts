/**
 * `npm start`'s NATS credentials: with its own nats-server, a seed per shipped
 * credential under `<data>/credentials/` (made on the first start, mode 0600, kept
 * across restarts) and `<data>/nats.conf` with their public keys and permissions;
 * with a server of the operator's (NATS_URL), whatever NATS_NKEY_SEED_FILE says.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
