import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill, launchChromium, startChat } from './browser.js';

let browser: Browser;
let server: { child: ChildProcess; port: number };

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startChat()]);
});
afterAll(async () => {
  await browser?.close();
  if (server) await kill(server.child);
});

/** A page of the example chat (`/` the Vue page, `/react` the React page) under a chosen name. */
async function open(path: string, name: string, port = server.port): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
  const page = await context.newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  await page.goto(`http://127.0.0.1:${port}${path}`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 10_000 }).catch((error: Error) => {
    throw new Error(`${path} did not connect: ${failures.join('; ') || error.message}`);
  });
  return page;
}

async function say(page: Page, text: string) {
  await page.fill('input[name="body"]', text);
  await page.click('button[type="submit"]');
}

const online = (page: Page, name: string) => page.locator('[data-testid="online"]', { hasText: name });
const typing = (page: Page, name: string) => page.locator('[data-testid="typing"]', { hasText: `${name} is typing` });

describe('the example chat\'s React page with its Vue page', () => {
  it('serves the React page at /react as HTML loading the React bundle', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/react`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toMatch(/<script type="module" src="\/assets\/react-[\w-]+\.js"><\/script>/);
    expect(html).toMatch(/<link rel="stylesheet" href="\/assets\/[\w-]+\.css">/); // the chat stylesheet both pages share
    expect(html).not.toContain('data-page');
  });

  it('shows the history to a React page opened after a message was posted, once', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const res = await fetch(`${base}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'server', body: 'posted before the page' }) });
    expect(res.status).toBe(201);
    const page = await open('/react', 'rita');
    try {
      await page.getByText('posted before the page', { exact: true }).waitFor({ timeout: 5000 });
      await say(page, 'after the history');
      await page.getByText('after the history', { exact: true }).waitFor({ timeout: 3000 });
      const bodies = await page.locator('[data-testid="message"] span').allInnerTexts();
      expect(bodies.filter((b) => b === 'posted before the page')).toHaveLength(1);
      expect(bodies.filter((b) => b === 'after the history')).toHaveLength(1);
    } finally {
      await page.context().close();
    }
  }, 60_000);

  it('lets a React page and a Vue page chat both ways, see each other online and see each other typing', async () => {
    const react = await open('/react', 'rosa');
    const vue = await open('/', 'victor');
    try {
      await online(react, 'victor').waitFor({ timeout: 10_000 });
      await online(vue, 'rosa').waitFor({ timeout: 10_000 });

      // React types: Vue sees it, with the name from presence; sending stops it.
      await react.locator('input[name="body"]').pressSequentially('hello from rea', { delay: 20 });
      await typing(vue, 'rosa').waitFor({ timeout: 5000 });
      await react.locator('input[name="body"]').pressSequentially('ct');
      await react.click('button[type="submit"]');
      await vue.getByText('hello from react', { exact: true }).waitFor({ timeout: 3000 });
      await react.getByText('hello from react', { exact: true }).waitFor({ timeout: 3000 });
      await typing(vue, 'rosa').waitFor({ state: 'detached', timeout: 5000 });
      expect(await vue.locator('[data-testid="message"]', { hasText: 'hello from react' }).innerText()).toContain('rosa');

      // Vue types: React sees it; then Vue's message reaches React.
      await vue.locator('input[name="body"]').pressSequentially('hello from vu', { delay: 20 });
      await typing(react, 'victor').waitFor({ timeout: 5000 });
      await vue.locator('input[name="body"]').pressSequentially('e');
      await vue.click('button[type="submit"]');
      await react.getByText('hello from vue', { exact: true }).waitFor({ timeout: 3000 });
      await typing(react, 'victor').waitFor({ state: 'detached', timeout: 5000 });
      expect(await react.locator('[data-testid="message"]', { hasText: 'hello from vue' }).innerText()).toContain('victor');
      for (const page of [react, vue]) {
        const bodies = await page.locator('[data-testid="message"] span').allInnerTexts();
        expect(bodies.filter((b) => b === 'hello from react')).toHaveLength(1);
        expect(bodies.filter((b) => b === 'hello from vue')).toHaveLength(1);
      }

      // The Vue page leaves: the React page no longer shows it online.
      await vue.context().close();
      await online(react, 'victor').waitFor({ state: 'detached', timeout: 10_000 });
    } finally {
      await react.context().close();
      await vue.context().close().catch(() => {});
    }
  }, 90_000);
});

describe('the example chat\'s React page after a gap', () => {
  it('says messages were skipped and replaces its list from the server in order when it was away longer than the history covers', async () => {
    // A history of at most 8 messages (MAX_HISTORY): 30 while offline are more than that.
    const chat = await startChat(0, { MAX_HISTORY: '8' });
    try {
      const base = `http://127.0.0.1:${chat.port}`;
      let posted = 0;
      const postNext = async () => {
        const body = `n${++posted}`;
        const res = await fetch(`${base}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'server', body }) });
        expect(res.status).toBe(201);
      };
      for (let i = 0; i < 3; i++) await postNext();
      const page = await open('/react', 'gina', chat.port);
      await page.getByText('n3', { exact: true }).waitFor({ timeout: 5000 });
      expect(await page.locator('[data-testid="gap-notice"]').count()).toBe(0);

      await page.context().setOffline(true);
      await page.locator('[data-testid="status"]:not([data-status="open"])').waitFor({ timeout: 10_000 });
      for (let i = 0; i < 30; i++) await postNext();
      await page.context().setOffline(false);
      // Live messages keep coming while the page reconnects and reloads its list.
      let stop = false;
      const flow = (async () => {
        while (!stop && posted < 80) {
          await postNext();
          await new Promise((r) => setTimeout(r, 25)); // the pace of a live chat while the page catches up
        }
      })();
      await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 15_000 });
      await page.locator('[data-testid="gap-notice"]').waitFor({ timeout: 5000 });
      stop = true;
      await flow;
      await page.getByText(`n${posted}`, { exact: true }).waitFor({ timeout: 5000 });
      // A contiguous run ending at the last message, in the order they were posted: no silent hole.
      const shown = (await page.locator('[data-testid="message"] span').allInnerTexts()).map((b) => Number(b.slice(1)));
      const first = shown[0]!;
      expect(shown).toEqual(Array.from({ length: posted - first + 1 }, (_, i) => first + i));
      expect(first).toBeGreaterThan(3);
      // The user dismisses the notice.
      await page.locator('[data-testid="gap-notice"] button').click();
      await page.locator('[data-testid="gap-notice"]').waitFor({ state: 'detached', timeout: 5000 });
      await page.context().close();
    } finally {
      await kill(chat.child);
    }
  }, 90_000);
});
