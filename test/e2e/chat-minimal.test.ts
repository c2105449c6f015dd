import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill, launchChromium, startExample } from './browser.js';

// examples/chat-minimal as `npm run start:minimal` runs it, in two Chromium pages.

let browser: Browser;
let server: { child: ChildProcess; port: number };

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startExample('examples/chat-minimal/server.ts')]);
});
afterAll(async () => {
  await browser?.close();
  if (server) await kill(server.child);
});

async function openChat(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`http://127.0.0.1:${server.port}/`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 20_000 });
  return page;
}

async function say(page: Page, text: string) {
  await page.fill('input[name="body"]', text);
  await page.click('button[type="submit"]');
}

const messages = (page: Page) => page.locator('[data-testid="message"]').allInnerTexts();

describe('the minimal example chat in two Chromium pages', () => {
  it('shows what each page says in both pages, once, with its author', async () => {
    const [alice, bob] = await Promise.all([openChat(), openChat()]);
    const aliceName = (await alice.getByTestId('status').innerText()).match(/guest-\w+/)?.[0];
    expect(aliceName).toBeTruthy();

    await say(alice, 'hello from alice');
    await bob.getByText('hello from alice').waitFor({ timeout: 2000 });
    await say(bob, 'hi alice');
    await alice.getByText('hi alice').waitFor({ timeout: 2000 });
    // bob's reply came after alice's message: by then bob has everything alice sent, once each.
    await bob.getByText('hi alice').waitFor({ timeout: 2000 });

    for (const page of [alice, bob]) {
      expect(await messages(page)).toEqual([`${aliceName} hello from alice`, expect.stringMatching(/^guest-\w+ hi alice$/)]);
    }
  }, 60_000);
});
