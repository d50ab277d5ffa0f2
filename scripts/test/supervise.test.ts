/**
 * `npm start`'s supervision with real processes (a tiny node script in place of a
 * service): a crashed process comes back after its backoff while its neighbour keeps
 * running, a SIGKILL is a crash like any other, a crash loop and an essential
 * process's exit stop everything with the reason.
 */
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, type ProcessSpec } from '../start.supervise.js';
import type { ProcessRole } from '../supervisor.js';

/**
 * Crashes (exit 1) on its first CRASHES starts, counted in COUNT_FILE, then serves
 * until killed, saying so.
 */
const SCRIPT = `
const fs = require('node:fs');
const file = process.env.COUNT_FILE;
const n = (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0) + 1;
fs.writeFileSync(file, String(n));
if (n <= Number(process.env.CRASHES)) { console.log('crashing ' + n); process.exit(1); }
console.log('serving ' + n);
setInterval(() => {}, 1000);
`;

const service: ProcessRole = { essential: false, mayFinish: true };

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-supervise-'));
  const script = join(dir, 'svc.cjs');
  writeFileSync(script, SCRIPT);
  const log: string[] = [];
  const output: string[] = [];
  const fatal: string[] = [];
  const sup = new Supervisor({
    policy: { initialDelayMs: 20, maxDelayMs: 80, crashLoopCount: 5, crashLoopWindowMs: 60_000 },
    env: process.env,
    log: (line) => log.push(line),
    output: (name, line) => output.push(`[${name}] ${line}`),
    changed: () => {},
    onFatal: (reason) => fatal.push(reason),
  });
  const spec = (name: string, crashes: number, role = service): ProcessSpec => ({
    name,
    cmd: process.execPath,
    args: [script],
    env: () => ({ COUNT_FILE: join(dir, `${name}.count`), CRASHES: String(crashes) }),
    role,
  });
  t.teardown(() => {
    sup.stopRestarting();
    for (const name of Object.keys(sup.pids())) sup.child(name)?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return { sup, spec, log, output, fatal };
}

async function until(what: string, pred: () => boolean): Promise<void> {
  const end = Date.now() + 20_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const exited = (child: ChildProcess) => new Promise((r) => child.once('exit', r));

t.test(
  'a crashed process is started again with backoff; its neighbour keeps running',
  async (t) => {
    const { sup, spec, log, output, fatal } = setup(t);
    const neighbour = sup.start(spec('alert', 0));
    sup.start(spec('room', 2));
    await until('room serving', () => output.includes('[room] serving 3'));
    t.same(sup.restarts(), { room: 2 }, 'two restarts, counted');
    t.match(log, [
      /^room exited \(code 1\); restart 1 in 20 ms/,
      /^room started again \(pid \d+, restart 1\)/,
      /^room exited \(code 1\); restart 2 in 40 ms/,
      /^room started again \(pid \d+, restart 2\)/,
    ]);
    t.equal(sup.child('alert'), neighbour, 'the neighbour was not touched');
    t.equal(neighbour.exitCode, null, 'and still runs');
    t.same(fatal, []);

    const room = sup.child('room');
    if (room === undefined) throw new Error('room is not running');
    const gone = exited(room);
    room.kill('SIGKILL');
    await gone;
    await until('room back after SIGKILL', () => output.includes('[room] serving 4'));
    t.ok(
      log.some((l) => /^room exited \(signal SIGKILL\); restart 3 in 80 ms/.test(l)),
      'the kill is logged with its signal, and the delay kept doubling (to its maximum)',
    );
    t.same(sup.restarts(), { room: 3 });
  },
);

t.test('a crash loop stops everything, with the reason', async (t) => {
  const { sup, spec, log, fatal } = setup(t);
  sup.start(spec('stream', 1000));
  await until('the crash loop', () => fatal.length > 0);
  t.match(fatal, [/^stream crashed 5 times within 60000 ms \(last: code 1\): a crash loop$/]);
  t.same(sup.restarts(), { stream: 4 }, 'four restarts before the fifth crash');
  t.match(log.at(-1), /crash loop; stopping everything$/);
});

t.test('an essential process (nats-server) exiting stops everything', async (t) => {
  const { sup, spec, fatal } = setup(t);
  const nats = sup.start(spec('nats', 0, { essential: true, mayFinish: false }));
  await until('nats serving', () => sup.child('nats') !== undefined);
  nats.kill('SIGKILL');
  await until('stop', () => fatal.length > 0);
  t.same(fatal, ['nats exited (signal SIGKILL)']);
  t.same(sup.restarts(), {}, 'not restarted');
});

t.test('nothing is restarted once stopping', async (t) => {
  const { sup, spec, log } = setup(t);
  const child = sup.start(spec('room', 0));
  sup.stopRestarting();
  const gone = exited(child);
  child.kill('SIGTERM');
  await gone;
  t.same(sup.restarts(), {});
  t.same(log, []);
});
