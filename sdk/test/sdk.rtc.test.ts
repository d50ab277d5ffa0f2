/**
 * The WebRTC helper in Chromium, on the SDK as the gateway serves it at /sdk/: a
 * publisher (the owner, publishing a canvas peer-to-peer) and a viewer. The viewer
 * offers (the audience offers to the stage), video is decoded, the SDK sets the
 * P2P room live; after a dropped socket and a broken peer connection the viewer
 * resumes and offers a fresh connection, which the publisher takes in place of the old.
 * A viewer that closes its peer connection (its tab closed) closes DTLS: the
 * publisher's helper closes that link at once, and a viewer whose publisher did so
 * offers a fresh link.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import type { Test } from 'tap';
import { launchBrowser } from '../../test/helpers/browser.js';
import { startSystem, type System } from '../../test/helpers/system.js';

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
  window.canvasStream = () => {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = 'hsl(' + ((n += 7) % 360) + ' 80% 50%)';
      ctx.fillRect(0, 0, 320, 240);
    }, 40);
    return canvas.captureStream(25);
  };
  const stream = a.role === 'publisher' ? window.canvasStream() : undefined;
  const client = new RoomcastClient({ url: a.url, token: a.token });
  await client.connect();
  const room = await client.join(a.room, a.role);
  const rtc = new RoomRtc(room, stream === undefined ? {} : { stream });
  window.client = client;
  window.rtc = rtc;
  state.peerId = room.peerId;
  state.status = room.status;
  room.on('change', () => (state.status = room.status));
  window.room = room;
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
  // Frames decoded from every peer (getStats): what negotiation is responsible for.
  // A replaced link starts again from 0 (a closed one's getStats fails: no stale sum).
  rtc.on('closed', () => {
    state.frames = 0;
    state.events.push('closed');
  });
  setInterval(async () => {
    let frames = 0;
    try {
      for (const link of rtc.links.values()) {
        const stats = await link.pc.getStats();
        stats.forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded ?? 0;
        });
      }
      state.frames = frames;
    } catch {}
  }, 200);
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

/**
 * A system and two Chromium pages on the gateway's origin (`/sdk/` same-origin),
 * joined to `room`: the owner publishing a canvas, and a viewer. Undefined without Chromium.
 */
async function twoPages(
  t: Test,
  room: string,
): Promise<{ sys: System; pages: [Page, Page] } | undefined> {
  const sys = await startSystem(t, { GATEWAY_DEMO: 'true' });
  await sys.createRoom(room, 'owner');
  const browser = await launchBrowser(t);
  if (browser === undefined) return undefined;
  const pages: Page[] = [];
  const log: string[] = [];
  for (const name of ['publisher', 'viewer']) {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => log.push(`${name}: ${e.message}`));
    page.on('console', (m) => log.push(`${name}: ${m.text()}`));
    await page.goto(`http://127.0.0.1:${sys.port}/sdk/roomcast.js`);
    pages.push(page);
  }
  // On failure: each page's state, its links' transceivers and RTP counters.
  t.teardown(async () => {
    if (t.passing()) return;
    for (const page of pages) log.push(JSON.stringify(await read(page).catch(String)));
    for (const page of pages)
      log.push(
        JSON.stringify(
          await page
            .evaluate(
              `(async () => { const out = []; for (const l of window.rtc.links.values()) { out.push(l.pc.signalingState, l.pc.getTransceivers().map((x) => [x.mid, x.direction, x.currentDirection, x.sender.track?.kind, x.receiver.track.kind, x.receiver.track.muted])); const st = await l.pc.getStats(); st.forEach((r) => { if (r.type === 'inbound-rtp' || r.type === 'outbound-rtp') out.push([r.type, r.kind, r.framesDecoded ?? r.framesEncoded, r.packetsReceived ?? r.packetsSent]); }); } return out; })()`,
            )
            .catch(String),
        ),
      );
    t.comment(log.join('\n'));
  });
  const [publisher, viewer] = pages as [Page, Page];
  const token = (sub: string) => sys.token(sub);
  await joinPage(publisher, { url: sys.url, token: await token('owner'), room, role: 'publisher' });
  await joinPage(viewer, { url: sys.url, token: await token('v'), room, role: 'viewer' });
  return { sys, pages: [publisher, viewer] };
}

t.test('perfect negotiation in Chromium: P2P video, live, re-offer after resume', async (t) => {
  const setup = await twoPages(t, 'p2p');
  if (setup === undefined) return;
  const {
    sys,
    pages: [publisher, viewer],
  } = setup;
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
  await waitIn(viewer, "s.events.includes('closed')");
  await framesAbove(viewer, 5);
  t.pass('a fresh connection re-offered after the resume, and video flows again');
  t.notOk(
    (await read(publisher)).events.some((e) => e.startsWith('error')),
    'no error on the publisher',
  );
});

t.test('a viewer invited on stage publishes too; both sides negotiating at once', async (t) => {
  const setup = await twoPages(t, 'stage');
  if (setup === undefined) return;
  const [publisher, guest] = setup.pages;
  await waitIn(guest, 's.frames > 5');
  await guest.evaluate('window.room.raiseHand()');
  const guestId = (await read(guest)).peerId;
  await publisher.evaluate(`window.room.invite(${JSON.stringify(guestId)})`);
  await guest.waitForFunction("window.room.role === 'cohost'", undefined, { timeout: 20_000 });
  // Both sides negotiate at once: the guest adds its camera while the publisher restarts ICE.
  await Promise.all([
    guest.evaluate('window.rtc.publish(window.canvasStream())'),
    publisher.evaluate('for (const l of window.rtc.links.values()) l.restart()'),
  ]);
  await waitIn(publisher, 's.frames > 5');
  t.pass("the publisher decodes the co-host's video");
  const framesNow = (await read(guest)).frames;
  await waitIn(guest, `s.frames > ${framesNow + 5}`);
  t.pass("and the co-host still the publisher's");
  const links = await publisher.evaluate<number>('window.rtc.links.size');
  t.equal(links, 1, 'one peer connection for the pair, whoever offered');
});

t.test('a peer that closes its peer connection: its link closes at once', async (t) => {
  const setup = await twoPages(t, 'closing');
  if (setup === undefined) return;
  const [publisher, viewer] = setup.pages;
  await waitIn(viewer, 's.frames > 5');
  const viewerId = (await read(viewer)).peerId;
  const links = (page: Page) => page.evaluate<string[]>('[...window.rtc.links.keys()]');
  const closePcs = 'for (const link of window.rtc.links.values()) link.pc.close()';

  // The publisher's pc closes (its page going away, as WebRTC tells it; its socket stays):
  // the viewer drops that link and, offering to the stage, offers a fresh one.
  await publisher.evaluate(closePcs);
  await waitIn(viewer, "s.events.includes('closed')");
  await waitIn(viewer, 's.frames > 5');
  t.pass('the viewer offered a fresh link, and video flows again');
  t.same(await links(publisher), [viewerId], 'the publisher took it in place of the old');

  // The viewer's pc closes (its tab closed): the publisher drops the link and stays so.
  const closedBefore = (await read(publisher)).events.filter((e) => e === 'closed').length;
  await viewer.evaluate(closePcs);
  await waitIn(publisher, `s.events.filter((e) => e === 'closed').length > ${closedBefore}`);
  t.same(await links(publisher), [], 'the publisher dropped the link to the audience peer');
  t.notOk(
    (await read(publisher)).events.some((e) => e.startsWith('error')),
    'no error on the publisher',
  );
});
