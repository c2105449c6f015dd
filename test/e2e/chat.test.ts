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

async function openChat(port: number): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await waitConnected(page);
  return page;
}

function waitConnected(page: Page, timeout = 10_000) {
  return page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout });
}

async function say(page: Page, text: string) {
  await page.fill('input[name="body"]', text);
  await page.click('button[type="submit"]');
}

function messages(page: Page) {
  return page.locator('[data-testid="message"]').allInnerTexts();
}

describe('the example chat in two Chromium pages', () => {
  it('shows a message posted in one page in the other within a second, then survives a server restart', async () => {
    const alice = await openChat(server.port);
    const bob = await openChat(server.port);

    await say(alice, 'hello from alice');
    await bob.getByText('hello from alice').waitFor({ timeout: 1000 });
    await alice.getByText('hello from alice').waitFor({ timeout: 1000 });

    // A page opened later gets the history from its Inertia props, once.
    const carol = await openChat(server.port);
    expect((await messages(carol)).filter((m) => m.includes('hello from alice'))).toHaveLength(1);
    await carol.context().close();

    // Kill the server hard, start it again on the same port: both pages reconnect and keep chatting.
    const { port } = server;
    await kill(server.child, 'SIGKILL');
    await alice.locator('[data-testid="status"]:not([data-status="open"])').waitFor({ timeout: 5000 });
    server = await startChat(port);
    await Promise.all([waitConnected(alice, 30_000), waitConnected(bob, 30_000)]);

    await say(bob, 'bob after the restart');
    await alice.getByText('bob after the restart').waitFor({ timeout: 1000 });
    await say(alice, 'alice after the restart');
    await bob.getByText('alice after the restart').waitFor({ timeout: 1000 });
    for (const page of [alice, bob]) {
      const texts = await messages(page);
      expect(texts.filter((m) => m.includes('bob after the restart'))).toHaveLength(1);
      expect(texts.filter((m) => m.includes('alice after the restart'))).toHaveLength(1);
    }
  }, 90_000);
});

describe('the example chat through a network outage', () => {
  it('shows every message once after the page goes offline and back, and sends what was typed offline', async () => {
    const alice = await openChat(server.port);
    const bob = await openChat(server.port);
    const base = `http://127.0.0.1:${server.port}`;
    const sent: string[] = [];
    let stop = false;
    const flow = (async () => {
      for (let i = 0; !stop && i < 80; i++) {
        const body = `flow ${i}`;
        await fetch(`${base}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'server', body }) });
        sent.push(body);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    await new Promise((r) => setTimeout(r, 600));
    await alice.context().setOffline(true);
    await alice.locator('[data-testid="status"]:not([data-status="open"])').waitFor({ timeout: 10_000 });
    await say(alice, 'typed while offline 1');
    await say(alice, 'typed while offline 2');
    await alice.locator('[data-testid="pending"]').waitFor({ timeout: 2000 });
    await new Promise((r) => setTimeout(r, 800));
    await alice.context().setOffline(false);
    await waitConnected(alice, 15_000);
    await flow;
    stop = true;
    for (const page of [alice, bob]) {
      await page.getByText('typed while offline 2').waitFor({ timeout: 5000 });
      await page.getByText(sent[sent.length - 1]!, { exact: true }).waitFor({ timeout: 5000 });
      const bodies = await page.locator('[data-testid="message"] span').allInnerTexts();
      for (const body of [...sent, 'typed while offline 1', 'typed while offline 2']) {
        expect(bodies.filter((b) => b === body).length, body).toBe(1);
      }
    }
    await alice.context().close();
    await bob.context().close();
  }, 90_000);
});

describe('the example chat as two nodes sharing Redis', () => {
  it('lets pages on different nodes chat, see each other online and see each other typing', async () => {
    const { sharedRedisUrl } = await import('../redis.js');
    const env = { REDIS_URL: await sharedRedisUrl(), LIVEHUB_PREFIX: `lhe2e-${Date.now().toString(36)}` };
    const [one, two] = await Promise.all([startChat(0, env), startChat(0, env)]);
    try {
      const page = async (port: number, name: string) => {
        const context = await browser.newContext();
        await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
        const p = await context.newPage();
        await p.goto(`http://127.0.0.1:${port}/`);
        await waitConnected(p);
        return p;
      };
      const alice = await page(one.port, 'alice');
      const bob = await page(two.port, 'bob');
      await alice.locator('[data-testid="online"]', { hasText: 'bob' }).waitFor({ timeout: 10_000 });
      await bob.locator('[data-testid="online"]', { hasText: 'alice' }).waitFor({ timeout: 10_000 });

      await alice.locator('input[name="body"]').pressSequentially('hello bo', { delay: 20 });
      await bob.locator('[data-testid="typing"]', { hasText: 'alice is typing' }).waitFor({ timeout: 5000 });
      await alice.locator('input[name="body"]').pressSequentially('b');
      await alice.click('button[type="submit"]');
      await bob.getByText('hello bob', { exact: true }).waitFor({ timeout: 2000 });
      await bob.locator('[data-testid="typing"]', { hasText: 'alice is typing' }).waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});
      expect(await bob.locator('[data-testid="typing"]').innerText()).not.toContain('alice');

      await say(bob, 'hi alice, from node two');
      await alice.getByText('hi alice, from node two', { exact: true }).waitFor({ timeout: 2000 });
      await alice.context().close();
      await bob.locator('[data-testid="online"]', { hasText: 'alice' }).waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
      expect(await bob.locator('[data-testid="online"]').innerText()).not.toContain('alice');
      await bob.context().close();
    } finally {
      await Promise.all([kill(one.child), kill(two.child)]);
    }
  }, 90_000);
});

describe('the example chat over Server-Sent Events', () => {
  it('lets a page on ?transport=sse and a page on WebSocket chat, see each other online and typing', async () => {
    const requests: string[] = [];
    const page = async (query: string, name: string) => {
      const context = await browser.newContext();
      await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
      const p = await context.newPage();
      p.on('request', (r) => requests.push(`${query} ${r.method()} ${new URL(r.url()).pathname}`));
      await p.goto(`http://127.0.0.1:${server.port}/${query}`);
      await waitConnected(p);
      return p;
    };
    const sse = await page('?transport=sse', 'sara');
    const ws = await page('', 'will');
    try {
      await sse.locator('[data-testid="online"]', { hasText: 'will' }).waitFor({ timeout: 10_000 });
      await ws.locator('[data-testid="online"]', { hasText: 'sara' }).waitFor({ timeout: 10_000 });
      await sse.locator('input[name="body"]').pressSequentially('over sse', { delay: 20 });
      await ws.locator('[data-testid="typing"]', { hasText: 'sara is typing' }).waitFor({ timeout: 5000 });
      await sse.click('button[type="submit"]');
      await ws.getByText('over sse', { exact: true }).waitFor({ timeout: 3000 });
      await say(ws, 'over websocket');
      await sse.getByText('over websocket', { exact: true }).waitFor({ timeout: 3000 });
      // The SSE page streams from /events and sends its commands there; the other page does neither.
      expect(requests).toContain('?transport=sse GET /events');
      expect(requests).toContain('?transport=sse POST /events');
      expect(requests.filter((r) => r.startsWith(' ') && r.endsWith('/events'))).toEqual([]);
    } finally {
      await sse.context().close();
      await ws.context().close();
    }
  }, 60_000);
});

describe('the example chat after a gap', () => {
  it('replaces its list from the server in order and says messages were skipped when it was away longer than the history covers', async () => {
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
      const alice = await openChat(chat.port);
      await alice.getByText('n3', { exact: true }).waitFor({ timeout: 5000 });
      expect(await alice.locator('[data-testid="gap-notice"]').count()).toBe(0);

      await alice.context().setOffline(true);
      await alice.locator('[data-testid="status"]:not([data-status="open"])').waitFor({ timeout: 10_000 });
      for (let i = 0; i < 30; i++) await postNext();
      await alice.context().setOffline(false);
      // Live messages keep coming while the page reconnects and reloads its list.
      let stop = false;
      const flow = (async () => {
        while (!stop && posted < 80) {
          await postNext();
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      await waitConnected(alice, 15_000);
      await alice.locator('[data-testid="gap-notice"]').waitFor({ timeout: 5000 });
      stop = true;
      await flow;
      await alice.getByText(`n${posted}`, { exact: true }).waitFor({ timeout: 5000 });
      // A contiguous run ending at the last message, in the order they were posted: nothing old
      // appended after newer ones, nothing missing after the first one shown.
      const shown = (await alice.locator('[data-testid="message"] span').allInnerTexts()).map((b) => Number(b.slice(1)));
      const first = shown[0]!;
      expect(shown).toEqual(Array.from({ length: posted - first + 1 }, (_, i) => first + i));
      expect(first).toBeGreaterThan(3);
      await alice.context().close();
    } finally {
      await kill(chat.child);
    }
  }, 90_000);
});
