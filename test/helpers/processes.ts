/**
 * Real service processes for tests: `node --conditions=roomcast-source --import tsx
 * services/<name>/main.ts`, configured only through the environment (as in
 * production). A service is ready when it logs its "... ready" line; every process
 * is killed in teardown and when the test process exits (an orphan would hold its
 * port and NATS subscriptions into the next run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { credentialEnv } from './nats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export type ServiceName = 'gateway' | 'room' | 'stream' | 'alert' | 'catalog';

/** Where each service's main.ts is, below services/. */
const entry: Record<ServiceName, string> = {
  gateway: 'gateway',
  room: 'room',
  stream: 'stream',
  alert: 'alert',
  catalog: 'catalog',
};

/** The message of each service's ready line. */
const readyMessage: Record<ServiceName, string> = {
  gateway: 'gateway ready',
  room: 'room service ready',
  stream: 'stream service ready',
  alert: 'alert service ready',
  catalog: 'catalogue ready',
};

export interface ServiceProcess {
  name: ServiceName;
  child: ChildProcess;
  /** Every line the service logged so far (JSON records on stderr). */
  lines: string[];
  /** For a gateway: the port it listens on, and its /signaling URL. */
  port: number;
  url: string;
  /** The port of its /metrics (0 with METRICS_ENABLED off, the default here). */
  metricsPort: number;
  /** The fields of its ready line (e.g. the stream service's `hooks` URL). */
  ready: Record<string, unknown>;
  /** Resident memory of the process now, in bytes (Linux /proc). */
  rssBytes(): number;
  /** SIGTERM (the service's own shutdown), SIGKILL if it is not gone within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal; resolves once the process is gone (at once for SIGSTOP / SIGCONT). */
  signal(sig: NodeJS.Signals): Promise<void>;
  /** The first log line, logged so far or later, that matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts `services/<name>/main.ts` with exactly `env` (plus PATH and HOME). */
export function spawnService(name: ServiceName, env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=roomcast-source', '--import', 'tsx', `services/${entry[name]}/main.ts`],
    {
      cwd: root,
      // Not the test's own environment: tap's NODE_OPTIONS and friends stay out.
      // METRICS_ENABLED off unless a test asks: parallel tests would fight over the fixed metrics ports.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        METRICS_ENABLED: 'false',
        // Its own credential on a test server (nats.ts), unless `env` names another.
        ...credentialEnv(env.NATS_URL, name),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Collects a child's stderr into lines and hands each new one to every listener. */
function readLines(child: ChildProcess, lines: string[], onLine: (line: string) => void): void {
  let rest = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      onLine(line);
    }
  });
  child.stdout?.resume();
}

/**
 * Starts a service and resolves once it logged "<service> ready", or the line
 * `readyMsg` names instead (a standby alert service says it stands by). LOG_LEVEL
 * is forced to at least info for that. Stopped in teardown.
 */
export async function startService(
  t: Test,
  name: ServiceName,
  env: Record<string, string>,
  readyTimeoutMs = 30_000,
  readyMsg = readyMessage[name],
): Promise<ServiceProcess> {
  const level = env.LOG_LEVEL === 'debug' ? 'debug' : 'info';
  const child = spawnService(name, { ...env, LOG_LEVEL: level });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const service: ServiceProcess = {
    name,
    child,
    lines,
    port: 0,
    url: '',
    metricsPort: 0,
    ready: {},
    async signal(sig) {
      if (exited(child)) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(sig);
      if (sig !== 'SIGSTOP' && sig !== 'SIGCONT') await gone;
    },
    waitFor(pattern, timeoutMs = 20_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(
            new Error(
              `${name}: no line matching ${pattern} in ${timeoutMs} ms:\n${lines.slice(-10).join('\n')}`,
            ),
          );
        }, timeoutMs);
        const listener = (line: string) => {
          if (!pattern.test(line)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(line);
        };
        listeners.add(listener);
      });
    },
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN) * 1024;
    },
    stop: (graceMs = 5000) => stopChild(child, graceMs),
  };
  t.teardown(() => service.stop());
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} not ready in ${readyTimeoutMs} ms:\n${lines.join('\n')}`));
    }, readyTimeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before ready:\n${lines.join('\n')}`));
    });
    readLines(child, lines, (line) => {
      for (const l of listeners) l(line);
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        return;
      }
      if (record.msg !== readyMsg) return;
      service.ready = record;
      if (typeof record.url === 'string') {
        service.url = record.url;
        service.port = Number(new URL(record.url).port);
      }
      if (typeof record.metrics === 'string' && record.metrics.startsWith(':'))
        service.metricsPort = Number(/^:(\d+)/.exec(record.metrics)?.[1] ?? 0);
      clearTimeout(timer);
      resolve();
    });
  });
  return service;
}

/** Runs a service that is expected to stop on its own; resolves with how it ended. */
export function runServiceToExit(
  name: ServiceName,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: string[] }> {
  const child = spawnService(name, env);
  const lines: string[] = [];
  readLines(child, lines, () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} still running after ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    // 'close', not 'exit': by then stderr has been read to the end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lines });
    });
  });
}
