/**
 * The demo page's broadcast mode where no SRS runs (`npm start` starts none): the
 * page says so plainly instead of showing a black video. A publisher that chooses
 * "broadcast through SRS" is told that WHIP failed because SRS is not reachable; a
 * viewer is told by the stream service's view (`srs` not `ok`, the stream
 * `unknown` once SRS counts as down). Publish URLs only on the publisher's page.
 * (The broadcast itself is checked against a real SRS, not here.)
 */
import t from 'tap';
import { buildIfStale } from '../helpers/build.js';
import { freePort } from '../helpers/net.js';
import { openPage, shoot, snapshot, startNpmStart, until, untilState } from './demo.harness.js';
import { launchBrowser } from '../helpers/browser.js';

const ROOM = 'srs-room';

t.test('demo page: broadcast through SRS says when SRS is not reachable', async (t) => {
  if (!(await buildIfStale(t))) return;
  // SRS counts as down soon after the stream service starts (nothing answers its API).
  const sys = await startNpmStart(t, { STREAM_SRS_DOWN_AFTER_MS: '500' });
  const browser = await launchBrowser(t);
  if (browser === undefined) return;
  const pageLog: string[] = [];
  const publisher = await openPage(browser, 'srs-publisher', pageLog);
  const viewer = await openPage(browser, 'srs-viewer', pageLog);
  const pages = { 'srs-publisher': publisher, 'srs-viewer': viewer };

  try {
    await publisher.goto(
      `${sys.http}/demo/?user=carol&room=${ROOM}&role=publisher&mode=srs&autojoin=1`,
    );
    const pub = await untilState(
      publisher,
      'the publisher is told SRS is not reachable',
      (s) => s.srsOk === false,
    );
    t.match(pub.srs, /SRS is not reachable/, 'WHIP failed: SRS is not reachable');
    t.match(
      await publisher.textContent('#srs-status'),
      /^SRS is not reachable at .*peer-to-peer is/,
    );
    t.equal(await publisher.getAttribute('#srs-status', 'data-ok'), 'false', 'shown as a failure');
    t.equal(pub.conn, 'joined', 'the page is in the room all the same');
    t.equal(pub.role, 'viewer', 'following it as audience (SRS would hold the publisher slot)');
    t.match(await publisher.textContent('#log'), `created room ${ROOM}: you own it`);
    await until('publish URLs on the publisher page', async () =>
      (await publisher.$('#urls .publish-urls')) ? true : undefined,
    );
    t.match(await publisher.textContent('#urls .publish-urls'), /whip.*key=/s, 'with the key');

    await viewer.goto(`${sys.http}/demo/?user=dave&room=${ROOM}&role=viewer&autojoin=1`);
    const view = await untilState(viewer, 'the viewer is told SRS is not reachable', (s) =>
      /SRS is not reachable/.test(s.srs ?? ''),
    );
    t.equal(view.srsOk, false, 'shown as a failure');
    t.equal(view.conn, 'joined', 'the viewer is in the room');
    await until('play URLs on the viewer page', async () =>
      (await viewer.$('#urls .play-urls')) ? true : undefined,
    );
    t.equal((await viewer.$$('#urls .publish-urls')).length, 0, 'no publish URLs for a viewer');
    t.notMatch(await viewer.textContent('#urls'), /whip|key=/, 'nothing of them');
    t.same((await snapshot(viewer)).audience, [], 'nothing to watch peer-to-peer');
    await shoot(pages);
  } catch (err) {
    await shoot(pages, '-failed').catch(() => undefined);
    throw err;
  } finally {
    t.same(pageLog, [], 'no errors in the pages');
  }
});

t.test('demo page: WHIP through the gateway, whose SRS does not answer', async (t) => {
  if (!(await buildIfStale(t))) return;
  // As compose runs it: the WHIP/WHEP URLs name the gateway (here by another loopback
  // name than the page's), which forwards them to an SRS that is not there.
  const gatewayPort = await freePort();
  const sys = await startNpmStart(t, {
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_SRS_RTC_URL: `http://127.0.0.1:${await freePort()}`,
    STREAM_PUBLIC_RTC_URL: `http://localhost:${gatewayPort}`,
  });
  const browser = await launchBrowser(t);
  if (browser === undefined) return;
  const pageLog: string[] = [];
  const publisher = await openPage(browser, 'srs-forward', pageLog);
  try {
    await publisher.goto(
      `${sys.http}/demo/?user=erin&room=${ROOM}-2&role=publisher&mode=srs&autojoin=1`,
    );
    const pub = await untilState(publisher, 'WHIP failed', (s) => s.srsOk === false);
    t.match(pub.srs, /^SRS is not reachable behind http:\/\/127\.0\.0\.1:\d+ \(HTTP 50\d\)/);
    t.match(
      await publisher.textContent('#urls .publish-urls'),
      `http://localhost:${gatewayPort}/rtc/v1/whip/`,
      'the URL names the gateway',
    );
    await shoot({ 'srs-forward': publisher });
  } catch (err) {
    await shoot({ 'srs-forward': publisher }, '-failed').catch(() => undefined);
    throw err;
  } finally {
    // The 503 of the forward is a failed resource load: expected, and shown on the page.
    t.same(pageLog, [], 'no errors in the page');
  }
});
