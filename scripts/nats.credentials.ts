/**
 * `npm run nats:credentials [dir]`: the NATS credentials compose.yaml reads as
 * secrets, in `dir` (default `.secrets/nats`, git-ignored): one nkey seed per
 * shipped credential (`<credential>.nk`, mode 0600; kept when it exists, so running
 * this again changes nothing but the permissions) and `auth.conf`, the users block
 * nats-server.conf includes (public keys and permissions only).
 *
 * To replace a credential (a leaked seed), delete its `.nk` file, run this again and
 * restart nats and that service. Seeds are never printed.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { authorizationConf, ensureSeedFiles } from '#shared/runtime/bus.credentials.js';

const dir = resolve(process.argv[2] ?? join('.secrets', 'nats'));
const users = ensureSeedFiles(dir);
writeFileSync(join(dir, 'auth.conf'), authorizationConf(users), { mode: 0o644 });
process.stdout.write(
  [
    `NATS credentials in ${dir}:`,
    ...users.map((u) => `  ${u.credential}.nk  (user ${u.publicKey})`),
    '  auth.conf  (the users and permissions nats-server.conf includes)',
    "The .nk files are private keys: keep them out of images and backups you share. The containers run as uid 1000 (the image's `node` user): the files must be readable by it.",
    '',
  ].join('\n'),
);
