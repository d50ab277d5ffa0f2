/**
 * What the browser tests of the demo page share: the system started as `npm start`
 * starts it (`dist/scripts/start.js` as a child process: its own nats-server, the
 * services from dist/, demo page, SDK and development tokens on), on free ports with
 * a temporary data directory, built first whenever a source is newer than its
 * output; Debian's Chromium driven by playwright-core with fake media; and the
 * page's state as `window.demo` exposes it (services/gateway/demo/demo.js).
 */
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../helpers/net.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(root, 'test-artifacts');
/** Per-step bound on waiting in the browser, in ms (failures, not timings). */
const STEP_MS = 30_000;

export interface PeerStats {
  peerId: string;
  connectionState: string;
  framesDecoded: number;
  framesSent: number;
}

/** `window.demo.snapshot()`. */
export interface Snapshot {
  conn: string;
  history: string[];
  peerId?: string;
  role?: string;
  status?: string;
  viewers?: number;
  audience: string[];
  srs?: string;
  srsOk?: boolean;
}

interface DemoWindow {
  demo: { snapshot(): Snapshot; stats(): Promise<PeerStats[]>; dropSocket(): boolean };
}

export const snapshot = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as DemoWindow).demo.snapshot());
export const stats = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as DemoWindow).demo.stats());
export const dropSocket = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as DemoWindow).demo.dropSocket());

/** Resolves with the first value `probe` gives that is not undefined; fails after STEP_MS. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + STEP_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${what}: not within ${STEP_MS} ms${last instanceof Error ? ` (${last.message})` : ''}`,
  );
}

/** Waits until the page's snapshot satisfies `check`; resolves with it. */
export const untilState = (page: Page, what: string, check: (s: Snapshot) => boolean) =>
  until(what, async () => {
    const s = await snapshot(page);
    return check(s) ? s : undefined;
  });

/** A connected peer connection of `page` that decoded more than `after` video frames. */
export const decoding = (page: Page, after = 0) =>
  until(`video decoding past ${after} frames`, async () =>
    (await stats(page)).find((s) => s.connectionState === 'connected' && s.framesDecoded > after),
  );

export interface NpmStart {
  child: ChildProcess;
  /** What it printed up to "Ctrl-C stops everything." */
  out: string;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  gatewayPort: number;
  http: string;
}

/** Starts `npm start`'s script on free ports (`extra` settings win); stopped in teardown. */
export async function startNpmStart(
  t: Test,
  extra: Record<string, string> = {},
): Promise<NpmStart> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(t, extra);
    } catch (err) {
      // A port found free here can be taken before npm start binds it (by another test's
      // connection, say): new ports, unless the test chose the port itself.
      const portTaken = /cannot listen on|EADDRINUSE|address already in use/.test(String(err));
      if (!portTaken || extra.GATEWAY_PORT !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(t: Test, extra: Record<string, string>): Promise<NpmStart> {
  const dataDir = mkdtempSync(join(tmpdir(), 'roomcast-demo-'));
  const natsPort = await freePort();
  const streamPort = await freePort();
  // A test may choose the gateway's port (to name it in other settings).
  const gatewayPort = Number(extra.GATEWAY_PORT ?? (await freePort()));
  // Every port npm start would take by default is a free one here: a developer's own
  // npm start (or another test) may hold the defaults.
  // The gateway's workers take the port and the ones 100 apart (start.workers.ts), which no
  // free port found here reserves: 0 lets each take any free port.
  const metricsPorts: Record<string, string> = { GATEWAY_METRICS_PORT: '0' };
  for (const name of ['ROOM', 'STREAM', 'ALERT', 'CATALOG'])
    metricsPorts[`${name}_METRICS_PORT`] = String(await freePort());
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) =>
          !/^(NATS_|GATEWAY_|AUTH_|ROOM_|ROOMCAST_|STREAM_|ALERT_|CATALOG_|METRICS_)/.test(key),
      ),
    ),
    ROOMCAST_DATA_DIR: dataDir,
    NATS_PORT: String(natsPort),
    GATEWAY_PORT: String(gatewayPort),
    STREAM_PORT: String(streamPort),
    ...metricsPorts,
    LOG_LEVEL: 'warn',
    ...extra,
  };
  t.teardown(() => {
    // Whatever a failed stop left behind: start.js lists its children's process groups.
    const runFile = join(dataDir, 'run.json');
    if (existsSync(runFile)) {
      const run = JSON.parse(readFileSync(runFile, 'utf8')) as { children: Record<string, number> };
      for (const pid of Object.values(run.children)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const child = spawn(process.execPath, [join(root, 'dist/scripts/start.js')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-20_000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${err}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ctrl-C stops everything.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${err}`));
    });
  });
  return { child, out, env, dataDir, gatewayPort, http: `http://127.0.0.1:${gatewayPort}` };
}

/** A page of its own context (its own sessionStorage); errors it reports go to `pageLog`. */
export async function openPage(browser: Browser, name: string, pageLog: string[]): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (err) => pageLog.push(`${name} pageerror: ${err.message}`));
  page.on('console', (m) => {
    // A failed fetch (an SRS that is not there) is shown on the page; the console line is expected.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      pageLog.push(`${name} console: ${m.text()}`);
  });
  return page;
}

/** Full-page screenshots into test-artifacts/, `demo-<name><suffix>.png`. */
export async function shoot(pages: Record<string, Page>, suffix = ''): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  for (const [name, page] of Object.entries(pages))
    if (!page.isClosed())
      await page.screenshot({ path: join(artifacts, `demo-${name}${suffix}.png`), fullPage: true });
}
