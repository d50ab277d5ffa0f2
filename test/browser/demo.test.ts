/**
 * The demo page (on the client SDK) in a real browser, against the system started
 * as `npm start` starts it (demo.harness.ts): a publisher (canvas test pattern) and
 * a viewer peer-to-peer. The viewer goes through a TCP proxy of the test's own, so
 * that its connection can be cut without a close frame, as a network failure would.
 *
 * The resume grace period is set far beyond any step's bound here: whatever frees a
 * place within a step was a `leave`, never the grace running out.
 */
import t from 'tap';
import { buildIfStale } from '../helpers/build.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startProxy } from '../helpers/proxy.js';
import {
  decoding,
  openPage,
  root,
  shoot,
  snapshot,
  startNpmStart,
  stats,
  until,
  untilState,
} from './demo.harness.js';
import { launchBrowser } from '../helpers/browser.js';

const ROOM = 'p2p-room';

/** The frames a page sent on its WebSockets (all of them, across reconnects). */
function framesSent(page: Page): { type: string }[] {
  const sent: { type: string }[] = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string') sent.push(JSON.parse(f.payload) as { type: string });
    }),
  );
  return sent;
}

t.test('demo page: peer-to-peer, resume, reload, a closed viewer leaves at once', async (t) => {
  if (!(await buildIfStale(t))) return;
  const sys = await startNpmStart(t, { ROOM_RESUME_GRACE_MS: '3600000' });
  const { http } = sys;
  t.match(sys.out, `demo page:             ${http}/demo/`, 'npm start prints the demo page');
  t.match(sys.out, /development JWT secret \(HS256\): \S{32,}/, 'and the dev secret');
  t.match(sys.out, `REST API:              ${http}/api/rooms`, 'and the REST API');
  t.match(sys.out, /\n {4}eyJ[\w-]+\.[\w-]+\.[\w-]+\n/, 'and a ready-made token');

  // A second npm start on the same data directory would share its JetStream store.
  const second = spawnSync(process.execPath, [join(root, 'dist/scripts/start.js')], {
    cwd: root,
    env: sys.env,
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(second.status, 1, 'a second npm start on the same data directory is refused');
  t.match(second.stderr, /already running on .* \(pid \d+\); stop it first/);

  const proxy = await startProxy(sys.gatewayPort);
  t.teardown(() => proxy.close());
  // Teardowns run in reverse: the browser closes before the system stops.
  const browser = await launchBrowser(t);
  if (browser === undefined) return;
  const pageLog: string[] = [];
  const publisher = await openPage(browser, 'publisher', pageLog);
  const viewer = await openPage(browser, 'viewer', pageLog);
  const viewerSent = framesSent(viewer);
  const pages = { publisher, viewer };

  try {
    await publisher.goto(
      `${http}/demo/?user=alice&room=${ROOM}&role=publisher&mode=p2p&source=pattern&autojoin=1`,
    );
    const pub = await untilState(publisher, 'publisher joined', (s) => s.conn === 'joined');
    t.equal(pub.role, 'publisher', 'the publisher is on stage');
    t.match(await publisher.textContent('#log'), `created room ${ROOM}: you own it`);
    // The viewer reaches the gateway through the proxy, page and socket alike.
    await viewer.goto(
      `http://127.0.0.1:${proxy.port}/demo/?user=bob&room=${ROOM}&role=viewer&autojoin=1`,
    );
    const view = await untilState(viewer, 'viewer joined', (s) => s.conn === 'joined');
    t.equal(view.role, 'viewer', 'the viewer is audience');

    // Peer-to-peer video, negotiated by the SDK: the viewer offers, the publisher answers.
    const first = await decoding(viewer);
    t.equal(first.peerId, pub.peerId, 'the viewer decodes video from the publisher');
    await untilState(publisher, 'the publisher sends to the viewer', (s) =>
      s.audience.includes(view.peerId ?? ''),
    );
    t.ok(
      viewerSent.some((f) => f.type === 'offer'),
      'the viewer offered (the SDK negotiates on the viewer)',
    );
    await until('the publisher sends video', async () =>
      (await stats(publisher)).find((s) => s.peerId === view.peerId && s.framesSent > 0),
    );
    await until('"sent to 1 viewer(s)"', async () =>
      /sent to 1 viewer/.test((await publisher.textContent('#frames')) ?? '') ? true : undefined,
    );

    // The owner publishes peer-to-peer: the SDK sets the room live, and every page says so.
    await untilState(viewer, 'the viewer sees the room live', (s) => s.status === 'live');
    t.equal(await viewer.textContent('#room-status'), 'live', 'the status says live');
    t.equal(await publisher.textContent('#room-status'), 'live', 'on both pages');

    // The live audience count (room_stats), on both pages.
    await untilState(viewer, 'the viewer sees 1 viewer', (s) => s.viewers === 1);
    await untilState(publisher, 'the publisher sees 1 viewer', (s) => s.viewers === 1);
    t.match(await viewer.textContent('#viewers'), /^1 \(peak 1\)$/, 'the viewer count is shown');

    // URLs: play for everyone, publish only for the publisher.
    await until('URLs on both pages', async () =>
      (await viewer.$('#urls .play-urls')) && (await publisher.$('#urls .publish-urls'))
        ? true
        : undefined,
    );
    t.equal((await viewer.$$('#urls .publish-urls')).length, 0, 'no publish URLs for a viewer');
    t.notMatch(await viewer.textContent('#urls'), /whip|key=|Publish/, 'nothing of them');
    t.match(await publisher.textContent('#urls .publish-urls'), /whip/, 'the publisher has them');
    await shoot(pages);

    // The network goes away under the viewer: no close frame reaches either side.
    t.ok(proxy.drop() >= 1, 'the viewer socket was cut');
    const resumed = await untilState(viewer, 'viewer resumed', (s) => s.conn === 'resumed');
    t.same(resumed.history.slice(-3), ['joined', 'reconnecting', 'resumed'], 'then resumed');
    t.equal(resumed.peerId, view.peerId, 'with the same peer id');
    t.ok(proxy.accepted >= 2, 'over a new connection');
    await decoding(viewer, first.framesDecoded);
    t.pass('video flows after the resume');

    // The publisher reloads: it takes its place back, and video flows to the viewer again.
    await publisher.reload();
    const back = await untilState(publisher, 'publisher resumed', (s) => s.conn === 'resumed');
    t.equal(back.peerId, pub.peerId, 'a reload keeps the peer id');
    t.equal(back.role, 'publisher', 'and the publisher role');
    t.notMatch(await publisher.textContent('#log'), /PUBLISHER_TAKEN/, 'never PUBLISHER_TAKEN');
    t.ok(await publisher.isDisabled('#join-btn'), 'Join is off');
    t.ok(await publisher.isEnabled('#leave-btn'), 'Leave is on');
    t.equal(await publisher.inputValue('#user'), 'alice', 'the name is kept');
    await until('the reloaded publisher sends to the viewer', async () =>
      (await stats(publisher)).find(
        (s) => s.peerId === view.peerId && s.connectionState === 'connected' && s.framesSent > 0,
      ),
    );
    const again = await decoding(viewer);
    t.equal(again.peerId, pub.peerId, 'the viewer decodes the reloaded publisher');
    await untilState(publisher, 'status live after the reload', (s) => s.status === 'live');
    await shoot(pages, '-reloaded');

    // The viewer reloads: it left on the way out, and joins again (audience has no place to keep).
    await viewer.reload();
    const rejoined = await untilState(viewer, 'viewer joined again', (s) => s.conn === 'joined');
    t.not(rejoined.peerId, view.peerId, 'as a new audience peer');
    t.equal(await viewer.inputValue('#user'), 'bob', 'with the name it had');
    await decoding(viewer);
    const served = await untilState(publisher, 'the publisher serves the new peer only', (s) =>
      s.audience.includes(rejoined.peerId ?? ''),
    );
    t.same(served.audience, [rejoined.peerId], 'the old one went with its page');
    await untilState(publisher, 'still 1 viewer', (s) => s.viewers === 1);

    // The viewer's tab closes: it leaves at once. A clean close alone would keep its
    // seat for the grace period (an hour here): a count of 0 is the `leave` it sent.
    await viewer.close({ runBeforeUnload: true });
    await untilState(publisher, 'the closed viewer is gone', (s) => s.viewers === 0);
    t.match(await publisher.textContent('#viewers'), /^0 \(peak 1\)$/, 'the count says 0');
    await untilState(publisher, 'no link to the closed viewer', (s) => s.audience.length === 0);
    t.same((await snapshot(publisher)).audience, [], 'the publisher sends to no one');
    await until('"sent to" no one', async () =>
      /sent to [1-9]/.test((await publisher.textContent('#frames')) ?? '') ? undefined : true,
    );
    t.equal(await publisher.textContent('#audience'), '', 'and lists no viewer');
    await shoot({ publisher }, '-viewer-closed');
  } catch (err) {
    await shoot(pages, '-failed').catch(() => undefined);
    throw err;
  } finally {
    t.same(pageLog, [], 'no errors in the pages');
  }

  // Ctrl-C: everything stops, and the ports are free again.
  const system = sys.child;
  const exited = new Promise<number | null>((r) => system.once('exit', r));
  system.kill('SIGINT');
  const code = await Promise.race([
    exited,
    new Promise((r) => setTimeout(() => r('hung'), 20_000).unref()),
  ]);
  t.equal(code, 0, 'npm start stops cleanly on SIGINT');
  await t.rejects(fetch(`${http}/healthz`), 'the gateway is gone');
  t.notOk(existsSync(join(sys.dataDir, 'run.json')), 'and so are its children');
});
