/**
 * The WebRTC helper in Chromium, on the SDK as the gateway serves it at /sdk/: a
 * publisher (the owner, publishing a canvas peer-to-peer) and a viewer. The viewer
 * offers (the audience offers to the stage), video is decoded, the SDK sets the
 * P2P room live; after a dropped socket and a broken peer connection the viewer
 * resumes and offers a fresh connection, which the publisher takes in place of the old.
 */
import { existsSync } from 'node:fs';
import t from 'tap';
import { chromium, type Page } from 'playwright-core';
import { startSystem } from '../../test/helpers/system.js';

const CHROMIUM = '/usr/bin/chromium';

/** What a page's script keeps on `window.sdk` for the test to read. */
interface PageState {
  peerId: string;
  status: string;
  tracks: number;
  frames: number;
  events: string[];
}

/**
 * Runs in the page (plain JavaScript: this project's TypeScript has no DOM types):
 * connect, join, negotiate with RoomRtc; the state on `window.sdk`, the client and
 * the helper on `window.client` / `window.rtc`.
 */
const PAGE_SCRIPT = `async (a) => {
  const { RoomcastClient, RoomRtc } = await import('/sdk/roomcast.js');
  const state = { peerId: '', status: '', tracks: 0, frames: 0, events: [] };
  window.sdk = state;
  let stream;
  if (a.role === 'publisher') {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = 'hsl(' + ((n += 7) % 360) + ' 80% 50%)';
      ctx.fillRect(0, 0, 320, 240);
    }, 40);
    stream = canvas.captureStream(25);
  }
  const client = new RoomcastClient({ url: a.url, token: a.token });
  await client.connect();
  const room = await client.join(a.room, a.role);
  const rtc = new RoomRtc(room, stream === undefined ? {} : { stream });
  window.client = client;
  window.rtc = rtc;
  state.peerId = room.peerId;
  state.status = room.status;
  room.on('change', () => (state.status = room.status));
  room.on('resumed', () => state.events.push('resumed'));
  rtc.on('state', (s) => state.events.push('pc:' + s.state));
  rtc.on('error', (e) => state.events.push('error:' + e.code));
  const video = document.createElement('video');
  video.muted = true;
  document.body.append(video);
  rtc.on('track', (e) => {
    state.tracks++;
    video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    void video.play();
  });
  const count = () => {
    state.frames = video.getVideoPlaybackQuality().totalVideoFrames;
    requestAnimationFrame(count);
  };
  count();
}`;

function joinPage(
  page: Page,
  args: { url: string; token: string; room: string; role: 'publisher' | 'viewer' },
): Promise<unknown> {
  return page.evaluate(`(${PAGE_SCRIPT})(${JSON.stringify(args)})`);
}

const read = (page: Page) => page.evaluate<PageState>('window.sdk');
/** Waits until `expr` (JavaScript over `window.sdk`, as `s`) holds in the page. */
const waitIn = (page: Page, expr: string) =>
  page.waitForFunction(`(() => { const s = window.sdk; return ${expr}; })()`, undefined, {
    timeout: 20_000,
  });

t.test('perfect negotiation in Chromium: P2P video, live, re-offer after resume', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.comment(`no Chromium at ${CHROMIUM} (npm test installs it)`);
    return;
  }
  const sys = await startSystem(t, { GATEWAY_DEMO: 'true' });
  await sys.createRoom('p2p', 'owner');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--allow-loopback-in-peer-connection',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
  t.teardown(() => browser.close());
  const pages: Page[] = [];
  const log: string[] = [];
  for (const name of ['publisher', 'viewer']) {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => log.push(`${name}: ${e.message}`));
    page.on('console', (m) => log.push(`${name}: ${m.text()}`));
    page.on('response', (r) => {
      if (r.status() >= 400) log.push(`${name}: ${r.request().method()} ${r.url()} ${r.status()}`);
    });
    // Any page of the gateway's origin: /sdk/ is then same-origin.
    await page.goto(`http://127.0.0.1:${sys.port}/sdk/roomcast.js`);
    pages.push(page);
  }
  const [publisher, viewer] = pages as [Page, Page];
  t.teardown(async () => {
    for (const page of pages) log.push(JSON.stringify(await read(page).catch(String)));
    t.comment(log.join('\n'));
  });

  await joinPage(publisher, {
    url: sys.url,
    token: await sys.token('owner'),
    room: 'p2p',
    role: 'publisher',
  });
  await joinPage(viewer, {
    url: sys.url,
    token: await sys.token('v'),
    room: 'p2p',
    role: 'viewer',
  });
  const framesAbove = (page: Page, n: number) => waitIn(page, `s.frames > ${n}`);
  await framesAbove(viewer, 5);
  t.pass("the viewer decodes the publisher's video");
  await waitIn(viewer, "s.status === 'live'");
  t.equal(
    (
      await sys.rooms.get('p2p', {
        userId: 'owner',
        perms: { view: true, publish: true, admin: true },
      })
    ).room.status,
    'live',
    'the SDK set the P2P room live',
  );

  // A drop with a broken peer connection: the viewer's socket and its pc both closed.
  const before = await read(viewer);
  await viewer.evaluate(`{
    for (const link of window.rtc.links.values()) link.pc.close();
    window.client.ws.close();
  }`);
  await waitIn(viewer, "s.events.includes('resumed')");
  const resumed = await read(viewer);
  t.equal(resumed.peerId, before.peerId, 'resumed with the same peer id');
  await waitIn(viewer, `s.tracks > ${before.tracks}`);
  const after = (await read(viewer)).frames;
  await framesAbove(viewer, after + 5);
  t.pass('a fresh connection re-offered after the resume, and video flows again');
  t.notOk(
    (await read(publisher)).events.some((e) => e.startsWith('error')),
    'no error on the publisher',
  );
});
