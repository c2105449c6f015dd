import compression from 'compression';
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import type { HubOptions } from '../../../pkg/index.js';
import { endlessBody, Peer, perTest, serverSessions, turn } from '../../helpers.js';

const { cleanup, start } = perTest();

/** A hub behind Express with SSE at /events (both methods), WebSocket at /ws, optionally compression. */
async function sseHub(options: HubOptions = {}, setup: { compress?: boolean } = {}) {
  const { hub, server, base, url } = await start({ logger: false, ...options }, {
    attach: {},
    express(app, hub) {
      if (setup.compress) app.use(compression());
      app.all('/events', hub.handleEventSource);
      app.get('/ws', hub.handleWebSocket);
    },
  });
  return { hub, server, base, ws: url };
}

/** An `eventsource` client that records every event with its name, data and id. */
function listen(url: string, names: string[] = ['message']) {
  const source = new EventSource(url);
  const events: Array<{ name: string; data: any; id: string }> = [];
  for (const name of [...names, 'livehub']) {
    source.addEventListener(name, (event) => events.push({ name, data: JSON.parse(event.data), id: event.lastEventId }));
  }
  cleanup(() => source.close());
  return { source, events, messages: (channel?: string) => events.filter((e) => e.name !== 'livehub' && (!channel || e.data.channel === channel)) };
}

describe('Server-Sent Events', () => {
  it('streams messages as events named by their type, with the hub message as data', async () => {
    const { hub, base } = await sseHub();
    const { events, messages } = listen(`${base}/events?channel=chat&channel=news`, ['message', 'created']);
    await expect.poll(() => events.filter((e) => e.data.type === 'subscribed').length).toBe(2);
    await hub.publish('chat', 'created', { text: 'hi\nthere\r\n\ndata: injected' });
    await hub.publish('news', 'created', { n: 1 });
    await expect.poll(() => messages().length).toBe(2);
    expect(messages().map((e) => [e.name, e.data.channel, e.data.data])).toEqual([
      ['created', 'chat', { text: 'hi\nthere\r\n\ndata: injected' }],
      ['created', 'news', { n: 1 }],
    ]);
    expect(messages()[1]!.id).toMatch(/^chat 1 \S+ news 1 \S+$/);
  });

  it('answers with the SSE headers that keep proxies and compression from buffering', async () => {
    const { base } = await sseHub({}, { compress: true });
    const controller = new AbortController();
    cleanup(() => controller.abort());
    const response = await fetch(`${base}/events?channel=a`, { signal: controller.signal, headers: { 'Accept-Encoding': 'gzip' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('cache-control')).toContain('no-transform');
    expect(response.headers.get('content-encoding')).toBeNull();
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^retry: \d+\n/);
  });

  it('refuses private channels with a forbidden error event, and others keep flowing', async () => {
    const { hub, base } = await sseHub();
    const { events, messages } = listen(`${base}/events?channel=private-secrets&channel=open`, ['m', 'leak']);
    await expect.poll(() => events.find((e) => e.data.type === 'error')?.data).toMatchObject({ code: 'forbidden', channel: 'private-secrets' });
    await expect.poll(() => events.some((e) => e.data.type === 'subscribed' && e.data.channel === 'open')).toBe(true);
    await hub.publish('private-secrets', 'leak', 1);
    await hub.publish('open', 'm', 2);
    await expect.poll(() => messages().length).toBe(1);
    expect(messages()[0]!.data.channel).toBe('open');
  });

  it('sends a comment heartbeat every pingPeriod and keeps an idle stream alive past pongWait', async () => {
    const { base } = await sseHub({ pingPeriod: 100, pongWait: 300 });
    const controller = new AbortController();
    cleanup(() => controller.abort());
    const response = await fetch(`${base}/events?channel=a`, { signal: controller.signal });
    const reader = response.body!.getReader();
    let text = '';
    const until = Date.now() + 1000;
    while (Date.now() < until) text += new TextDecoder().decode((await reader.read()).value);
    expect(text.split(':\n\n').length - 1).toBeGreaterThanOrEqual(3);
  });

  it('subscribes, publishes and unsubscribes through the companion POST, answered on the stream', async () => {
    const { base, ws } = await sseHub({ canPublish: () => true });
    const { events } = listen(`${base}/events?events=unnamed`);
    await expect.poll(() => events.find((e) => e.data.type === 'stream')).toBeDefined();
    const token = events.find((e) => e.data.type === 'stream')!.data.token as string;
    const post = (command: object) => fetch(`${base}/events`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Livehub-Stream': token }, body: JSON.stringify(command) });
    expect((await post({ type: 'subscribe', channel: 'room', id: 1 })).status).toBe(202);
    await expect.poll(() => events.find((e) => e.data.id === 1)?.data).toMatchObject({ type: 'subscribed', channel: 'room' });
    const peer = await Peer.open(ws);
    cleanup(() => peer.close());
    await peer.subscribe('room');
    expect((await post({ type: 'publish', channel: 'room', event: 'said', data: 'from sse', id: 'p1' })).status).toBe(202);
    expect((await peer.next((m) => m.channel === 'room')).data).toBe('from sse');
    await expect.poll(() => events.find((e) => e.data.id === 'p1')?.data).toMatchObject({ type: 'ack' });
    expect((await post({ type: 'bogus' })).status).toBe(202);
    await expect.poll(() => events.find((e) => e.data.code === 'unknown_type')).toBeDefined();
  });

  it('answers a companion POST with a bad or unknown token, or a huge body, with 4xx', async () => {
    const { base } = await sseHub();
    const post = (token: string | null, body: string, type = 'application/json') => fetch(`${base}/events`, {
      method: 'POST', headers: { 'Content-Type': type, ...(token ? { 'X-Livehub-Stream': token } : {}) }, body,
    });
    const { events } = listen(`${base}/events`);
    await expect.poll(() => events.find((e) => e.data.type === 'stream')).toBeDefined();
    const token = events.find((e) => e.data.type === 'stream')!.data.token as string;
    const [node, id] = token.split('.');
    expect((await post(null, '{}')).status).toBe(400);
    expect((await post(`${node}.${id}.AAAAAAAAAAAAAAAAAAAAAA`, '{"type":"ping"}')).status).toBe(404);
    expect((await post(token, '{"type":"ping"}', 'text/plain')).status).toBe(415);
    expect((await post(token, JSON.stringify({ type: 'ping', pad: 'x'.repeat(100_000) }))).status).toBe(413);
    expect((await fetch(`${base}/events`, { method: 'DELETE' })).status).toBe(405);
  });

  it('answers a command with an endless body 413 and closes the connection, reading no further than the cap', async () => {
    const { base } = await sseHub();
    const { answer, sent } = await endlessBody(Number(new URL(base).port), '/events', { 'X-Livehub-Stream': 'a.b.c' });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toContain('"code":"too_large"');
    // The server stopped at the cap (64 KiB) and closed: what the client got to send is bounded by the socket buffers, not the body.
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });

  it('evicts a stream whose reader stops reading, under the same caps as a WebSocket', async () => {
    const { hub, base } = await sseHub({ maxBufferedBytes: 256 * 1024, writeWait: 500 });
    const controller = new AbortController();
    cleanup(() => controller.abort());
    const response = await fetch(`${base}/events?channel=firehose`, { signal: controller.signal });
    expect(response.status).toBe(200); // and never read
    await expect.poll(() => hub.info().subscriptions).toBe(1);
    const payload = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 2000 && hub.info().evictions === 0; i++) {
      hub.publish('firehose', 'blob', payload);
      if (i % 50 === 0) await turn();
    }
    await expect.poll(() => hub.info().evictions, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => hub.info().clients).toBe(0);
  });

  it('caps a flood of streams from one address at maxConnectionsPerIp with 429', async () => {
    const { base } = await sseHub({ maxConnectionsPerIp: 5 });
    const controllers = [...Array(8)].map(() => new AbortController());
    cleanup(() => controllers.forEach((c) => c.abort()));
    const statuses = await Promise.all(controllers.map((c) => fetch(`${base}/events?channel=a`, { signal: c.signal }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});

describe('Server-Sent Events resume', () => {
  it('loses nothing and doubles nothing when the server kills the stream 50 times while 500 messages/s flow', async () => {
    const { hub, base } = await sseHub({ eventSourceRetry: 20, history: { size: 10_000, ttl: 120_000 } });
    const { messages } = listen(`${base}/events?channel=ticks&channel=tocks`, ['tick', 'done']);
    const ticks = () => messages().filter((e) => e.name === 'tick');
    await expect.poll(() => serverSessions(hub).length).toBe(1);
    await expect.poll(() => hub.info().subscriptions).toBe(2);
    let sent = 0;
    const publisher = setInterval(() => { for (let i = 0; i < 5; i++) { hub.publish(sent % 2 ? 'tocks' : 'ticks', 'tick', sent); sent++; } }, 10);
    cleanup(() => clearInterval(publisher));
    for (let kill = 0; kill < 50; kill++) {
      // A kill once the stream has carried another 30 to 60 messages (60 to 120 ms at this rate).
      const from = ticks().length;
      await expect.poll(() => ticks().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(from + 30 + Math.floor(Math.random() * 30));
      for (const session of serverSessions(hub)) session.terminate();
    }
    clearInterval(publisher);
    const total = sent;
    await expect.poll(() => ticks().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(total);
    // Sentinels on both channels: once they are in, anything sent before them would be too.
    for (const channel of ['ticks', 'tocks']) await hub.publish(channel, 'done', null);
    await expect.poll(() => messages().filter((e) => e.name === 'done').length, { timeout: 10_000 }).toBe(2);
    const seen = ticks().map((e) => e.data.data as number);
    expect(seen.length).toBe(total);
    expect([...seen].sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
    // In order per channel (channels interleave freely).
    for (const parity of [0, 1]) {
      const mine = seen.filter((n) => n % 2 === parity);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  }, 60_000);

  it('resumes from a lastEventId query parameter on a first connection, and says recovered:false across epochs', async () => {
    const { hub, base } = await sseHub({ history: { size: 100, ttl: 60_000 } });
    const first = await hub.publish('feed', 'item', 1);
    await hub.publish('feed', 'item', 2);
    await hub.publish('feed', 'item', 3);
    const { events, messages } = listen(`${base}/events?lastEventId=${encodeURIComponent(`feed ${first.offset} ${first.epoch}`)}`, ['item']);
    await expect.poll(() => messages().map((e) => e.data.data)).toEqual([2, 3]);
    expect(events.find((e) => e.data.type === 'subscribed')?.data).toMatchObject({ recovered: true });
    const stale = listen(`${base}/events?lastEventId=${encodeURIComponent('feed 1 another-epoch')}`, ['item']);
    await expect.poll(() => stale.events.find((e) => e.data.type === 'subscribed')?.data).toMatchObject({ recovered: false, offset: 3 });
    expect(stale.messages()).toEqual([]);
  });
});
