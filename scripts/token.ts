/**
 * Prints a development token: `npm run token -- <sub> [--create] [--publish r1,r2]
 * [--view '*'] [--admin r1] [--ttl 3600]`. Uses AUTH_JWT_SECRET, else the secret
 * `npm start` keeps in its data directory (`$ROOMCAST_DATA_DIR/dev-secret`, `.data`
 * under the repository root by default). Without either it fails (exit 1, the reason
 * on stderr) and prints nothing: `TOKEN=$(npm run -s token -- alice)` is never a
 * silently empty token.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '#config/config.js';
import { mintToken } from '#shared/auth/tokens.js';
import { parseCli, usageError } from './cli.args.js';
import { dataDir } from './data.dir.js';

const usage = `usage: npm run token -- <sub> [options]

Prints a login token for user <sub>, signed with AUTH_JWT_SECRET or, when it is not
set, the secret npm start keeps in $ROOMCAST_DATA_DIR/dev-secret (default: .data under
the repository root).

options:
  --create          may create rooms
  --publish ids     may publish in these rooms (comma-separated, * for all)
  --view ids        may view these private rooms (comma-separated, * for all)
  --admin ids       may administer these rooms (comma-separated, * for all)
  --ttl s           lifetime in seconds (default 3600, at most AUTH_MAX_TOKEN_TTL_S)
  -h, --help        this text

example: TOKEN=$(npm run -s token -- alice --create)`;

const { values, positionals } = parseCli(usage, (args) =>
  parseArgs({
    args,
    allowPositionals: true,
    options: {
      create: { type: 'boolean', default: false },
      publish: { type: 'string' },
      view: { type: 'string' },
      admin: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
    },
  }),
);
const [sub, ...extra] = positionals;
if (sub === undefined || sub === '') usageError(usage, 'token: which user? <sub> is missing');
if (extra.length > 0) usageError(usage, `token: unexpected argument ${extra[0]}`);

const env = { ...process.env };
if (env.AUTH_JWT_SECRET === undefined) {
  const file = join(dataDir(env), 'dev-secret');
  if (!existsSync(file)) {
    process.stderr.write(
      `token: no secret: AUTH_JWT_SECRET is not set and ${file} does not exist (run \`npm start\` once, with the same ROOMCAST_DATA_DIR, to create it)\n`,
    );
    process.exit(1);
  }
  env.AUTH_JWT_SECRET = readFileSync(file, 'utf8').trim();
}
const config = loadConfig(env);
if (config.auth.jwtSecret === undefined || config.auth.jwtSecret === '') {
  process.stderr.write('token: the secret is empty\n');
  process.exit(1);
}
const ttlS = Number(values.ttl);
if (!Number.isInteger(ttlS) || ttlS <= 0 || ttlS > config.auth.maxTokenTtlS) {
  usageError(
    usage,
    `token: --ttl must be whole seconds from 1 to ${config.auth.maxTokenTtlS} (AUTH_MAX_TOKEN_TTL_S)`,
  );
}
const list = (v: string | undefined) =>
  v === undefined ? undefined : v.split(',').filter(Boolean);
const token = await mintToken({
  secret: config.auth.jwtSecret,
  issuer: config.auth.issuer,
  audience: config.auth.audience,
  sub,
  ttlS,
  grants: {
    create: values.create,
    publish: list(values.publish),
    view: list(values.view),
    admin: list(values.admin),
  },
});
process.stdout.write(token + '\n');
