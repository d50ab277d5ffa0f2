/**
 * A real coturn (`turnserver`, Debian package `coturn`) for one test: loopback only,
 * a free listening port, its own relay port range, a fresh `static-auth-secret`
 * (use-auth-secret: the TURN REST credentials of shared/auth/turn.credentials.ts),
 * no TLS, no config file, its pid file and database in a temporary directory. Stopped
 * in teardown and when the test process exits, like startNats.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort } from './net.js';

export const TURNSERVER = '/usr/bin/turnserver';

export interface Coturn {
  /** `turn:127.0.0.1:<port>?transport=udp`, as GATEWAY_ICE_SERVERS takes it. */
  turnUrl: string;
  /** `stun:127.0.0.1:<port>`. */
  stunUrl: string;
  port: number;
  /** The `static-auth-secret` it checks credentials with (TURN_SECRET). */
  secret: string;
  /** What it printed so far (allocations, 401s), for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface CoturnOptions {
  /** `--verbose`: coturn then logs each session and allocation with its username. */
  verbose?: boolean;
}

/** turnserver's arguments for a test: loopback only, `secret`, files in `dir`. */
function testArgs(
  port: number,
  minPort: number,
  secret: string,
  dir: string,
  o: CoturnOptions,
): string[] {
  return [
    '-n', // no config file
    '--listening-ip=127.0.0.1',
    `--listening-port=${port}`,
    '--relay-ip=127.0.0.1',
    `--min-port=${minPort}`,
    `--max-port=${minPort + 199}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    '--realm=roomcast',
    '--no-tls',
    '--no-dtls',
    // Both peers of a test sit on 127.0.0.1: coturn refuses to relay to loopback otherwise.
    '--allow-loopback-peers',
    '--no-cli',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
    '--log-file=stdout',
    ...(o.verbose === true ? ['--verbose'] : []),
  ];
}

/**
 * Runs `command` (turnserver, or a shell that execs it, as compose.yaml does) and
 * resolves once it serves; `log` is what it printed so far.
 */
export function runTurnserver(command: string, args: readonly string[]) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let log = '';
  const keep = (c: Buffer) => (log = (log + c.toString()).slice(-50_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`turnserver did not start:\n${log}`));
    }, 10_000);
    const watch = () => {
      // Printed once the listeners and relay threads are up.
      if (log.includes('Total General servers')) {
        clearTimeout(timer);
        child.stdout.off('data', watch);
        resolve();
      }
    };
    child.stdout.on('data', watch);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`turnserver exited with ${code}:\n${log}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  };
  return { ready, log: () => log, stop };
}

/** Starts coturn for this test and stops it in teardown. */
export async function startCoturn(t: Test, o: CoturnOptions = {}): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-coturn-'));
  const secret = randomBytes(24).toString('base64url');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    // A UDP relay range of its own, most likely apart from another test's coturn.
    const minPort = 20_000 + randomInt(0, 200) * 200;
    const run = runTurnserver(TURNSERVER, testArgs(port, minPort, secret, dir, o));
    try {
      await run.ready;
    } catch (err) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      continue;
    }
    const stop = async () => {
      await run.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    t.teardown(stop);
    return {
      turnUrl: `turn:127.0.0.1:${port}?transport=udp`,
      stunUrl: `stun:127.0.0.1:${port}`,
      port,
      secret,
      log: run.log,
      stop,
    };
  }
}
