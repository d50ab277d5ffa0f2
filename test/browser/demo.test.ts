/**
 * The demo page in a real browser, against the system started as `npm start`
 * starts it: `dist/scripts/start.js` as a child process (its own nats-server,
 * the services from dist/, demo page and development tokens on), on free ports
 * with a temporary data directory.
 *
 * It runs what `npm start` runs, compiled output and paths from dist/ included
 * (the demo files are found from dist/ only in that case), so it builds first
 * (`tsc -p tsconfig.build.json`) whenever a source is newer than its output: always
 * on a fresh clone, rarely on a developer's machine.
 *
 * Debian's Chromium, driven by playwright-core, opens a publisher (canvas test
 * pattern) and a viewer; the viewer offers (the publisher is not told of viewers
 * and only answers). The viewer goes through a TCP proxy of the test's own, so
 * that its connection can be cut without a close frame, as a network failure would.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { freePort } from '../helpers/net.js';
import { startProxy } from '../helpers/proxy.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const artifacts = join(root, 'test-artifacts');
/** Per-step bound on waiting in the browser, in ms (failures, not timings). */
const STEP_MS = 20_000;

interface PeerStats {
  peerId: string;
  connectionState: string;
  framesDecoded: number;
  framesSent: number;
}

/** What the page exposes as `window.demo` (services/gateway/demo/demo.js). */
interface DemoWindow {
  demo: {
    state: { conn: string; history: string[]; peerId?: string; peers: Map<string, unknown> };
    stats(): Promise<PeerStats[]>;
    dropSocket(): boolean;
  };
}

const connState = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as DemoWindow).demo.state.conn);
const stats = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as DemoWindow).demo.stats());

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
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

/** The viewer's connection to the publisher once it is connected and decoding past `after` frames. */
const decoding = (page: Page, after = 0) =>
  until(`video decoding past ${after} frames`, async () =>
    (await stats(page)).find((s) => s.connectionState === 'connected' && s.framesDecoded > after),
  );

/** Sources that `npm run build` compiles whose dist/ output is missing or older. */
function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'test' && entry.name !== 'demo') walk(path);
      } else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) {
        const out = join(root, 'dist', path.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(root, path)).mtimeMs)
          stale.push(path);
      }
    }
  };
  for (const dir of ['config', 'shared', 'services', 'scripts'])
    if (existsSync(join(root, dir))) walk(dir);
  return stale;
}

/** Starts `npm start`'s script; resolves with what it printed once it is up. */
function startSystem(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(process.execPath, [join(root, 'dist/scripts/start.js')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`npm start did not come up:\n${err}`));
    }, 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ctrl-C stops everything.')) {
        clearTimeout(timer);
        resolve({ child, out });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${err}`));
    });
  });
}

t.test('demo page: publisher and viewer connect peer-to-peer and resume', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(
      `Chromium is missing: apt-get update && apt-get install -y chromium (npm test's pretest installs it)`,
    );
    return;
  }
  // Where the time goes, for whoever reads the log (not asserted: the machine is shared).
  const began = Date.now();
  const phase = (what: string) => t.comment(`${what} after ${Date.now() - began} ms`);
  const stale = staleOutputs();
  if (stale.length > 0) {
    const build = spawnSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: root, encoding: 'utf8' },
    );
    t.equal(build.status, 0, `build (${stale[0]} was stale): ${build.stdout}${build.stderr}`);
    if (build.status !== 0) return;
  }
  phase(stale.length > 0 ? 'built' : 'dist/ up to date');

  const dataDir = mkdtempSync(join(tmpdir(), 'roomcast-demo-'));
  const [natsPort, gatewayPort, streamPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // Every port npm start would take by default is a free one here: a developer's own
  // npm start (or another test) may hold the defaults.
  const metricsPorts: Record<string, string> = {};
  for (const name of ['GATEWAY', 'ROOM', 'STREAM', 'ALERT', 'CATALOG']) {
    metricsPorts[`${name}_METRICS_PORT`] = String(await freePort());
  }
  // Only what npm start sets itself, plus the free ports and the data directory.
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

  const started = await startSystem(env);
  phase('npm start is up');
  const system = started.child;
  t.teardown(async () => {
    if (system.exitCode !== null || system.signalCode !== null) return;
    const exited = new Promise((r) => system.once('exit', r));
    system.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
  });
  const http = `http://127.0.0.1:${gatewayPort}`;
  t.match(started.out, `demo page:             ${http}/demo/`, 'npm start prints the demo page');
  t.match(started.out, /development JWT secret \(HS256\): \S{32,}/, 'and the dev secret');
  t.match(started.out, `REST API:              ${http}/api/rooms`, 'and the REST API');
  t.match(started.out, /SRS hooks \(srs\.conf\): +\S/, 'and where SRS hooks go');
  t.match(started.out, /\n {4}eyJ[\w-]+\.[\w-]+\.[\w-]+\n/, 'and a ready-made token');

  // A second npm start on the same data directory would share its JetStream store.
  const second = spawnSync(process.execPath, [join(root, 'dist/scripts/start.js')], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(second.status, 1, 'a second npm start on the same data directory is refused');
  t.match(second.stderr, /already running on .* \(pid \d+\); stop it first/);

  const proxy = await startProxy(gatewayPort);
  t.teardown(() => proxy.close());

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // Two pages share one browser: neither may be throttled as a background tab.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
  // Teardowns run in reverse: the browser closes before the system stops.
  t.teardown(() => browser.close());
  phase('browser launched');
  const publisher = await (await browser.newContext()).newPage();
  const viewer = await (await browser.newContext()).newPage();
  const pageLog: string[] = [];
  for (const [name, page] of [
    ['publisher', publisher],
    ['viewer', viewer],
  ] as const) {
    page.on('pageerror', (err) => pageLog.push(`${name} pageerror: ${err.message}`));
    page.on('console', (m) => {
      // A 404 from /api/rooms/:id/urls (no stream service yet) is expected and shown as a note.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        pageLog.push(`${name} console: ${m.text()}`);
    });
  }
  const shoot = async (suffix = '') => {
    mkdirSync(artifacts, { recursive: true });
    await publisher.screenshot({
      path: join(artifacts, `demo-publisher${suffix}.png`),
      fullPage: true,
    });
    await viewer.screenshot({ path: join(artifacts, `demo-viewer${suffix}.png`), fullPage: true });
  };

  try {
    await publisher.goto(
      `${http}/demo/?user=alice&room=demo&role=publisher&source=pattern&autojoin=1`,
    );
    await until('publisher joined', async () =>
      (await connState(publisher)) === 'joined' ? true : undefined,
    );
    // The viewer reaches the gateway through the proxy, page and socket alike.
    await viewer.goto(
      `http://127.0.0.1:${proxy.port}/demo/?user=bob&room=demo&role=viewer&autojoin=1`,
    );
    await until('viewer joined', async () =>
      (await connState(viewer)) === 'joined' ? true : undefined,
    );

    const first = await decoding(viewer);
    phase('video decoding');
    t.equal(first.connectionState, 'connected', 'the viewer is connected to the publisher');
    t.ok(first.framesDecoded > 0, `the viewer decodes video (${first.framesDecoded} frames)`);
    const sent = await stats(publisher);
    t.equal(sent.length, 1, 'the publisher has one connection, to the viewer');
    t.equal(sent[0]?.peerId, await viewer.textContent('#peer-id'), 'addressed to the viewer');
    t.equal(
      await viewer.textContent('#room-status'),
      'preparing',
      'the page shows the room status',
    );
    t.match(await viewer.textContent('#members'), /alice \(publisher\)/, 'and the members');
    t.match(
      await viewer.textContent('#viewers'),
      /^(–|\d+ \(peak \d+\))$/,
      'and the audience count (from room_stats, once the room sends one)',
    );
    t.match(
      await viewer.textContent('#log'),
      /offer sent to the publisher \S+ \(joined\)/,
      'the viewer offered to the publisher',
    );
    t.notMatch(await publisher.textContent('#log'), /offer sent/, 'the publisher only answers');
    t.match(
      await viewer.textContent('#urls'),
      /Not available|:\/\//,
      'and the SRS play URLs (or a note)',
    );
    await shoot();

    // The network goes away under the viewer: no close frame reaches either side.
    const peerId = await viewer.textContent('#peer-id');
    t.ok(proxy.drop() >= 1, 'the viewer socket was cut');
    await until('viewer resumed', async () =>
      (await connState(viewer)) === 'resumed' ? true : undefined,
    );
    const history = await viewer.evaluate(
      () => (globalThis as unknown as DemoWindow).demo.state.history,
    );
    t.same(history.slice(-3), ['joined', 'reconnecting', 'resumed'], 'reconnecting, then resumed');
    t.equal(await viewer.textContent('#conn'), 'resumed', 'shown on the page');
    t.equal(await viewer.textContent('#peer-id'), peerId, 'with the same peer id');
    t.ok(proxy.accepted >= 2, 'over a new connection');
    const again = await decoding(viewer, first.framesDecoded);
    phase('resumed, video flowing');
    t.ok(again.framesDecoded > first.framesDecoded, 'video flows after the resume');
    t.equal(again.peerId, first.peerId, 'from the same publisher');

    // A viewer whose peer connection broke while it was away negotiates anew.
    await viewer.evaluate(() => {
      const d = (globalThis as unknown as DemoWindow).demo;
      for (const pc of (d.state as unknown as { pcs: Map<string, { close(): void }> }).pcs.values())
        pc.close();
    });
    proxy.drop();
    await until('viewer resumed again', async () => {
      const h = await viewer.evaluate(
        () => (globalThis as unknown as DemoWindow).demo.state.history,
      );
      return h.filter((s) => s === 'resumed').length >= 2 ? true : undefined;
    });
    const renegotiated = await decoding(viewer);
    phase('re-negotiated');
    t.equal(
      renegotiated.connectionState,
      'connected',
      'a new peer connection after re-negotiation',
    );
    t.equal(await viewer.textContent('#peer-id'), peerId, 'still the same peer id');

    // A reload keeps the session too: the page resumes with the token it saved.
    await viewer.reload();
    await until('viewer resumed after a reload', async () =>
      (await connState(viewer)) === 'resumed' ? true : undefined,
    );
    t.equal(await viewer.textContent('#peer-id'), peerId, 'a reload keeps the peer id');
    const reloaded = await decoding(viewer);
    t.equal(reloaded.connectionState, 'connected', 'and gets the video again');
    phase('resumed after a reload');
    await shoot('-resumed');
  } catch (err) {
    await shoot('-failed').catch(() => undefined);
    throw err;
  } finally {
    t.same(pageLog, [], 'no errors in the pages');
  }

  // Ctrl-C: everything stops, and the ports are free again.
  phase('checked');
  const exited = new Promise<number | null>((r) => system.once('exit', r));
  system.kill('SIGINT');
  const code = await Promise.race([
    exited,
    new Promise((r) => setTimeout(() => r('hung'), 20_000).unref()),
  ]);
  t.equal(code, 0, 'npm start stops cleanly on SIGINT');
  await t.rejects(fetch(`${http}/healthz`), 'the gateway is gone');
  t.notOk(existsSync(join(dataDir, 'run.json')), 'and so are its children');
});
