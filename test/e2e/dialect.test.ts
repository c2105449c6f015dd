import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perTest } from '../helpers.js';
import { startOriginalHub } from '../client/original-hub.js';
import { clientPageServer, launchChromium } from './browser.js';

/**
 * Chromium refuses a handshake whose server selects none of the subprotocols offered, and tells the
 * page nothing but a close: the client must still reach a hub of the plain protocol (the Go hub's).
 */

const { start, cleanup } = perTest();
let browser: Browser;
let pages: { origin: string; close(): Promise<void> } | undefined;
let pageOrigin: string;

beforeAll(async () => {
  pages = await clientPageServer();
  pageOrigin = pages.origin;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await pages?.close();
});

/** A page whose client listens to `news`, recording what it receives. */
async function pageOn(url: string): Promise<Page> {
  const context = await browser.newContext();
  cleanup(() => context.close());
  const page = await context.newPage();
  await page.goto(`${pageOrigin}/`);
  await page.evaluate((target) => {
    const w = window as unknown as { livehub: typeof import('../../client/index.js'); client: unknown; seen: unknown[] };
    w.seen = [];
    const client = new w.livehub.LiveClient(target, { reconnect: { delay: 50 } });
    client.on('news', (data) => w.seen.push(data));
    w.client = client;
  }, url);
  return page;
}

const state = (page: Page) => page.evaluate(() => {
  const client = (window as unknown as { client: { status: string; dialect: string | null } }).client;
  return { status: client.status, dialect: client.dialect };
});
const seen = (page: Page) => page.evaluate(() => (window as unknown as { seen: unknown[] }).seen);

describe('the client in Chromium', () => {
  it('reaches a hub that selects no subprotocol, speaks its plain protocol and takes its one-line-per-message frames', async () => {
    const hub = await startOriginalHub();
    cleanup(() => hub.close());
    const page = await pageOn(hub.url);
    await expect.poll(() => state(page), { timeout: 10_000 }).toEqual({ status: 'open', dialect: 'plain' });
    await expect.poll(() => hub.subscribers('news')).toBe(1);
    expect(hub.received.flat().filter((f) => f.includes('subscribe'))).toEqual(['{"type":"subscribe","channel":"news"}']);
    hub.publish('news', 'n', 1);
    hub.publish('news', 'n', 2);
    hub.flush();
    await expect.poll(() => seen(page)).toEqual([1, 2]);
  }, 60_000);

  it('speaks livehub\'s protocol with livehub\'s hub', async () => {
    const s = await start({ origins: [pageOrigin] });
    const page = await pageOn(s.url);
    await expect.poll(() => state(page), { timeout: 10_000 }).toEqual({ status: 'open', dialect: 'livehub' });
    await expect.poll(() => s.hub.channelList()).toEqual([{ channel: 'news', subscribers: 1 }]);
    await s.hub.publish('news', 'n', 'full');
    await expect.poll(() => seen(page)).toEqual(['full']);
  }, 60_000);
});
