/**
 * NATS credentials: one nkey pair per credential of bus.permissions.ts. The seed
 * (private) stays in a file only its service reads (mode 0600); nats-server's
 * config holds only the public keys, with each one's permissions. Seeds are never
 * logged: errors name the file, never its content.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nkeyAuthenticator, nkeys, type Authenticator } from '@nats-io/nats-core';
import {
  inboxPrefix,
  permissionsOf,
  shippedCredentials,
  type Credential,
} from './bus.permissions.js';

/** A seed file that cannot be read or holds no user seed: the process cannot join the bus. */
export class NatsCredentialError extends Error {
  override readonly name = 'NatsCredentialError';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A new user seed (`SU…`). */
export function newSeed(): string {
  return decoder.decode(nkeys.createUser().getSeed());
}

/** The public key (`U…`) of a user seed. */
export function publicKeyOf(seed: string): string {
  return nkeys.fromSeed(encoder.encode(seed.trim())).getPublicKey();
}

/** The seed in `path`, checked to be a user seed. */
export function readSeedFile(path: string): string {
  let seed: string;
  try {
    seed = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new NatsCredentialError(`cannot read the NATS seed file ${path}`, { cause: err });
  }
  try {
    if (!seed.startsWith('SU')) throw new Error('not a user seed');
    publicKeyOf(seed);
  } catch {
    throw new NatsCredentialError(`${path} holds no NATS user seed (SU…)`);
  }
  return seed;
}

/** The seed in `path`, written there first (mode 0600) when the file does not exist yet. */
export function ensureSeedFile(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${newSeed()}\n`, { mode: 0o600 });
  }
  // Tighten a file someone copied in with wider rights.
  chmodSync(path, 0o600);
  return readSeedFile(path);
}

/** The directory of NATS seeds under a data directory (`npm start`, `npm run events`). */
export function credentialsDir(dataDir: string): string {
  return join(dataDir, 'credentials');
}

/** Where `credential`'s seed lives in a directory of credentials. */
export function seedPath(dir: string, credential: Credential): string {
  return join(dir, `${credential}.nk`);
}

/** The seed files of every shipped credential in `dir`, made when missing; their public keys. */
export function ensureSeedFiles(dir: string): { credential: Credential; publicKey: string }[] {
  return shippedCredentials.map((credential) => ({
    credential,
    publicKey: publicKeyOf(ensureSeedFile(seedPath(dir, credential))),
  }));
}

/** What `Bus.connect` needs to connect as `credential` with the seed in `seedFile` (if any). */
export function connectAuth(
  credential: Credential,
  seedFile: string | undefined,
): { authenticator?: Authenticator; inboxPrefix: string } {
  if (seedFile === undefined) return { inboxPrefix: inboxPrefix(credential) };
  const seed = encoder.encode(readSeedFile(seedFile));
  return { authenticator: nkeyAuthenticator(seed), inboxPrefix: inboxPrefix(credential) };
}

/** A user of the server config: an nkey (shipped) or a name and password (test-only). */
export type ServerUser =
  | { credential: Credential; publicKey: string }
  | { credential: Credential; user: string; password: string };

/**
 * The `authorization` block of nats-server's config for `users`, each with the
 * permissions of its credential. Without `no_auth_user`, anonymous connections are refused.
 */
export function authorizationConf(users: readonly ServerUser[]): string {
  const entries = users.map((u) => {
    const who = 'publicKey' in u ? { nkey: u.publicKey } : { user: u.user, password: u.password };
    return `    ${JSON.stringify({ ...who, permissions: permissionsOf(u.credential) })}`;
  });
  return [
    '# Written from shared/runtime/bus.permissions.ts: edit that, not this.',
    'authorization {',
    '  users = [',
    entries.join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
