import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type LiveStatus } from '../../client/index.js';
import { gateProxy } from '../client/gate-proxy.js';
import { perTest } from '../helpers.js';
import { clientPageServer, launchChromium } from './browser.js';

/**
 * A reconnect whose TCP connection is accepted but whose handshake is never answered (a half-dead
 * load balancer, a proxy, a captive portal) must not hang the client: the attempt is closed after
 * `connectTimeout` and the next one goes through.
 */

const CONNECT_TIMEOUT = 1500;
const RECONNECT_DELAY = 50;
/** The longest the client may take: the stuck attempt's timeout, one backoff, and room for a slow machine. */
const DEADLINE = CONNECT_TIMEOUT + RECONNECT_DELAY + 5000;

const { start, cleanup } = perTest();

describe('a connection attempt whose handshake never completes, in Node', () => {
  it('is closed after connectTimeout and replaced by one that opens, with connect_timeout and reconnecting shown', async () => {
    const s = await start();
    const proxy = await gateProxy(s.port, (n) => (n === 1 ? 'stall' : 'forward'));
    cleanup(() => proxy.close());
    const c = new LiveClient(`ws://127.0.0.1:${proxy.port}/ws`, { WebSocket, connectTimeout: CONNECT_TIMEOUT, reconnect: { delay: RECONNECT_DELAY } });
    cleanup(() => c.dispose());
    const statuses: LiveStatus[] = [];
    const errors: string[] = [];
    c.events.on('status', (status) => statuses.push(status));
    c.events.on('error', (error) => errors.push((error as { code?: string }).code ?? error.message));
    const seen: unknown[] = [];
    c.on('news', (data) => seen.push(data));
    await expect.poll(() => c.status, { timeout: DEADLINE }).toBe('open');
    expect(proxy.seen).toEqual(['stall', 'forward']);
    expect(errors).toEqual(['connect_timeout']);
    expect(statuses).toEqual(['reconnecting', 'open']); // 'connecting' was set in the constructor
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('news', 'item', 'after the stall');
    await expect.poll(() => seen).toEqual(['after the stall']);
  }, DEADLINE + 10_000);
});

describe('a connection attempt whose handshake never completes, in Chromium', () => {
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

  /** A page with the client bundled in, connected through a proxy that stalls its first handshake. */
  async function stalledPage(options: { connectTimeout: number }) {
    const s = await start({ origins: [pageOrigin] });
    const proxy = await gateProxy(s.port, (n) => (n === 1 ? 'stall' : 'forward'));
    cleanup(() => proxy.close());
    const context = await browser.newContext();
    cleanup(() => context.close());
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/`);
    await page.evaluate(({ url, connectTimeout, reconnectDelay }) => {
      const w = window as unknown as { livehub: typeof import('../../client/index.js'); client: unknown; log: string[] };
      w.log = [];
      const client = new w.livehub.LiveClient(url, { connectTimeout, reconnect: { delay: reconnectDelay } });
      client.events.on('status', (status) => w.log.push(status));
      client.events.on('error', (error) => w.log.push(`error:${(error as { code?: string }).code}`));
      w.client = client;
    }, { url: `ws://127.0.0.1:${proxy.port}/ws`, connectTimeout: options.connectTimeout, reconnectDelay: RECONNECT_DELAY });
    return { s, proxy, page };
  }

  const status = (page: Page) => page.evaluate(() => (window as unknown as { client: { status: string } }).client.status);
  const log = (page: Page) => page.evaluate(() => (window as unknown as { log: string[] }).log);

  it('is closed after connectTimeout and replaced by one that opens, with connect_timeout and reconnecting shown', async () => {
    const { proxy, page } = await stalledPage({ connectTimeout: CONNECT_TIMEOUT });
    await expect.poll(() => status(page), { timeout: DEADLINE }).toBe('open');
    expect(proxy.seen).toEqual(['stall', 'forward']);
    expect(await log(page)).toEqual(['error:connect_timeout', 'reconnecting', 'open']);
  }, DEADLINE + 30_000);

  it('replaces a stuck attempt at once when the browser reports it is back online', async () => {
    const { proxy, page } = await stalledPage({ connectTimeout: 120_000 });
    await expect.poll(() => proxy.seen).toEqual(['stall']);
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => status(page), { timeout: 10_000 }).toBe('open');
    expect(proxy.seen).toEqual(['stall', 'forward']);
    expect(await log(page)).toEqual(['open']);
  }, 60_000);
});
