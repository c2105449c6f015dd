import { describe, expect, it } from 'vitest';
import { HEARTBEAT_ALLOWANCE, PROBE_TIMEOUT } from '../../client/heartbeat.js';
import { DEAD_LINK_DETECTION, DEFAULTS } from '../../pkg/core/defaults.js';
import { Hub, type HubOptions } from '../../pkg/index.js';
import { Peer, perTest } from '../helpers.js';

const { cleanup, start } = perTest();

async function hubWith(options: HubOptions) {
  return start({ logger: false, canPublish: () => true, ...options }, { attach: { path: '/ws', eventsPath: '/events' } });
}

async function peer(url: string, protocols?: string[]) {
  const p = await Peer.open(url, protocols ? { protocols } : {});
  cleanup(() => p.close());
  return p;
}

/**
 * A raw SSE stream read with fetch: each event's text (a comment is `:`) with the time it arrived,
 * from when the response began.
 */
async function stream(url: string) {
  const controller = new AbortController();
  cleanup(() => controller.abort());
  const began = Date.now();
  const response = await fetch(url, { signal: controller.signal });
  const events: Array<{ at: number; text: string }> = [];
  void (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        events.push({ at: Date.now() - began, text: buffer.slice(0, end) });
        buffer = buffer.slice(end + 2);
      }
    }
  })();
  return events;
}

describe('the hub\'s heartbeat', () => {
  it('announces its period in the first frame of a livehub client\'s connection, 4000 ms by default', async () => {
    const { url } = await hubWith({});
    const p = await peer(url);
    await expect.poll(() => p.connected).toEqual({ type: 'connected', heartbeat: 4000 });
  });

  it('sends a Go-original client (no livehub.v1) neither the announcement nor heartbeats', async () => {
    const { url } = await hubWith({ heartbeatPeriod: 100 });
    const plain = await peer(url, []);
    const full = await peer(url);
    await expect.poll(() => full.heartbeats.length, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
    await plain.sync();
    expect(plain.connected).toBeNull();
    expect(plain.heartbeats).toEqual([]);
    expect(plain.messages).toEqual([]);
  });

  it('writes heartbeats only to a connection that has had nothing else written for a period', async () => {
    const { hub, url } = await hubWith({ heartbeatPeriod: 300 });
    const busy = await peer(url);
    const idle = await peer(url);
    await busy.subscribe('feed');
    // A message every 100 ms to the busy connection (the pace is the condition: under the period).
    let sent = 0;
    const feed = setInterval(() => { void hub.publish('feed', 'tick', sent++); }, 100);
    cleanup(() => clearInterval(feed));
    await expect.poll(() => idle.heartbeats.length, { timeout: 5000 }).toBeGreaterThanOrEqual(4);
    clearInterval(feed);
    expect(busy.messages.filter((m) => m.channel === 'feed').length).toBeGreaterThanOrEqual(8);
    expect(busy.heartbeats).toEqual([]);
    // Once its messages stop, it is idle too, and gets them.
    await expect.poll(() => busy.heartbeats.length, { timeout: 2000 }).toBeGreaterThanOrEqual(1);
  });

  it('spaces an idle connection\'s heartbeats one period apart, the first a period after it opened', async () => {
    const { url } = await hubWith({ heartbeatPeriod: 400 });
    const opened = Date.now();
    const p = await peer(url);
    await expect.poll(() => p.heartbeats.length, { timeout: 5000 }).toBeGreaterThanOrEqual(4);
    const times = [opened, ...p.heartbeats.slice(0, 4)];
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(380);
      expect(gap).toBeLessThan(400 + 300);
    }
  });

  it('over SSE, announces the period and sends the first heartbeat event a period after the stream opened, not a sweep step later', async () => {
    // The pings' sweep used to turn every min(pingPeriod, pongWait - pingPeriod): 8 s here.
    const { base } = await hubWith({ heartbeatPeriod: 1000 });
    const events = await stream(`${base}/events?events=unnamed`);
    await expect.poll(() => events.find((e) => e.text === 'data: {"type":"heartbeat"}'), { timeout: 3000 }).toBeDefined();
    expect(events.find((e) => e.text === 'data: {"type":"connected","heartbeat":1000}')).toBeDefined();
    const opened = events.find((e) => e.text.includes('"type":"stream"'))!.at;
    const first = events.find((e) => e.text === 'data: {"type":"heartbeat"}')!.at;
    expect(first - opened).toBeGreaterThanOrEqual(950);
    expect(first - opened).toBeLessThan(1000 + 400);
  });

  it('over SSE with heartbeats off, sends neither the announcement nor heartbeats, and the first comment comes at pingPeriod, not at the next sweep step', async () => {
    // A sweep every min(pingPeriod, pongWait - pingPeriod) = 1500 ms would send the first comment at 3000 ms.
    const { base } = await hubWith({ heartbeatPeriod: Infinity, pingPeriod: 2000, pongWait: 3500 });
    const events = await stream(`${base}/events?events=unnamed`);
    await expect.poll(() => events.find((e) => e.text === ':'), { timeout: 5000 }).toBeDefined();
    const opened = events.find((e) => e.text.includes('"type":"stream"'))!.at;
    const comment = events.find((e) => e.text === ':')!.at;
    expect(comment - opened).toBeGreaterThanOrEqual(1950);
    expect(comment - opened).toBeLessThan(2000 + 400);
    expect(events.filter((e) => /"type":"(connected|heartbeat)"/.test(e.text))).toEqual([]);
  });

  it('finds a dead link within 10 s by default, with the first reconnect\'s backoff (under 500 ms) included', () => {
    expect(DEAD_LINK_DETECTION).toBe(DEFAULTS.heartbeatPeriod + HEARTBEAT_ALLOWANCE + PROBE_TIMEOUT);
    expect(DEAD_LINK_DETECTION + 500).toBeLessThanOrEqual(10_000);
  });

  it.each([0, -1, 1.5, '5000', null])('refuses heartbeatPeriod %j with a TypeError', (value) => {
    expect(() => new Hub({ heartbeatPeriod: value as number })).toThrow(/option heartbeatPeriod must be a positive integer/);
  });
});
