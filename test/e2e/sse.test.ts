import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { closeServer, sleep, serverSessions } from '../helpers.js';
import { launchChromium } from './browser.js';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

async function pageServer() {
  const hub = new Hub({ logger: false, eventSourceRetry: 20, history: { size: 10_000, ttl: 120_000 }, pingPeriod: 200, pongWait: 600 });
  const server: Server = createServer((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<!doctype html><title>sse</title>'); });
  hub.attach(server, { path: '/ws', eventsPath: '/events' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hub, base, stop: async () => { await hub.close(); await closeServer(server); } };
}

describe("Chromium's EventSource", () => {
  it('gets messages of several channels, is refused private ones, and resumes through 50 server kills at 500 messages/s', async () => {
    const { hub, base, stop } = await pageServer();
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/`);
      await page.evaluate(() => {
        const w = window as unknown as { got: any[]; errors: any[]; opens: number };
        w.got = []; w.errors = []; w.opens = 0;
        const source = new EventSource('/events?channel=ticks&channel=tocks&channel=private-x');
        source.addEventListener('open', () => { w.opens++; });
        source.addEventListener('tick', (e) => w.got.push(JSON.parse((e as MessageEvent).data)));
        source.addEventListener('livehub', (e) => { const m = JSON.parse((e as MessageEvent).data); if (m.type === 'error') w.errors.push(m); });
      });
      await expect.poll(() => page.evaluate(() => (window as any).errors.length)).toBe(1);
      expect(await page.evaluate(() => (window as any).errors[0])).toMatchObject({ code: 'forbidden', channel: 'private-x' });
      let sent = 0;
      const publisher = setInterval(() => { for (let i = 0; i < 5; i++) { hub.publish(sent % 2 ? 'tocks' : 'ticks', 'tick', sent); sent++; } }, 10);
      for (let kill = 0; kill < 50; kill++) {
        await sleep(60 + Math.random() * 60); // the kills' pace is the fault under test
        for (const session of serverSessions(hub)) session.terminate();
      }
      clearInterval(publisher);
      const total = sent;
      await expect.poll(() => page.evaluate(() => (window as any).got.length), { timeout: 15_000 }).toBeGreaterThanOrEqual(total);
      // Nothing doubled: a last tick on each channel comes after anything published before it.
      await hub.publish('ticks', 'tick', 'last');
      await hub.publish('tocks', 'tick', 'last');
      await expect.poll(() => page.evaluate(() => (window as any).got.filter((m: any) => m.data === 'last').length), { timeout: 10_000 }).toBe(2);
      const seen: number[] = await page.evaluate(() => (window as any).got.filter((m: any) => m.data !== 'last').map((m: any) => m.data));
      expect(seen.length).toBe(total);
      expect([...seen].sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
      for (const parity of [0, 1]) {
        const mine = seen.filter((n) => n % 2 === parity);
        expect(mine).toEqual([...mine].sort((a, b) => a - b));
      }
      expect(await page.evaluate(() => (window as any).opens)).toBeGreaterThanOrEqual(40);
    } finally {
      await page.close();
      await stop();
    }
  }, 90_000);
});
