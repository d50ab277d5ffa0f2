/**
 * The one way tests start a browser: Debian's Chromium, driven by playwright-core,
 * with fake camera and microphone, loopback WebRTC allowed, and no throttling of
 * background pages (pages share one browser, drawing timers included).
 */
import { existsSync } from 'node:fs';
import type { Test } from 'tap';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Chromium with fake media, closed in teardown; undefined (after failing `t`) when missing. */
export async function launchBrowser(t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    t.fail(
      `Chromium is missing: apt-get update && apt-get install -y chromium (npm test's pretest installs it)`,
    );
    return undefined;
  }
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
      // Pages share one browser: none may be throttled as a background tab.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}
