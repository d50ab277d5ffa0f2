/**
 * A real nats-server for one test: free port, its own JetStream store, stopped in
 * teardown and when the test process exits (an orphan would break the next run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  /** Stops the server (SIGKILL when `hard`), keeping the store for a restart. */
  kill(hard?: boolean): Promise<void>;
  /** Starts the server again on the same port and store. */
  restart(): Promise<void>;
  /** Stops the server and removes its store. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function launch(
  port: number,
  storeDir: string,
  configFile: string | undefined,
): Promise<ChildProcess> {
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir];
  if (configFile !== undefined) args.push('-c', configFile);
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server did not start on ${port}:\n${log}`));
    }, 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        child.stderr.removeAllListeners('data');
        child.stderr.resume();
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
}

/** Starts nats-server with JetStream; `config` is extra server config text (e.g. mappings). */
export async function startNats(options: { config?: string } = {}): Promise<NatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), 'roomcast-nats-'));
  let configFile: string | undefined;
  if (options.config !== undefined) {
    configFile = join(storeDir, 'nats.conf');
    writeFileSync(configFile, options.config);
  }
  let port = await freePort();
  let child: ChildProcess;
  for (let attempt = 0; ; attempt++) {
    try {
      child = await launch(port, storeDir, configFile);
      break;
    } catch (err) {
      // The port may have been taken between probing and binding: try another.
      if (attempt >= 3) throw err;
      port = await freePort();
    }
  }
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    async kill(hard = false) {
      const p = server.process;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
    async restart() {
      server.process = await launch(port, storeDir, configFile);
    },
    async stop() {
      await server.kill(true);
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return server;
}
