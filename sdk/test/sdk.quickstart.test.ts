/**
 * The README's quick start (sdk/examples/quickstart.mjs, the same code) runs as
 * written in Node against a running system, and the SDK a demo gateway serves at
 * /sdk/ is a module graph a browser can load as it is: relative `.js` imports only,
 * each served, and together a working client.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import WebSocket from 'ws';
import type * as Sdk from '../roomcast.js';
import { startSystem } from '../../test/helpers/system.js';
import { sdkClient } from './sdk.harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const QUICKSTART = 'sdk/examples/quickstart.mjs';

/**
 * Runs the quick start; resolves with its exit code and output. From the sources,
 * the `roomcast-source` condition resolves `roomcast/sdk` to sdk/roomcast.ts; as
 * written (`fromDist`), plain `node` resolves it to dist/sdk/roomcast.js.
 */
function runQuickstart(
  gateway: string,
  fromDist = false,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    fromDist ? [QUICKSTART] : ['--conditions=roomcast-source', '--import', 'tsx', QUICKSTART],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ROOMCAST_URL: gateway },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  );
}

t.test('the quick start runs as written', async (t) => {
  const sys = await startSystem(t, { GATEWAY_DEMO: 'true', GATEWAY_DEV_TOKENS: 'true' });
  await sys.createRoom('demo', 'demo');
  const publisher = sdkClient(t, sys.url, () => sys.token('bob', { publish: ['demo'] }));
  await publisher.connect();
  await publisher.join('demo', 'publisher');

  // After `npm run build` also exactly as the README says: `node sdk/examples/quickstart.mjs`.
  const built = existsSync(join(root, 'dist/sdk/roomcast.js'));
  if (!built) t.comment('no dist/sdk: the quick start runs from the sources only');
  for (const fromDist of built ? [false, true] : [false]) {
    const { code, out } = await runQuickstart(`http://127.0.0.1:${sys.port}`, fromDist);
    const how = fromDist ? 'built' : 'from source';
    t.equal(code, 0, `${how}: exits 0`, { out });
    t.match(out, /joined demo as [\w-]+, status preparing/, `${how}: joined`);
    t.match(out, /on stage: \[ 'bob \(publisher\)' \]/, `${how}: sees the stage`);
  }

  // The README carries the same code: the quick start a reader copies is the one that ran.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  // The code has backticks of its own: a block runs from a ```js line to the next ``` line.
  const block = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)]
    .map((m) => m[1])
    .find((code) => code?.includes("from 'roomcast/sdk'"));
  t.equal(block, readFileSync(join(root, QUICKSTART), 'utf8'), 'README = quickstart.mjs');
});

t.test('/sdk/ serves a module graph a browser loads as it is', async (t) => {
  const sys = await startSystem(t, { GATEWAY_DEMO: 'true' });
  await sys.createRoom('r4', 'owner');
  const base = `http://127.0.0.1:${sys.port}/sdk/`;
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seen = new Set<string>();
  const fetchGraph = async (name: string): Promise<void> => {
    if (seen.has(name)) return;
    seen.add(name);
    const res = await fetch(`${base}${name}`);
    t.equal(res.status, 200, `${name} served`);
    t.match(res.headers.get('content-type'), /^text\/javascript/);
    const js = await res.text();
    writeFileSync(join(dir, name), js);
    const specifiers = [
      // Statements only (a doc comment may show an import): `import|export ... from '...'`.
      ...js.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm),
    ].map((m) => m[1]);
    for (const s of specifiers) {
      t.match(s, /^\.\/[a-z.]+\.js$/, `${name} imports ${s}: relative, .js`);
      await fetchGraph(s?.slice(2) ?? '');
    }
  };
  await fetchGraph('roomcast.js');
  t.ok(seen.has('sdk.client.js') && seen.has('sdk.rtc.js'), 'the whole SDK reached');
  for (const bad of ['nope.js', 'sdk.client.ts', '..%2Fpackage.json', 'sdk.client.test.js'])
    t.equal((await fetch(`${base}${bad}`)).status, 404, `${bad}: 404`);

  // What was served, loaded as files: a working client.
  const sdk = (await import(pathToFileURL(join(dir, 'roomcast.js')).href)) as typeof Sdk;
  const client = new sdk.RoomcastClient({
    url: sys.url,
    token: await sys.token('carol'),
    WebSocket,
  });
  t.teardown(() => client.close());
  await client.connect();
  const room = await client.join('r4', 'viewer');
  t.equal(room.status, 'preparing', 'the served SDK joins');
});
