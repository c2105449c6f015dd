// The documentation's pictures of running apps, taken in Chromium: docs/images/example-chat.png (the
// full example chat in two windows) and docs/images/status-page.png (its status page after some
// traffic). `npm run docs:screenshots` (after `npm run build:example`) takes them again.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { kill, launchChromium, startChat } from '../test/e2e/browser.js';

const images = fileURLToPath(new URL('../docs/images/', import.meta.url));

async function openAs(browser: Browser, base: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 520, height: 560 }, deviceScaleFactor: 1 });
  await context.addInitScript((n) => localStorage.setItem('livehub.author', n), name);
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.locator('[data-testid="status"][data-status="open"]').waitFor({ timeout: 15_000 });
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('input[name="body"]', text);
  await page.click('button[type="submit"]');
  await page.getByText(text).first().waitFor();
}

/** Two screenshots side by side, as one picture (a page showing both, screenshotted). */
async function sideBySide(browser: Browser, left: Buffer, right: Buffer, file: string): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1060, height: 580 }, deviceScaleFactor: 1 });
  const img = (png: Buffer) => `<img src="data:image/png;base64,${png.toString('base64')}" style="border:1px solid #ccc">`;
  await page.setContent(`<body style="margin:9px;display:flex;gap:10px;background:#f4f4f5">${img(left)}${img(right)}</body>`);
  writeFileSync(file, await page.screenshot());
  await page.close();
}

const key = 'a-key-for-the-screenshot-only';
const [browser, server] = await Promise.all([launchChromium(), startChat(0, { LIVEHUB_STATUS_KEY: key })]);
try {
  const base = `http://127.0.0.1:${server.port}`;
  const alice = await openAs(browser, base, 'alice');
  const bob = await openAs(browser, base, 'bob');
  await alice.locator('[data-testid="online"]', { hasText: 'bob' }).waitFor();
  await say(alice, 'Hi Bob! The build is green again.');
  await say(bob, 'Great, I will deploy after lunch.');
  await say(alice, 'Ping me if the status page looks odd.');
  await bob.locator('input[name="body"]').pressSequentially('On it', { delay: 30 });
  await alice.locator('[data-testid="typing"]', { hasText: 'bob' }).waitFor();
  await sideBySide(browser, await alice.screenshot(), await bob.screenshot(), `${images}example-chat.png`);

  const status = await (await browser.newContext({ viewport: { width: 1000, height: 720 }, deviceScaleFactor: 1 })).newPage();
  await status.goto(`${base}/status?key=${key}`);
  // Six seconds of traffic, so the rates and the chart have something to show: elapsed time is the point.
  for (const end = Date.now() + 6000; Date.now() < end;) {
    await fetch(`${base}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'server', body: 'update' }) });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  writeFileSync(`${images}status-page.png`, await status.screenshot());
  console.log(`wrote ${images}example-chat.png and ${images}status-page.png`);
} finally {
  await browser.close();
  await kill(server.child);
}
