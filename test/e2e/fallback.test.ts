import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { closeServer, subscribers } from '../helpers.js';
import { bundleClient, launchChromium, servePage } from './browser.js';

/**
 * A page whose WebSocket upgrades are refused (as by a proxy that breaks them) falls back to
 * Server-Sent Events with `transport: 'auto'` and chats both ways with a page on WebSocket; offline
 * and back, nothing is lost or doubled.
 */

let browser: Browser;
let bundle: string;

beforeAll(async () => {
  [bundle, browser] = await Promise.all([bundleClient(), launchChromium()]);
}, 120_000);

afterAll(async () => { await browser?.close(); });

/** The page, the bundled client, SSE at /events and WebSocket at /ws; upgrades from `?page=blocked` are refused (403). */
async function chatServer() {
  const hub = new Hub({ logger: false, canPublish: () => true, eventSourceRetry: 50, history: { size: 1000, ttl: 120_000 } });
  const refused: string[] = [];
  const server: Server = createServer((request, response) => {
    if (request.url?.startsWith('/events')) return hub.handleEventSource(request, response);
    servePage(request, response, bundle, 'livehub fallback');
  });
  server.on('upgrade', (request, socket: Duplex, head: Buffer) => {
    if (request.url?.includes('page=blocked')) {
      refused.push(request.url);
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    hub.handleUpgrade(request, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hub, base, refused, stop: async () => { await hub.close(); await closeServer(server); } };
}

interface PageState { said: string[]; transports: string[]; statuses: string[] }

/** A page in its own browser context with a LiveClient (`transport: 'auto'`) on the chat channel. */
async function chatPage(base: string, name: 'blocked' | 'open'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.evaluate((name) => {
    const w = window as unknown as { livehub: typeof import('../../client/index.js'); client: InstanceType<typeof import('../../client/index.js').LiveClient>; state: PageState };
    w.state = { said: [], transports: [], statuses: [] };
    const client = new w.livehub.LiveClient(`/ws?page=${name}`, { transport: 'auto', reconnect: { delay: 50, maxDelay: 500 }, autoConnect: false });
    client.events.on('transport', (transport) => w.state.transports.push(transport));
    client.events.on('status', (status) => w.state.statuses.push(status));
    client.on('chat', (data: string) => w.state.said.push(data));
    client.connect();
    w.client = client;
  }, name);
  return page;
}

const state = (page: Page) => page.evaluate(() => (window as unknown as { state: PageState }).state);
const status = (page: Page) => page.evaluate(() => (window as unknown as { client: { status: string } }).client.status);
const transport = (page: Page) => page.evaluate(() => (window as unknown as { client: { transport: string } }).client.transport);
const say = (page: Page, text: string) => page.evaluate((text) => {
  void (window as unknown as { client: { publish(c: string, e: string, d: string): Promise<void> } }).client.publish('chat', 'said', text);
}, text);

describe('a page whose WebSocket upgrades are refused, in Chromium', () => {
  it('falls back to SSE and chats both ways with a page on WebSocket, and loses nothing offline and back', async () => {
    const { base, refused, hub, stop } = await chatServer();
    const blocked = await chatPage(base, 'blocked');
    const open = await chatPage(base, 'open');
    try {
      await expect.poll(() => status(blocked), { timeout: 15_000 }).toBe('open');
      await expect.poll(() => status(open), { timeout: 15_000 }).toBe('open');
      expect(await transport(blocked)).toBe('sse');
      expect(await transport(open)).toBe('websocket');
      expect((await state(blocked)).transports).toEqual(['websocket', 'sse']);
      expect(refused.length).toBeGreaterThanOrEqual(2);
      await expect.poll(() => subscribers(hub, 'chat')).toBe(2);

      await say(blocked, 'hello from SSE');
      await say(open, 'hello from WebSocket');
      const both = ['hello from SSE', 'hello from WebSocket'];
      for (const page of [blocked, open]) {
        await expect.poll(async () => [...(await state(page)).said].sort(), { timeout: 10_000 }).toEqual(both);
      }

      // Offline: the SSE page queues what it says; the other page goes on talking.
      await blocked.context().setOffline(true);
      await expect.poll(() => status(blocked), { timeout: 10_000 }).not.toBe('open');
      await say(blocked, 'typed offline 1');
      await say(blocked, 'typed offline 2');
      for (let i = 1; i <= 3; i++) await say(open, `while away ${i}`);
      // The other page has its own messages back: they were published while the SSE page was away.
      await expect.poll(async () => (await state(open)).said.includes('while away 3'), { timeout: 10_000 }).toBe(true);
      await blocked.context().setOffline(false);
      await expect.poll(() => status(blocked), { timeout: 15_000 }).toBe('open');
      expect(await transport(blocked)).toBe('sse');

      const everything = [...both, 'typed offline 1', 'typed offline 2', 'while away 1', 'while away 2', 'while away 3'].sort();
      for (const page of [blocked, open]) {
        await expect.poll(async () => [...(await state(page)).said].sort(), { timeout: 15_000 }).toEqual(everything);
      }
      // Nothing doubled: a last message reaches both pages after anything sent before it.
      await say(open, 'last');
      for (const page of [blocked, open]) await expect.poll(async () => (await state(page)).said.includes('last'), { timeout: 10_000 }).toBe(true);
      for (const page of [blocked, open]) expect([...(await state(page)).said].filter((m) => m !== 'last').sort()).toEqual(everything);
      // In order per sender.
      const seenByOpen = (await state(open)).said;
      expect(seenByOpen.indexOf('typed offline 1')).toBeLessThan(seenByOpen.indexOf('typed offline 2'));
      const seenByBlocked = (await state(blocked)).said;
      expect(seenByBlocked.filter((text) => text.startsWith('while away'))).toEqual(['while away 1', 'while away 2', 'while away 3']);
    } finally {
      await blocked.context().close();
      await open.context().close();
      await stop();
    }
  }, 90_000);
});
