/**
 * The command-line scripts as a user runs them: `--help` prints the usage and exits
 * 0, an option they do not take prints what was wrong and the usage and exits 2, and
 * `npm run token` signs with the secret `npm start` keeps in its data directory
 * (ROOMCAST_DATA_DIR, else `.data` under the repository root, never the current
 * directory) or fails with a message and no output.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '#config/config.js';
import { createVerifier } from '#shared/auth/auth.js';
import { dataDir, repoRoot } from '../data.dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** tsx by its location: a script run from another directory still loads it. */
const tsx = import.meta.resolve('tsx');
const SECRET = 'a-development-secret-of-at-least-32-characters';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a script as `npm run <name>` does, from `cwd`, with `env` over a clean environment. */
function run(script: string, args: string[], env: Record<string, string> = {}, cwd = root) {
  return new Promise<Run>((resolve) => {
    const { AUTH_JWT_SECRET: _s, ROOMCAST_DATA_DIR: _d, ...base } = process.env;
    execFile(
      process.execPath,
      ['--conditions=roomcast-source', '--import', tsx, join(root, 'scripts', script), ...args],
      { cwd, env: { ...base, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A fresh directory, removed when the test ends. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

for (const script of ['token.ts', 'events.ts']) {
  t.test(`${script}: --help prints the usage and exits 0`, async (t) => {
    for (const flag of ['--help', '-h']) {
      const r = await run(script, [flag]);
      t.equal(r.code, 0, flag);
      t.match(r.stdout, /^usage:/, 'the usage on stdout');
      t.equal(r.stderr, '', 'nothing on stderr');
    }
  });

  t.test(`${script}: an unknown option prints the usage and exits 2`, async (t) => {
    const r = await run(script, ['--frobnicate']);
    t.equal(r.code, 2);
    t.match(r.stderr, /Unknown option '--frobnicate'/, 'says which option');
    t.match(r.stderr, /usage:/, 'and the usage');
    t.notMatch(r.stderr, /ERR_PARSE_ARGS|at .*\(/, 'no stack trace');
    t.equal(r.stdout, '');
  });
}

t.test('events.ts: a missing or unknown command, or a bad --since, exits 2', async (t) => {
  for (const args of [[], ['frob'], ['show'], ['show', 'r1', '--since', 'yesterday']]) {
    const r = await run('events.ts', args);
    t.equal(r.code, 2, args.join(' ') || '(nothing)');
    t.match(r.stderr, /usage:/);
  }
});

t.test(
  'token.ts: signs with the dev secret in ROOMCAST_DATA_DIR, from any directory',
  async (t) => {
    const data = tempDir(t);
    writeFileSync(join(data, 'dev-secret'), `${SECRET}\n`);
    const elsewhere = tempDir(t);
    const r = await run('token.ts', ['alice', '--create'], { ROOMCAST_DATA_DIR: data }, elsewhere);
    t.equal(r.code, 0, r.stderr);
    const config = loadConfig({ AUTH_JWT_SECRET: SECRET });
    const identity = await createVerifier(config.auth)(r.stdout.trim());
    t.match(
      identity,
      { userId: 'alice', grants: { create: true } },
      'a token signed with that secret',
    );
  },
);

t.test('token.ts: no secret anywhere fails loudly, with nothing on stdout', async (t) => {
  const empty = tempDir(t);
  const r = await run('token.ts', ['alice', '--create'], { ROOMCAST_DATA_DIR: empty }, empty);
  t.equal(r.code, 1);
  t.equal(r.stdout, '', 'no token: TOKEN=$(...) is empty only with a failed exit');
  t.match(r.stderr, join(empty, 'dev-secret'), 'names the file it looked for');
});

t.test('token.ts: a missing user or a bad --ttl is a usage error', async (t) => {
  const env = { AUTH_JWT_SECRET: SECRET };
  for (const args of [[], ['alice', '--ttl', 'soon'], ['alice', 'bob']]) {
    const r = await run('token.ts', args, env);
    t.equal(r.code, 2, args.join(' ') || '(nothing)');
    t.match(r.stderr, /usage:/);
    t.equal(r.stdout, '');
  }
});

t.test('the data directory: ROOMCAST_DATA_DIR, else .data under the repository root', async (t) => {
  t.equal(repoRoot(), root.replace(/\/$/, ''));
  t.equal(dataDir({}), join(root, '.data'));
  t.equal(dataDir({ ROOMCAST_DATA_DIR: '' }), join(root, '.data'), 'empty is unset');
  t.equal(dataDir({ ROOMCAST_DATA_DIR: '/srv/rc' }), '/srv/rc');
});

t.test('through npm, as the README says: npm run -s token -- --help', async (t) => {
  const r = await new Promise<Run>((resolve) => {
    execFile(
      'npm',
      ['run', '-s', 'token', '--', '--help'],
      { cwd: root },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
      },
    );
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^usage: npm run token/);
});
