import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { statusPage } from '../../pkg/observe/status-page.js';
import { Peer } from '../helpers.js';
import { observedHubs } from '../observe/serve.js';
import { sharedRedisUrl } from '../redis.js';
import { chatServers, post } from '../examples/chat.js';
import { launchChromium } from './browser.js';

const KEY = 'status-page-e2e-key';
const start = observedHubs();
let browser: Browser;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function peer(url: string): Promise<Peer> {
  const p = await Peer.open(url);
  cleanups.push(() => p.close());
  return p;
}

async function open(url: string): Promise<Page> {
  const page = await browser.newPage();
  cleanups.push(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  cleanups.push(() => expect(errors).toEqual([]));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live');
  return page;
}

const text = (page: Page, id: string) => page.locator(`#${id}`).textContent();

describe('the status page in Chromium', () => {
  it('shows the counts of known traffic, the busiest channel first and a chart, updated live through livehub', async () => {
    const { hub, url, base } = await start({}, (h) => ({ '/status': statusPage(h, { key: KEY, interval: 200 }) }));
    const orders = [await peer(url), await peer(url), await peer(url)];
    for (const p of orders) await p.subscribe('orders');
    const news = await peer(url);
    await news.subscribe('news');
    const page = await open(`${base}/status?key=${KEY}`);

    // Traffic while the page watches: orders 5 times as often as news.
    const published = { orders: 0, news: 0 };
    let tick = 0;
    const traffic = setInterval(() => {
      tick++;
      void hub.publish('orders', 'created', { tick }); published.orders++;
      if (tick % 5 === 0) { void hub.publish('news', 'item', { tick }); published.news++; }
    }, 10);
    cleanups.push(() => clearInterval(traffic));
    await expect.poll(() => page.locator('#top-channels tbody tr').first().getAttribute('data-channel'), { timeout: 10_000 }).toBe('orders');
    await expect.poll(async () => Number(await text(page, 'publish-rate')), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('#top-channels tbody tr').nth(1).getAttribute('data-channel')).toBe('news');
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/status-page-live.png', fullPage: true });
    clearInterval(traffic);
    const counts = { ...published };
    await orders[0]!.next((m) => m.channel === 'orders' && m.data?.tick === tick, 5000);

    const total = counts.orders + counts.news;
    const delivered = counts.orders * 3 + counts.news;
    await expect.poll(() => text(page, 'published-total'), { timeout: 10_000 }).toBe(total.toLocaleString('en-US'));
    await expect.poll(() => text(page, 'delivered-total'), { timeout: 10_000 }).toBe(delivered.toLocaleString('en-US'));
    expect(await text(page, 'nodes-count')).toBe('1');
    // 4 peers and the page's own connection; orders, news and the status channel the page is on.
    expect(await text(page, 'connections')).toBe('5');
    expect(await text(page, 'channels')).toBe('3');
    expect(await text(page, 'evictions')).toBe('0');
    expect(await text(page, 'errors')).toBe('0');
    expect(await page.locator('#node-table tbody tr').getAttribute('data-node')).toBe(hub.node);
    // The chart gains a point every interval (200 ms): more than 3 once enough have passed, however fast the steps above ran.
    await expect.poll(async () => (await page.locator('#line-published').getAttribute('points'))!.split(' ').length, { timeout: 10_000 }).toBeGreaterThan(3);
    // Once traffic stops, the rates fall back to 0 and the busiest list empties.
    await expect.poll(() => text(page, 'publish-rate'), { timeout: 10_000 }).toBe('0');
    await expect.poll(() => page.locator('#top-channels tbody tr').count(), { timeout: 10_000 }).toBe(0);
    await page.screenshot({ path: 'test-results/status-page.png', fullPage: true });
  });

  it('shows every node of a two-node cluster sharing Redis, from either node\'s page', async () => {
    const redis = await sharedRedisUrl();
    const prefix = `livehub-status-e2e-${Math.random().toString(36).slice(2)}:`;
    const engines = [new RedisEngine({ url: redis, prefix }), new RedisEngine({ url: redis, prefix })];
    cleanups.push(() => Promise.all(engines.map((e) => e.close())));
    const one = await start({ engine: engines[0] }, (h) => ({ '/status': statusPage(h, { key: KEY, interval: 200 }) }));
    const two = await start({ engine: engines[1] }, (h) => ({ '/status': statusPage(h, { key: KEY, interval: 200 }) }));
    cleanups.push(() => Promise.all([one.hub.close(), two.hub.close()]));
    await (await peer(two.url)).subscribe('room');
    await (await peer(two.url)).subscribe('room');
    for (let i = 0; i < 3; i++) await one.hub.publish('room', 'msg', i);

    const page = await open(`${one.base}/status?key=${KEY}`);
    await expect.poll(() => text(page, 'nodes-count'), { timeout: 10_000 }).toBe('2');
    const nodes = await page.locator('#node-table tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.node));
    expect(nodes).toEqual([one.hub.node, two.hub.node].sort());
    // Published on node one, delivered on node two to its 2 subscribers.
    await expect.poll(() => text(page, 'published-total'), { timeout: 10_000 }).toBe('3');
    await expect.poll(() => text(page, 'delivered-total'), { timeout: 10_000 }).toBe('6');
    // 2 peers on node two, the page on node one.
    expect(await text(page, 'connections')).toBe('3');
  });

  it('works over Server-Sent Events when given the hub\'s SSE path', async () => {
    const { hub, url, base } = await start({}, (h) => ({ '/status': statusPage(h, { events: '/events', interval: 200 }) }));
    const p = await peer(url);
    await p.subscribe('feed');
    const page = await open(`${base}/status`);
    for (let i = 0; i < 4; i++) await hub.publish('feed', 'x', i);
    await expect.poll(() => text(page, 'published-total'), { timeout: 10_000 }).toBe('4');
    expect(await text(page, 'delivered-total')).toBe('4');
    await expect.poll(async () => (await page.locator('#node-table tbody tr td').nth(2).textContent()), { timeout: 10_000 }).toBe('1');
  });
});

describe('the example chat\'s status page in Chromium', () => {
  const chats = chatServers();

  /** Posts chat messages while the page watches, until its published total has moved past `from`. */
  async function expectNumbersToMove(page: Page, base: string, headers: Record<string, string> = {}) {
    const before = Number((await text(page, 'published-total'))!.replace(/,/g, ''));
    for (let i = 0; i < 3; i++) expect((await post(`${base}/messages`, { author: 'ann', body: `m${i}` }, headers)).status).toBe(201);
    await expect.poll(async () => Number((await text(page, 'published-total'))!.replace(/,/g, '')), { timeout: 10_000 }).toBe(before + 3);
    await expect.poll(() => text(page, 'connections'), { timeout: 10_000 }).toBe('1');
  }

  it('is live in development, its numbers moving as messages are posted', async () => {
    const chat = await chats.start({ development: true });
    const page = await open(`${chat.base}/status`);
    await expectNumbersToMove(page, chat.base);
  });

  it('is live with the status key in JWT mode, for an operator who is not logged in to the chat', async () => {
    const chat = await chats.start({ auth: 'jwt', secret: 'example-secret-that-is-long-enough-32b', statusKey: KEY });
    const page = await open(`${chat.base}/status?key=${KEY}`);
    const login = await post(`${chat.base}/login`, { name: 'zoe' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    await expectNumbersToMove(page, chat.base, { Cookie: cookie });
  });
});
