#!/usr/bin/env node
// Makes a fresh Debian machine ready for `npm start` / `npm test`: Node 20, npm
// dependencies, nats-server (and Chromium and coturn with --browser). Plain JavaScript with
// no dependencies, because it runs before they are installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wantBrowser = process.argv.includes('--browser');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const say = (msg) => process.stderr.write(`[bootstrap] ${msg}\n`);

function fail(msg) {
  say(msg);
  process.exit(1);
}

const major = Number(process.versions.node.split('.')[0]);
if (major !== 20)
  fail(
    `Node 20 is required (uWebSockets.js's native binary is built for it); this is ${process.version}.`,
  );

// npm dependencies: installed when missing or when package-lock.json changed since.
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.roomcast-lock-sha256');
const lockHash = createHash('sha256').update(readFileSync(lock)).digest('hex');
// A node_modules that is a link (a git worktree sharing another checkout's) is
// never reinstalled from here: `npm ci` empties the directory it points to, under
// every other checkout that uses it.
const linked = (() => {
  try {
    return lstatSync(join(root, 'node_modules')).isSymbolicLink();
  } catch {
    return false;
  }
})();
if (linked) {
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash)
    say(
      'node_modules is a link to a shared install: not reinstalling it (run npm ci where it points)',
    );
} else if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  say('installing npm dependencies (npm ci)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail('npm ci failed');
  writeFileSync(stamp, lockHash);
}

/** The first of `names` found on PATH or in the usual Debian places. */
function which(names) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const name of names)
    for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return undefined;
}

function aptInstall(pkgs) {
  if (!isRoot)
    fail(
      `missing ${pkgs.join(', ')}. Run: sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`,
    );
  say(`installing ${pkgs.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', ...pkgs], { stdio: 'inherit', env });
}

const missing = [];
if (which(['nats-server']) === undefined) missing.push('nats-server');
if (wantBrowser && which(['chromium']) === undefined) missing.push('chromium');
// The TURN tests (test/turn/) start a real coturn.
if (wantBrowser && which(['turnserver']) === undefined) missing.push('coturn');
if (missing.length > 0) aptInstall(missing);
if (which(['nats-server']) === undefined)
  fail('nats-server is still missing after apt-get install');
