import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perTest } from '../helpers.js';
import { cuttingProxy } from '../transport/sse/cut-proxy.js';
import { launchChromium } from './browser.js';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

const { cleanup, start } = perTest();

/** What the page's EventSource saw: its failures, replies (with the failures before each) and messages. */
interface Seen { errors: number; replies: Array<{ after: number; reply: any }>; messages: any[] }

/** Opens an EventSource in the page, recording what it sees in `window.seen`. */
function open(page: Page, url: string): Promise<void> {
  return page.evaluate((url) => {
    const seen = { errors: 0, replies: [] as any[], messages: [] as any[] };
    (window as any).seen = seen;
    const source = new EventSource(url);
    (window as any).source = source;
    source.onerror = () => { seen.errors++; };
    source.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === 'm' || data.type === 'done') seen.messages.push(data);
      else seen.replies.push({ after: seen.errors, reply: data });
    };
  }, url);
}

describe("Chromium's EventSource through a cut connection", () => {
  it('recovers every message or reports a gap when the stream is cut between, or inside, any two events of a resume\'s answer', async () => {
    const { hub, port } = await start({ logger: false, eventSourceRetry: 5, history: { size: 100, ttl: 60_000 } }, {
      attach: { path: '/ws', eventsPath: '/events' },
      handler: () => (_request, response) => { response.writeHead(200, { 'Content-Type': 'text/html' }); response.end('<!doctype html><title>sse</title>'); },
    });
    const proxy = await cuttingProxy(port);
    cleanup(proxy.close);
    const page = await browser.newPage();
    cleanup(() => page.close());
    await page.goto(`${proxy.base}/`);

    /** Two channels with two messages each, and the stream URL that resumes both from before them. */
    const channelsOf = async (name: string) => {
      const channels = [`a-${name}`, `b-${name}`];
      let id = '';
      const offsets = new Map<string, number[]>();
      for (const channel of channels) {
        const first = await hub.publish(channel, 'm', 1);
        id += `${id ? ' ' : ''}${channel} ${first.offset - 1} ${first.epoch}`;
        offsets.set(channel, [first.offset, (await hub.publish(channel, 'm', 2)).offset]);
      }
      return { channels, offsets, url: `/events?events=unnamed&${channels.map((c) => `channel=${c}`).join('&')}&lastEventId=${encodeURIComponent(id)}` };
    };

    // Where the events of an uncut answer end, and their middles: the cuts to make.
    const reference = await channelsOf('reference');
    await open(page, `${reference.url}&record=reference`);
    await expect.poll(() => page.evaluate(() => (window as any).seen.messages.length)).toBe(4);
    await page.evaluate(() => (window as any).source.close());
    const text = proxy.recorded('reference').toString('latin1');
    const cuts: number[] = [];
    for (let at = text.indexOf('\n\n') + 2, next; (next = text.indexOf('\n\n', at)) > 0; at = next + 2) cuts.push(at, Math.floor((at + next) / 2));
    cuts.push(text.length);
    expect(cuts.length).toBeGreaterThanOrEqual(13); // after the stream event: two answers and four messages

    const faults: string[] = [];
    for (const cut of cuts) {
      const run = await channelsOf(String(cut).padStart('reference'.length, '0')); // as long as the reference
      await open(page, `${run.url}&cut=${cut}`);
      const seen = () => page.evaluate(() => (window as any).seen as Seen);
      // Cut, reconnected, and both channels answered on the new connection.
      await expect.poll(async () => {
        const s = await seen();
        return s.errors >= 1 && run.channels.every((c) => s.replies.some((r) => r.after === s.errors && r.reply.channel === c));
      }, { timeout: 10_000 }).toBe(true);
      for (const channel of run.channels) await hub.publish(channel, 'done', null);
      await expect.poll(async () => (await seen()).messages.filter((m) => m.type === 'done').length, { timeout: 10_000 }).toBe(2);
      const s = await seen();
      for (const channel of run.channels) {
        const answers = s.replies.map((r) => r.reply).filter((reply) => reply.channel === channel);
        if (answers.some((reply) => reply.recovered === false)) continue;
        const got = s.messages.filter((m) => m.channel === channel && m.type === 'm').map((m) => m.offset);
        if (JSON.stringify(got) !== JSON.stringify(run.offsets.get(channel))) faults.push(`cut after ${cut} bytes: ${channel} got [${got}], answers ${JSON.stringify(answers)}`);
      }
      await page.evaluate(() => (window as any).source.close());
    }
    expect(faults).toEqual([]);
  }, 90_000);
});
