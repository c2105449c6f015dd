import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatServers, FailingEngine } from '../examples/chat.js';
import { launchChromium } from './browser.js';

/** The example chat page sends a message the server could not publish again, with the same id, until it is in. */

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });
const chats = chatServers();

async function openChat(base: string, name: string): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 10_000 });
  return page;
}

describe('the example chat page when the server cannot publish', () => {
  it('says it will try again, sends the message again with the same id once the server can publish, and shows it once', async () => {
    const engine = new FailingEngine('chat');
    const chat = await chats.start({ hub: { engine, logger: false } });
    const alice = await openChat(chat.base, 'alice');
    const bob = await openChat(chat.base, 'bob');
    try {
      engine.failing = true;
      await alice.fill('input[name="body"]', 'sent while the store is down');
      await alice.click('button[type="submit"]');
      await alice.locator('[role="alert"]', { hasText: /Not sent yet \(unavailable: .*\): trying again in \d+ s/ }).waitFor({ timeout: 10_000 });
      engine.failing = false;

      for (const page of [alice, bob]) {
        await page.getByText('sent while the store is down', { exact: true }).waitFor({ timeout: 10_000 });
      }
      await alice.locator('[role="alert"]').waitFor({ state: 'detached', timeout: 5000 });
      const { messages } = await (await fetch(`${chat.base}/messages`)).json() as { messages: Array<{ body: string; author: string }> };
      expect(messages.filter((m) => m.body === 'sent while the store is down')).toEqual([expect.objectContaining({ author: 'alice' })]);
      for (const page of [alice, bob]) {
        const bodies = await page.locator('[data-testid="message"] span').allInnerTexts();
        expect(bodies.filter((b) => b === 'sent while the store is down')).toHaveLength(1);
      }
    } finally {
      await alice.context().close();
      await bob.context().close();
    }
  }, 60_000);
});
