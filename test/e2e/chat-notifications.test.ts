import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../engine/postgres-db.js';
import { kill, launchChromium, startChat } from './browser.js';

let browser: Browser;
let db: Awaited<ReturnType<typeof testDatabase>>;
let server: { child: ChildProcess; port: number } | null = null;
const folder = mkdtempSync(join(tmpdir(), 'livehub-notifications-'));

beforeAll(async () => {
  [browser, db] = await Promise.all([launchChromium(), testDatabase()]);
});
afterAll(async () => {
  await browser?.close();
  if (server) await kill(server.child);
  await db?.drop();
  rmSync(folder, { recursive: true, force: true });
});

/** The example in JWT mode on PostgreSQL, with logins that outlive the process (a fixed secret and a file of token versions). */
function start(port = 0) {
  return startChat(port, {
    DATABASE_URL: db.url, AUTH: 'jwt', JWT_SECRET: 'example-secret-that-is-long-enough-32b', TOKEN_VERSIONS_FILE: join(folder, 'versions.json'),
  });
}

/** A browser context logged in as `name` (its pages share the cookie: devices of one user). */
async function loggedIn(name: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  const answer = await context.request.post(`http://127.0.0.1:${server!.port}/login`, { data: { name } });
  expect(answer.status()).toBe(204);
  return context;
}

async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server!.port}/`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 30_000 });
  return page;
}

async function post(context: BrowserContext, body: string): Promise<void> {
  const answer = await context.request.post(`http://127.0.0.1:${server!.port}/messages`, { data: { body } });
  expect(answer.status()).toBe(201);
}

const count = (page: Page, n: number) => page.locator('[data-testid="unread-count"]', { hasText: new RegExp(`^${n}$`) }).waitFor({ timeout: 15_000 });

describe('the example chat\'s notifications bell on PostgreSQL', () => {
  it('shows one unread count on two pages of a user, reads and deletes on both, and keeps it all across a restart', async () => {
    server = await start();
    const ann = await loggedIn('ann');
    const bob = await loggedIn('bob');
    const [phone, laptop] = [await openPage(ann), await openPage(ann)];
    await Promise.all([count(phone, 0), count(laptop, 0)]);

    await post(bob, '@ann first mention');
    await post(bob, 'no mention here');
    await post(bob, '@ann second mention');
    await Promise.all([count(phone, 2), count(laptop, 2)]);

    // notification_read on the phone: the first one (and any older) read, on both pages.
    await phone.click('[data-testid="bell"]');
    await phone.locator('[data-testid="notification"]', { hasText: 'first mention' }).locator('a').click();
    await Promise.all([count(phone, 1), count(laptop, 1)]);
    await expect.poll(() => phone.locator('[data-testid="notification"][data-read="false"]').allInnerTexts()).toEqual([expect.stringContaining('second mention')]);

    // notification_deleted on the laptop: gone from both lists, and read.
    await laptop.click('[data-testid="bell"]');
    await laptop.locator('[data-testid="notification"]', { hasText: 'second mention' }).locator('[data-testid="delete"]').click();
    await Promise.all([count(phone, 0), count(laptop, 0)]);
    await phone.locator('[data-testid="notification"]', { hasText: 'second mention' }).waitFor({ state: 'detached', timeout: 15_000 });
    expect(await phone.locator('[data-testid="notification"]').allInnerTexts()).toEqual([expect.stringContaining('first mention')]);

    await post(bob, '@ann third mention, before the restart');
    await Promise.all([count(phone, 1), count(laptop, 1)]);

    // Kill the server, start it again on the same port: history and the unread count are back.
    const { port } = server;
    await kill(server.child, 'SIGKILL');
    server = null;
    server = await start(port);
    await phone.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 30_000 });
    await count(phone, 1);
    const tablet = await openPage(ann);
    await count(tablet, 1);
    await tablet.click('[data-testid="bell"]');
    await expect.poll(() => tablet.locator('[data-testid="notification"]').allInnerTexts())
      .toEqual([expect.stringContaining('third mention'), expect.stringContaining('first mention')]);
    const bodies = await tablet.locator('[data-testid="message"] span').allInnerTexts();
    expect(bodies).toEqual(['@ann first mention', 'no mention here', '@ann second mention', '@ann third mention, before the restart']);

    // After the restart the pages still share the count.
    await tablet.click('[data-testid="read-all"]');
    await Promise.all([count(phone, 0), count(laptop, 0), count(tablet, 0)]);
    await ann.close();
    await bob.close();
  }, 180_000);
});
