import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { CloseCode, type Hub } from '../../pkg/index.js';
import { Peer, perTest, sentinel, sleep, turn } from '../helpers.js';

const { start, cleanup } = perTest();

/** ws's WebSocket, remembering every socket it opens, so a test can cut or stall the latest one. */
function recordingWebSocket() {
  const sockets: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const raw = () => (sockets.at(-1) as unknown as { _socket?: Socket } | undefined)?._socket;
  return { WebSocket: Recording, raw };
}

/**
 * Publishes n messages to `channel` at `rate` per second; `done` resolves when all are published,
 * `published()` says how many are so far.
 */
function publishSteadily(s: { hub: Hub }, channel: string, n: number, rate: number) {
  let sent = 0;
  const began = Date.now();
  const done = (async () => {
    for (; sent < n; ) {
      s.hub.publish(channel, 'n', sent++);
      const due = began + (sent * 1000) / rate;
      // Kept sleep: the pace is the load under test (a timer until the next message is due).
      if (due > Date.now() + 1) await sleep(due - Date.now());
    }
  })();
  return { done, published: () => sent };
}

describe('stream positions and recovery', () => {
  it('puts the offset in every message and the position in the subscribe reply', async () => {
    const s = await start();
    s.hub.publish('p', 't', 'before');
    const peer = await Peer.open(s.url);
    cleanup(() => peer.close());
    peer.send({ type: 'subscribe', channel: 'p' });
    const reply = await peer.next((m) => m.type === 'subscribed');
    expect(reply).toMatchObject({ type: 'subscribed', channel: 'p', offset: 1 });
    expect(typeof reply.epoch).toBe('string');
    expect(await s.hub.position('p')).toEqual({ offset: 1, epoch: reply.epoch });
    s.hub.publish('p', 't', 'after');
    expect(await peer.next((m) => m.channel === 'p')).toEqual({ channel: 'p', type: 't', data: 'after', offset: 2 });
  });

  it('replays what was missed after a position, then continues live, with no gap and no duplicate', async () => {
    const s = await start();
    for (let i = 1; i <= 5; i++) s.hub.publish('r', 't', i);
    const { epoch } = await s.hub.position('r');
    const peer = await Peer.open(s.url);
    cleanup(() => peer.close());
    peer.send({ type: 'subscribe', channel: 'r', since: { offset: 2, epoch } });
    expect(await peer.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: true, offset: 5, epoch });
    s.hub.publish('r', 't', 6);
    await expect.poll(() => peer.messages.filter((m) => m.channel === 'r').length).toBe(4);
    expect(peer.messages.filter((m) => m.channel === 'r').map((m) => m.offset)).toEqual([3, 4, 5, 6]);
  });

  it('answers recovered:false with the current position for another epoch, and replays nothing', async () => {
    const s = await start();
    for (let i = 1; i <= 3; i++) s.hub.publish('e', 't', i);
    const peer = await Peer.open(s.url);
    cleanup(() => peer.close());
    peer.send({ type: 'subscribe', channel: 'e', since: { offset: 1, epoch: 'from-an-old-server' } });
    expect(await peer.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: false, offset: 3 });
    await sentinel(s.hub, 'e', [peer]);
    expect(peer.messages.filter((m) => m.channel === 'e' && 'data' in m)).toEqual([]);
  });

  it('recovers every message once, in order, across repeated forced disconnects at 1,000 messages/s', async () => {
    const s = await start({ history: { size: 5000, ttl: 60_000 } });
    const recording = recordingWebSocket();
    const client = new LiveClient(s.url, { WebSocket: recording.WebSocket, reconnect: { delay: 20, maxDelay: 100 } });
    cleanup(() => client.dispose());
    const got: number[] = [];
    client.on<number>('feed', (n) => got.push(n));
    let recoveries = 0;
    client.events.on('recovered', () => recoveries++);
    const gaps: unknown[] = [];
    client.events.on('gap', (g) => gaps.push(g));
    await expect.poll(() => client.status).toBe('open');
    await expect.poll(() => s.hub.info().channels).toBe(1); // subscribed to 'feed'
    const publishing = publishSteadily(s, 'feed', 2000, 1000);
    for (let cut = 1; cut <= 15; cut++) {
      // A cut every 90 messages published or so, while the publishing goes on.
      await expect.poll(() => publishing.published(), { timeout: 10_000 }).toBeGreaterThanOrEqual(cut * 90 + Math.floor(Math.random() * 30));
      recording.raw()?.destroy();
    }
    await publishing.done;
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(2000);
    expect(got).toEqual([...Array(2000).keys()]);
    expect(recoveries).toBeGreaterThanOrEqual(10);
    expect(gaps).toEqual([]);
  });

  it('lets a slow consumer evicted under load recover the range it missed', async () => {
    const s = await start({ maxBufferedBytes: 256 * 1024, highWaterMark: 32 * 1024, history: { size: 10_000, ttl: 60_000 } });
    const recording = recordingWebSocket();
    const client = new LiveClient(s.url, { WebSocket: recording.WebSocket, reconnect: { delay: 20 } });
    cleanup(() => client.dispose());
    const got: number[] = [];
    client.on<{ i: number }>('big', (d) => got.push(d.i));
    const closes: number[] = [];
    client.events.on('close', (e) => closes.push(e.code));
    await expect.poll(() => client.status).toBe('open');
    await expect.poll(() => s.hub.info().channels).toBe(1); // subscribed to 'big'
    const socket = recording.raw()!;
    socket.pause();
    const pad = 'x'.repeat(16 * 1024); // 600 of them: more than the kernel's loopback buffers hold
    for (let i = 0; i < 600; i++) {
      s.hub.publish('big', 'blob', { i, pad });
      if (i % 50 === 0) await turn();
    }
    await expect.poll(() => s.hub.info().evictions, { timeout: 10_000 }).toBe(1);
    socket.resume();
    await expect.poll(() => got.length, { timeout: 15_000 }).toBe(600);
    expect(got).toEqual([...Array(600).keys()]);
    expect(closes).toContain(CloseCode.SlowConsumer);
  });

  it('delivers a publish retried with the same id once, and acks every try', async () => {
    const s = await start({ canPublish: () => true });
    const reader = await Peer.open(s.url);
    const writer = await Peer.open(s.url);
    cleanup(() => reader.close(), () => writer.close());
    await reader.subscribe('once');
    const publish = { type: 'publish', channel: 'once', event: 'm', data: 'hello', id: 'abc123-unique' };
    writer.send(publish);
    writer.send(publish);
    const again = await Peer.open(s.url); // a retry after a reconnect
    cleanup(() => again.close());
    again.send(publish);
    const { epoch } = await again.next((m) => m.type === 'ack');
    // Every try is acked with the one position the message has.
    await expect.poll(() => writer.messages.filter((m) => m.type === 'ack').length).toBe(2);
    for (const ack of writer.messages.filter((m) => m.type === 'ack')) expect(ack).toEqual({ type: 'ack', id: 'abc123-unique', offset: 1, epoch });
    await sentinel(s.hub, 'once', [reader]);
    expect(reader.messages.filter((m) => m.channel === 'once')).toHaveLength(1);
  });

  it('keeps history per channel pattern: none for typing:*, recovery elsewhere', async () => {
    const s = await start({ history: { size: 100, ttl: 60_000, channels: [{ match: 'typing:*', size: 0 }] } });
    s.hub.publish('typing:room', 't', 1);
    s.hub.publish('typing:room', 't', 2);
    const position = await s.hub.position('typing:room');
    const peer = await Peer.open(s.url);
    cleanup(() => peer.close());
    peer.send({ type: 'subscribe', channel: 'typing:room', since: { offset: 1, epoch: position.epoch } });
    expect(await peer.next((m) => m.type === 'subscribed')).toMatchObject({ recovered: false, offset: 2 });
  });
});
