import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateProxy } from '../client/gate-proxy.js';
import { kill, launchChromium, startChat } from './browser.js';

/**
 * The example chat's status badge when its link goes silent (a proxy between the page and the server
 * stops forwarding, closing nothing): it says so once a heartbeat is late, and the page is back on a
 * new connection, saying "Connected", within 10 s.
 */

let browser: Browser;
let server: { child: ChildProcess; port: number };

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startChat()]);
});
afterAll(async () => {
  await browser?.close();
  if (server) await kill(server.child);
});

describe('the example chat\'s status badge', () => {
  it.each(['/', '/?transport=sse', '/react'])('on %s says "Checking connection…" when the link goes silent, then "Connected" again on a new connection within 10 s', async (path) => {
    const proxy = await gateProxy(server.port, () => 'forward');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${proxy.port}${path}`);
      const badge = page.locator('[data-testid="status"]');
      await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 10_000 });
      expect(await badge.innerText()).toBe('Connected');

      proxy.silence();
      const silent = Date.now();
      await page.locator('[data-testid="status"][data-stale="true"]').waitFor({ timeout: 7500 });
      expect(await badge.innerText()).toBe('Checking connection…');
      expect(await badge.getAttribute('data-status')).toBe('open');
      await page.locator('[data-testid="status"][data-status="open"][data-stale="false"]').waitFor({ timeout: 10_000 - (Date.now() - silent) });
      expect(Date.now() - silent).toBeLessThan(10_000);
      expect(await badge.innerText()).toBe('Connected');
    } finally {
      await context.close();
      await proxy.close();
    }
  }, 40_000);
});
