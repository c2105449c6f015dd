import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../pkg/engine/memory.js';
import { CloseCode } from '../../pkg/protocol/index.js';
import { metricsHandler } from '../../pkg/observe/prometheus.js';
import { Peer, turn } from '../helpers.js';
import { observedHubs, scrape } from './serve.js';
import { coreOf } from '../../pkg/hub.js';

const start = observedHubs();
const peers: Peer[] = [];
const streams: AbortController[] = [];
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const s of streams.splice(0)) s.abort();
});

async function peer(url: string): Promise<Peer> {
  const p = await Peer.open(url);
  peers.push(p);
  return p;
}

/** An SSE stream on the channel, read to the end in the background; resolves once it is open. */
async function sse(base: string, channel: string): Promise<{ text: () => string }> {
  const abort = new AbortController();
  streams.push(abort);
  const response = await fetch(`${base}/events?channel=${channel}`, { signal: abort.signal });
  expect(response.status).toBe(200);
  let text = '';
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    } catch { /* aborted */ }
  })();
  return { text: () => text };
}

const withMetrics = (options = {}) => start(options, (hub) => ({ '/metrics': metricsHandler(hub) }));

describe('GET /metrics', () => {
  it('moves the counters and gauges by exactly the traffic: 3 WebSocket and 1 SSE subscriber, 5 publishes, closes by code', async () => {
    const { hub, url, base } = await withMetrics();
    const metrics = `${base}/metrics`;
    const before = await scrape(metrics);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const subscribers = await Promise.all([peer(url), peer(url), peer(url)]);
    for (const p of subscribers) await p.subscribe('news');
    const stream = await sse(base, 'news');
    await expect.poll(() => hub.info().connections.sse ?? 0).toBe(1);
    await expect.poll(() => hub.channelList().find((c) => c.channel === 'news')?.subscribers).toBe(4);
    // The SSE stream's subscribe is answered once the engine gave the position.
    await expect.poll(() => stream.text().includes('subscribed')).toBe(true);

    for (let i = 0; i < 5; i++) await hub.publish('news', 'item', { i });
    for (const p of subscribers) for (let i = 0; i < 5; i++) await p.next((m) => m.channel === 'news' && m.data?.i === i);
    await expect.poll(() => (stream.text().match(/event: item/g) ?? []).length).toBe(5);

    const after = await scrape(metrics);
    const delta = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
    expect(delta('livehub_messages_published_total')).toBe(5);
    expect(delta('livehub_messages_delivered_total')).toBe(20);
    expect(delta('livehub_connections_opened_total', { transport: 'websocket' })).toBe(3);
    expect(delta('livehub_connections_opened_total', { transport: 'sse' })).toBe(1);
    expect(after.value('livehub_connections', { transport: 'websocket' })).toBe(3);
    expect(after.value('livehub_connections', { transport: 'sse' })).toBe(1);
    expect(after.value('livehub_channels')).toBe(1);
    expect(after.value('livehub_subscriptions')).toBe(4);
    expect(after.value('livehub_bytes_total')).toBe(hub.info().bytes);
    expect(after.value('livehub_frames_total')).toBe(hub.info().frames);
    expect(after.value('livehub_engine_up')).toBe(1);
    expect(after.value('livehub_draining')).toBe(0);
    expect(after.value('livehub_node_info', { node: hub.node })).toBe(1);
    // Publish-to-delivery: one observation per message and fan-out, each stamped at publish.
    expect(delta('livehub_publish_delivery_seconds_count')).toBe(5);
    expect(after.value('livehub_publish_delivery_seconds_sum')).toBeLessThan(5);

    subscribers[0]!.ws.close(1000);
    subscribers[1]!.ws.close(4321, 'a code livehub does not name');
    await expect.poll(() => hub.info().connections.websocket).toBe(1);
    const closed = await scrape(metrics);
    expect(closed.value('livehub_connections_closed_total', { code: '1000' }) - after.value('livehub_connections_closed_total', { code: '1000' })).toBe(1);
    expect(closed.value('livehub_connections_closed_total', { code: 'other' }) - after.value('livehub_connections_closed_total', { code: 'other' })).toBe(1);
    expect(closed.value('livehub_connections', { transport: 'websocket' })).toBe(1);
    expect(closed.value('livehub_subscriptions')).toBe(2);
  });

  it('counts resumed subscribes as recovered=true or recovered=false', async () => {
    const { hub, url, base } = await withMetrics();
    for (let i = 0; i < 3; i++) await hub.publish('r', 't', i);
    const { epoch } = await hub.position('r');
    const a = await peer(url);
    a.send({ type: 'subscribe', channel: 'r', since: { offset: 1, epoch } });
    expect(await a.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: true });
    const b = await peer(url);
    b.send({ type: 'subscribe', channel: 'r', since: { offset: 1, epoch: 'an-old-epoch' } });
    expect(await b.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: false });
    await (await peer(url)).subscribe('r'); // a fresh subscribe asks nothing: counted in neither
    const s = await scrape(`${base}/metrics`);
    expect(s.value('livehub_recoveries_total', { recovered: 'true' })).toBe(1);
    expect(s.value('livehub_recoveries_total', { recovered: 'false' })).toBe(1);
  });

  it('counts a publish the engine refuses as an error and a dropped message, not as published', async () => {
    const engine = new MemoryEngine();
    const publish = engine.publish.bind(engine);
    engine.publish = (channel, ...rest) => {
      if (channel === 'broken') throw Object.assign(new Error('store down'), { code: 'unavailable' });
      return publish(channel, ...rest);
    };
    const { hub, base } = await withMetrics({ engine, logger: false });
    await expect(hub.publish('broken', 't', 1)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(hub.publish('broken', 't', 2)).rejects.toMatchObject({ code: 'unavailable' });
    await hub.publish('fine', 't', 3);
    const s = await scrape(`${base}/metrics`);
    expect(s.value('livehub_errors_total', { code: 'publish_failed' })).toBe(2);
    expect(s.value('livehub_messages_dropped_total', { reason: 'publish_failed' })).toBe(2);
    expect(s.value('livehub_messages_published_total')).toBe(1);
  });

  it('counts slow consumers by reason: send_buffer when the queue overflows, write_timeout when the socket does not drain', async () => {
    for (const [reason, options] of [
      ['send_buffer', { logger: false, maxBufferedBytes: 512 * 1024, highWaterMark: 64 * 1024, writeWait: 10_000 }],
      ['write_timeout', { logger: false, maxBufferedBytes: 256 * 1024 * 1024, sendBuffer: 100_000, highWaterMark: 64 * 1024, writeWait: 300 }],
    ] as const) {
      const { hub, url, base } = await withMetrics(options);
      const slow = await peer(url);
      await slow.subscribe('firehose');
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
      const payload = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 600 && hub.info().clients > 0; i++) {
        hub.publish('firehose', 'blob', { i, payload });
        if (i % 20 === 0) await turn();
      }
      await expect.poll(() => hub.info().clients, { timeout: 10_000 }).toBe(0);
      const s = await scrape(`${base}/metrics`);
      expect(s.value('livehub_evictions_total', { reason })).toBe(1);
      expect(s.value('livehub_evictions_total', { reason: reason === 'send_buffer' ? 'write_timeout' : 'send_buffer' })).toBe(0);
      expect(s.value('livehub_connections_closed_total', { code: String(CloseCode.SlowConsumer) })).toBe(1);
    }
  });

  it('keeps the series bounded: 10,000 channels with traffic add no series and no channel name', async () => {
    const { hub, url, base } = await withMetrics({ maxChannelsPerClient: 20_000, sendBuffer: 20_000, rateLimit: 100_000, rateLimitBurst: 100_000 });
    const p = await peer(url);
    await p.subscribe('c-0');
    await hub.publish('c-0', 't', 0);
    await p.next((m) => m.channel === 'c-0' && m.type === 't');
    const one = await scrape(`${base}/metrics`);
    for (let i = 1; i < 10_000; i++) p.send({ type: 'subscribe', channel: `c-${i}` });
    await expect.poll(() => hub.channelList().length, { timeout: 15_000 }).toBe(10_000);
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => hub.publish(`c-${i}`, 't', i)));
    await expect.poll(async () => (await scrape(`${base}/metrics`)).value('livehub_messages_delivered_total'), { timeout: 15_000 }).toBe(10_001);
    const many = await scrape(`${base}/metrics`);
    const series = (s: typeof one) => s.samples.filter((x) => x.name.startsWith('livehub_')).map((x) => `${x.name}${JSON.stringify(x.labels)}`).sort();
    expect(series(many)).toEqual(series(one));
    expect(many.text).not.toMatch(/c-\d/);
    expect(many.value('livehub_channels')).toBe(10_000);
    expect(p.closed).toBeNull();
  });

  it('registers on the app\'s own registry under its prefix, with Node\'s default metrics when asked', async () => {
    const registry = new Registry();
    const { hub } = await start();
    const handler = metricsHandler(hub, { registry, prefix: 'chat_', defaultMetrics: true });
    expect(handler.registry).toBe(registry);
    const text = await registry.metrics();
    expect(text).toMatch(/^chat_connections\{transport="websocket"\} 0$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).not.toMatch(/^livehub_/m);
    expect(() => metricsHandler(hub, { registry, prefix: 'chat_' })).toThrow(/already has a metric named chat_/);
    handler.close();
    expect(await registry.metrics()).not.toMatch(/^chat_/m);
    // Closed, it listens to nothing: the hub builds no event on its hot path again.
    expect(Object.values(coreOf(hub).events.listening).some(Boolean)).toBe(false);
  });

  it('times commands by type when commandDuration is on', async () => {
    const { url, base } = await start({}, (hub) => ({ '/metrics': metricsHandler(hub, { commandDuration: true }) }));
    const p = await peer(url);
    p.send({ type: 'ping', id: 1 });
    await p.next((m) => m.type === 'pong');
    await p.subscribe('x');
    const s = await scrape(`${base}/metrics`);
    expect(s.value('livehub_command_duration_seconds_count', { type: 'ping' })).toBe(1);
    expect(s.value('livehub_command_duration_seconds_count', { type: 'subscribe' })).toBe(1);
  });

  it('answers 405 to other methods and throws a TypeError for unknown or bad options', async () => {
    const { hub, base } = await withMetrics();
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(() => metricsHandler(hub, { prefx: 'x_' } as never)).toThrow(/unknown option 'prefx' for metricsHandler\(\); did you mean 'prefix'\?/);
    expect(() => metricsHandler(hub, { prefix: '9bad' })).toThrow(TypeError);
    expect(() => metricsHandler(hub, { registry: {} as never })).toThrow(/prom-client Registry/);
    expect(() => metricsHandler(hub, { defaultMetrics: 'yes' as never })).toThrow(TypeError);
  });
});
