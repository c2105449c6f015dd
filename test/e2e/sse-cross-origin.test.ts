import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, Hub } from '../../pkg/index.js';
import { closeServer } from '../helpers.js';
import { bundleClient, launchChromium, servePage } from './browser.js';

/**
 * A page on one origin using the hub on another over Server-Sent Events: the stream goes with the
 * page's cookies for the hub (withCredentials), its commands pass the CORS preflight, and an origin
 * the hub does not allow gets nothing.
 */

let browser: Browser;
let bundle: string;
beforeAll(async () => { [bundle, browser] = await Promise.all([bundleClient(), launchChromium()]); }, 120_000);
afterAll(async () => { await browser?.close(); });

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** A page server (the app) and a hub server on another port (another origin, the same site). */
async function twoOrigins() {
  const app: Server = createServer((request, response) => servePage(request, response, bundle, 'app'));
  const appOrigin = await listen(app);
  const users: string[] = [];
  const hub = new Hub({
    logger: false, canPublish: () => true, origins: [appOrigin],
    // The hub's own session cookie, set by its /login: it reaches the stream only with credentials.
    authenticate: (request) => {
      if (!/(^|;\s*)sid=ann(;|$)/.test(request.headers.cookie ?? '')) throw new AuthError(401);
      users.push('ann');
      return { userId: 'ann' };
    },
  });
  const hubServer: Server = createServer((request, response) => {
    response.writeHead(200, { 'Set-Cookie': 'sid=ann; Path=/; HttpOnly; SameSite=Lax', 'Content-Type': 'text/html' });
    response.end('<!doctype html><title>signed in</title>');
  });
  hub.attach(hubServer, { path: '/ws', eventsPath: '/events' });
  const hubOrigin = await listen(hubServer);
  return {
    hub, appOrigin, hubOrigin, users,
    stop: async () => { await hub.close(); await closeServer(hubServer); await closeServer(app); },
  };
}

interface PageState { got: Array<{ type: string; data: unknown }>; errors: string[] }

describe('a page using the hub on another origin over SSE, in Chromium', () => {
  it('streams with its cookies for the hub and publishes through the preflighted POST', async () => {
    const { hub, appOrigin, hubOrigin, users, stop } = await twoOrigins();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${hubOrigin}/login`); // the hub's site sets its cookie
      await page.goto(`${appOrigin}/`);
      await page.evaluate((hubOrigin) => {
        const w = window as unknown as { livehub: typeof import('../../client/index.js'); client: unknown; state: PageState };
        w.state = { got: [], errors: [] };
        const client = new w.livehub.LiveClient(`${hubOrigin.replace('http', 'ws')}/ws`, { transport: 'sse', reconnect: { delay: 50 } });
        client.events.on('error', (error: Error) => { w.state.errors.push(String((error as Error & { code?: string }).code)); });
        client.on('room', (data: unknown, message: { type: string }) => w.state.got.push({ type: message.type, data }));
        w.client = client;
      }, hubOrigin);
      await expect.poll(() => hub.info().channels, { timeout: 10_000 }).toBe(2); // room, and ann's own channel
      expect(users).toEqual(['ann']);
      await page.evaluate(() => (window as unknown as { client: { publish(c: string, t: string, d: unknown): Promise<unknown> } }).client.publish('room', 'said', 'from the page'));
      await hub.publish('room', 'said', 'from the server');
      await expect.poll(() => page.evaluate(() => (window as unknown as { state: PageState }).state.got), { timeout: 10_000 })
        .toEqual([{ type: 'said', data: 'from the page' }, { type: 'said', data: 'from the server' }]);
      expect(await page.evaluate(() => (window as unknown as { state: PageState }).state.errors)).toEqual([]);
    } finally {
      await context.close();
      await stop();
    }
  }, 60_000);

  it('gets no stream on an origin the hub does not allow', async () => {
    const { hub, hubOrigin, stop } = await twoOrigins();
    const other: Server = createServer((_request, response) => { response.writeHead(200, { 'Content-Type': 'text/html' }); response.end(`<!doctype html><title>other</title><script>${bundle}</script>`); });
    const otherOrigin = await listen(other);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${hubOrigin}/login`);
      await page.goto(`${otherOrigin}/`);
      await page.evaluate((hubOrigin) => {
        const w = window as unknown as { livehub: typeof import('../../client/index.js'); statuses: string[] };
        w.statuses = [];
        const client = new w.livehub.LiveClient(`${hubOrigin.replace('http', 'ws')}/ws`, { transport: 'sse', reconnect: { delay: 50 } });
        client.events.on('status', (status: string) => w.statuses.push(status));
        client.subscribe('room');
      }, hubOrigin);
      await expect.poll(() => page.evaluate(() => (window as unknown as { statuses: string[] }).statuses.filter((s) => s === 'reconnecting').length), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, 500)); // more attempts, none of them let in
      expect(await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses)).not.toContain('open');
      expect(hub.info().clients).toBe(0);
    } finally {
      await context.close();
      await stop();
      await closeServer(other);
    }
  }, 60_000);
});
