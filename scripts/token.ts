/**
 * Prints a development token: `npm run token -- <sub> [--create] [--publish r1,r2]
 * [--view '*'] [--admin r1] [--ttl 3600]`. Uses AUTH_JWT_SECRET (or the secret
 * `npm start` keeps in .data/dev-secret).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '#config/config.js';
import { mintToken } from '#shared/auth/tokens.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    create: { type: 'boolean', default: false },
    publish: { type: 'string' },
    view: { type: 'string' },
    admin: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
  },
});
const sub = positionals[0];
if (sub === undefined) {
  process.stderr.write(
    'usage: npm run token -- <sub> [--create] [--publish ids] [--view ids] [--admin ids] [--ttl s]\n',
  );
  process.exit(2);
}
const devSecret = '.data/dev-secret';
const env = { ...process.env };
if (env.AUTH_JWT_SECRET === undefined && existsSync(devSecret))
  env.AUTH_JWT_SECRET = readFileSync(devSecret, 'utf8').trim();
const config = loadConfig(env);
if (config.auth.jwtSecret === undefined) {
  process.stderr.write(
    'set AUTH_JWT_SECRET (or run `npm start` once to create .data/dev-secret)\n',
  );
  process.exit(2);
}
if (!(Number(values.ttl) <= config.auth.maxTokenTtlS)) {
  process.stderr.write(`--ttl: at most ${config.auth.maxTokenTtlS} s (AUTH_MAX_TOKEN_TTL_S)\n`);
  process.exit(2);
}
const list = (v: string | undefined) =>
  v === undefined ? undefined : v.split(',').filter(Boolean);
const token = await mintToken({
  secret: config.auth.jwtSecret,
  issuer: config.auth.issuer,
  audience: config.auth.audience,
  sub,
  ttlS: Number(values.ttl),
  grants: {
    create: values.create,
    publish: list(values.publish),
    view: list(values.view),
    admin: list(values.admin),
  },
});
process.stdout.write(token + '\n');
