import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill, startChat } from '../e2e/browser.js';
import { sharedRedisUrl } from '../redis.js';
import { launchForWebrtc } from './browser.js';
import { framesDecoded, recordPeerConnections } from './stats.js';

/**
 * The example chat's call page (`/call?room=`) in Chromium with a fake camera: two pages see each
 * other's video, chat over their data channels, and share the room's own chat with its history.
 */

let browser: Browser;
let server: { child: ChildProcess; port: number };
beforeAll(async () => {
  [browser, server] = await Promise.all([launchForWebrtc(), startChat()]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  if (server) await kill(server.child);
});

const base = () => `http://127.0.0.1:${server.port}`;

/** The call page of `room` under the chosen name (on the server at `port`), once its connection is open. */
async function open(room: string, name: string, port = server.port): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
  await recordPeerConnections(context);
  const page = await context.newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  await page.goto(`http://127.0.0.1:${port}/call?room=${room}`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 15_000 }).catch((error: Error) => {
    throw new Error(`the call page did not connect: ${failures.join('; ') || error.message}`);
  });
  return page;
}

const lines = (page: Page, list: 'direct' | 'room-messages') => page.locator(`[data-testid="${list}"] li`).allInnerTexts();

describe('the example\'s call page', () => {
  it('connects two pages peer to peer: each decodes the other\'s video, they chat over the data channel, and the room chat keeps its history', async () => {
    const ann = await open('standup', 'ann');
    await ann.fill('input[name="body"]', 'before bob came');
    await ann.press('input[name="body"]', 'Enter');
    await expect.poll(() => lines(ann, 'room-messages')).toEqual(['ann before bob came']);

    const bob = await open('standup', 'bob');
    // The room chat's history, read with the page: the message from before bob came is there once.
    expect(await lines(bob, 'room-messages')).toEqual(['ann before bob came']);
    for (const page of [ann, bob]) {
      await page.locator('[data-testid="tile"][data-state="connected"]').waitFor({ timeout: 20_000 });
      expect(await page.locator('[data-testid="tile"]').count()).toBe(2);
    }
    // Real video both ways: frames arrived and were decoded.
    await expect.poll(() => framesDecoded(ann), { timeout: 20_000 }).toEqual([expect.any(Number)]);
    await expect.poll(async () => (await framesDecoded(ann))[0]! > 0, { timeout: 20_000 }).toBe(true);
    await expect.poll(async () => (await framesDecoded(bob))[0]! > 0, { timeout: 20_000 }).toBe(true);
    expect(await bob.locator('[data-testid="tile"]:not([data-peer="me"]) video').evaluate((video: HTMLVideoElement) => video.srcObject !== null)).toBe(true);

    // Peer to peer: the data channel carries it, the hub never sees it.
    await expect.poll(() => bob.locator('input[name="direct"] + button').isEnabled(), { timeout: 15_000 }).toBe(true);
    await bob.fill('input[name="direct"]', 'hi ann, straight to you');
    await bob.press('input[name="direct"]', 'Enter');
    await expect.poll(() => lines(ann, 'direct')).toEqual(['bob hi ann, straight to you']);
    expect(await lines(bob, 'direct')).toEqual(['bob hi ann, straight to you']);

    // Each tile is named by the peer (it said its name over the data channel).
    await expect.poll(() => ann.locator('[data-testid="tile"]:not([data-peer="me"]) figcaption').innerText()).toBe('bob · connected');

    // The room chat, live beside the call.
    await bob.fill('input[name="body"]', 'and one for the room');
    await bob.press('input[name="body"]', 'Enter');
    await expect.poll(() => lines(ann, 'room-messages')).toEqual(['ann before bob came', 'bob and one for the room']);

    // A page that leaves is closed on the other.
    await bob.context().close();
    await expect.poll(() => ann.locator('[data-testid="tile"]').count(), { timeout: 20_000 }).toBe(1);
    await ann.context().close();
  }, 90_000);

  it('connects two pages on two nodes sharing Redis: each decodes the other\'s video and gets the other\'s data-channel message', async () => {
    const env = { REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: `lh-call-${Date.now().toString(36)}` };
    const [one, two] = await Promise.all([startChat(0, env), startChat(0, env)]);
    try {
      const ann = await open('nodes', 'ann', one.port);
      const bob = await open('nodes', 'bob', two.port);
      for (const page of [ann, bob]) {
        await expect.poll(async () => (await framesDecoded(page))[0]! > 0, { timeout: 30_000 }).toBe(true);
        await expect.poll(() => page.locator('input[name="direct"] + button').isEnabled(), { timeout: 15_000 }).toBe(true);
      }
      await ann.fill('input[name="direct"]', 'across nodes');
      await ann.press('input[name="direct"]', 'Enter');
      await expect.poll(() => lines(bob, 'direct')).toEqual(['ann across nodes']);
      await Promise.all([ann.context().close(), bob.context().close()]);
    } finally {
      await Promise.all([kill(one.child), kill(two.child)]);
    }
  }, 90_000);

  it('links to the call from the chat page, sends a bare /call to the lobby, and refuses a bad room name with 400', async () => {
    const chat = await browser.newPage();
    await chat.goto(`${base()}/`);
    expect(await chat.locator('[data-testid="call-link"]').getAttribute('href')).toBe('/call?room=lobby');
    await chat.close();
    // Both pages link the chat's shared stylesheet (a chunk both import), and the call page its own.
    for (const path of ['/', '/call?room=lobby']) {
      const hrefs = [...(await (await fetch(`${base()}${path}`)).text()).matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((m) => m[1]!);
      const sheets = await Promise.all(hrefs.map(async (href) => (await fetch(`${base()}${href}`)).text()));
      expect(sheets.some((css) => css.includes('.messages')), `${path} links chat.css`).toBe(true);
      if (path !== '/') expect(sheets.some((css) => css.includes('.tiles'))).toBe(true);
    }
    const bare = await fetch(`${base()}/call`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/call?room=lobby');
    const bad = await fetch(`${base()}/call?room=${encodeURIComponent('no spaces')}`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_room');
  });
});
