import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode } from '../../pkg/index.js';
import { Peer, perTest, sentinel, startHub, turn } from '../helpers.js';

const { start, cleanup } = perTest();

async function peer(url: string, options?: ConstructorParameters<typeof WebSocket>[2]) {
  const p = await Peer.open(url, options);
  cleanup(() => p.close());
  return p;
}

describe('Hub over real sockets', () => {
  it('delivers a publish to a subscriber as {channel,type,data}, one WebSocket message per hub message', async () => {
    const { hub, url } = await start();
    const alice = await peer(url);
    const raw: string[] = [];
    alice.ws.on('message', (data) => raw.push(String(data)));
    await alice.subscribe('chat');
    hub.publish('chat', 'message', { text: 'one' });
    hub.publish('chat', 'message', { text: 'two' });
    expect(await alice.next((m) => m.channel === 'chat')).toEqual({ channel: 'chat', type: 'message', data: { text: 'one' }, offset: 1 });
    expect(await alice.next((m) => m.channel === 'chat')).toEqual({ channel: 'chat', type: 'message', data: { text: 'two' }, offset: 2 });
    expect(raw.filter((r) => r.includes('"chat"') && r.includes('message')).every((r) => !r.includes('\n'))).toBe(true);
    expect(raw.filter((r) => r.startsWith('{"channel"'))).toHaveLength(2);
  });

  it('keeps publish order per channel across many loop turns', async () => {
    const { hub, url } = await start();
    const alice = await peer(url);
    await alice.subscribe('ticks');
    for (let i = 0; i < 500; i++) {
      hub.publish('ticks', 'tick', i);
      if (i % 50 === 0) await turn();
    }
    const seen: number[] = [];
    for (let i = 0; i < 500; i++) seen.push((await alice.next((m) => m.channel === 'ticks')).data);
    expect(seen).toEqual([...Array(500).keys()]);
  });

  it('delivers channel "*" to every client, subscribed to anything or not', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    const b = await peer(url);
    await a.subscribe('room');
    await b.sync(); // b's connection is serving
    hub.publish('*', 'announcement', 'maintenance');
    for (const p of [a, b]) {
      expect(await p.next((m) => m.channel === '*')).toEqual({ channel: '*', type: 'announcement', data: 'maintenance', offset: 1 });
    }
  });

  it('does not deliver a channel to clients that are not subscribed to it', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    const b = await peer(url);
    await a.subscribe('x');
    await b.subscribe('y');
    hub.publish('x', 't', 1);
    hub.publish('y', 't', 2);
    expect((await a.next((m) => 'data' in m)).data).toBe(1);
    expect((await b.next((m) => 'data' in m)).data).toBe(2);
    await a.sync();
    await b.sync();
    expect(a.messages.filter((m) => 'data' in m)).toEqual([]);
    expect(b.messages.filter((m) => 'data' in m)).toEqual([]);
  });

  it('puts a subscribe sent after the connection has been serving into the channel index (the Go defect)', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    await a.sync(); // a first request answered: the subscribe is not part of the connection's start
    await a.subscribe('late');
    expect(hub.info().channels).toBe(1);
    hub.publish('late', 'ping', null);
    expect(await a.next((m) => m.channel === 'late')).toEqual({ channel: 'late', type: 'ping', data: null, offset: 1 });
  });

  it('stops delivery after unsubscribe and removes the emptied channel', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    await a.subscribe('news');
    a.send({ type: 'unsubscribe', channel: 'news', id: 7 });
    expect(await a.next((m) => m.type === 'unsubscribed')).toEqual({ type: 'unsubscribed', channel: 'news', id: 7 });
    expect(hub.info().channels).toBe(0);
    await hub.publish('news', 'headline', 'x');
    await a.sync();
    expect(a.messages.filter((m) => m.channel === 'news' && 'data' in m)).toEqual([]);
  });

  it('removes a closed client from every channel it was in', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    await a.subscribe('one');
    await a.subscribe('two');
    expect(hub.info()).toMatchObject({ clients: 1, channels: 2 });
    a.close();
    await expect.poll(() => hub.info()).toMatchObject({ clients: 0, channels: 0 });
  });

  it('answers invalid JSON with a bad_json error frame and keeps the connection usable', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    a.send('{"type":"subscribe",');
    expect(await a.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_json' });
    await a.subscribe('ok');
    hub.publish('ok', 'still', 'alive');
    expect((await a.next((m) => m.channel === 'ok' && 'data' in m)).data).toBe('alive');
  });

  it.each([
    ['a JSON array', 'bad_request', '[1,2]'],
    ['a non-string type', 'bad_request', '{"type":5}'],
    ['an unknown type', 'unknown_type', '{"type":"explode","id":"r1"}'],
    ['a missing channel', 'invalid_channel', '{"type":"subscribe","id":3}'],
    ['a channel with a space', 'invalid_channel', '{"type":"subscribe","channel":"a b"}'],
    ['a 256-character channel', 'invalid_channel', JSON.stringify({ type: 'subscribe', channel: 'c'.repeat(256) })],
    ['a publish without event', 'invalid_type', '{"type":"publish","channel":"c"}'],
    ['an object id', 'bad_request', '{"type":"ping","id":{}}'],
  ])('answers %s with error code %s, with the request id, and stays usable', async (_name, code, text) => {
    const { url } = await start();
    const a = await peer(url);
    a.send(text);
    const error = await a.next((m) => m.type === 'error');
    expect(error.code).toBe(code);
    expect(typeof error.message).toBe('string');
    const id = (() => { try { return JSON.parse(text).id; } catch { return undefined; } })();
    if (typeof id === 'string' || typeof id === 'number') expect(error.id).toBe(id);
    a.send({ type: 'ping', id: 'after' });
    expect(await a.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: 'after' });
  });

  it('denies client publishes by default with a forbidden error carrying the id', async () => {
    const { hub, url } = await start();
    const a = await peer(url);
    const b = await peer(url);
    await b.subscribe('chat');
    a.send({ type: 'publish', channel: 'chat', event: 'message', data: 'hi', id: 'm1' });
    expect(await a.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 'm1', channel: 'chat' });
    await sentinel(hub, 'chat', [b]);
    expect(b.messages.filter((m) => 'data' in m)).toEqual([]);
  });

  it('acks an allowed client publish and fans it out as {channel,type,data} stamped with its publisher', async () => {
    const { url } = await start({ canPublish: async ({ channel }) => channel.startsWith('public:') });
    const a = await peer(url);
    const b = await peer(url);
    await b.subscribe('public:chat');
    a.send({ type: 'publish', channel: 'public:chat', event: 'message', data: { t: 1 }, id: 42 });
    expect(await a.next((m) => m.type === 'ack')).toMatchObject({ type: 'ack', id: 42, offset: 1 });
    expect(await b.next((m) => m.channel === 'public:chat')).toEqual({ channel: 'public:chat', type: 'message', data: { t: 1 }, offset: 1, from: { client: expect.any(String) } });
    a.send({ type: 'publish', channel: 'private:x', event: 'message', data: 1, id: 43 });
    expect(await a.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', id: 43 });
  });

  it('handles commands in order even when the publish policy is async', async () => {
    const { url } = await start({ canPublish: () => new Promise((r) => setTimeout(() => r(true), 30)) });
    const a = await peer(url);
    a.send({ type: 'publish', channel: 'c', event: 'e', data: 1, id: 1 });
    a.send({ type: 'ping', id: 2 });
    const first = await a.next((m) => m.type === 'ack' || m.type === 'pong');
    expect(first).toMatchObject({ type: 'ack', id: 1 });
  });

  it('closes with 1009 on a message over maxMessageSize, leaving other clients connected', async () => {
    const { hub, url } = await start({ maxMessageSize: 1024 });
    const big = await peer(url);
    const other = await peer(url);
    await other.subscribe('c');
    big.send({ type: 'ping', pad: 'x'.repeat(2000) });
    expect((await big.whenClosed()).code).toBe(CloseCode.MessageTooBig);
    hub.publish('c', 't', 'ok');
    expect((await other.next((m) => m.channel === 'c')).data).toBe('ok');
  });

  it('closes with 1003 on a binary message', async () => {
    const { url } = await start();
    const a = await peer(url);
    a.ws.send(Buffer.from([1, 2, 3]));
    expect((await a.whenClosed()).code).toBe(CloseCode.UnsupportedData);
  });

  it('evicts a client that stops reading with close 4001 while a canary keeps receiving everything', async () => {
    const { hub, url } = await start({ maxBufferedBytes: 512 * 1024, highWaterMark: 64 * 1024, writeWait: 5000 });
    const canary = await peer(url);
    const slow = await peer(url);
    await canary.subscribe('firehose');
    await slow.subscribe('firehose');
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const payload = 'x'.repeat(16 * 1024);
    let received = 0;
    canary.ws.on('message', (d) => { if (String(d).startsWith('{"channel"')) received++; });
    // Bursts of 20 (320 KiB), each once the canary has the one before: the canary is never more than
    // a burst behind, within its 512 KiB however slowly this busy process reads, while the paused
    // peer falls further behind with every burst.
    for (let i = 0; i < 600; i += 20) {
      for (let j = i; j < i + 20; j++) hub.publish('firehose', 'blob', { i: j, payload });
      await expect.poll(() => received, { timeout: 10_000 }).toBe(i + 20);
    }
    await expect.poll(() => hub.info().clients, { timeout: 10_000 }).toBe(1);
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
    expect((await slow.whenClosed(10_000)).code).toBe(CloseCode.SlowConsumer);
    expect(received).toBe(600);
    expect(canary.closed).toBeNull();
  });

  it('terminates a peer that stops answering pings after pongWait', async () => {
    const { hub, url } = await start({ pongWait: 300, pingPeriod: 100 });
    const dead = await peer(url, { autoPong: false });
    const alive = await peer(url);
    await expect.poll(() => dead.closed?.code, { timeout: 3000 }).toBe(1006);
    // alive answers the pings of more than another pongWait (300 ms at a ping every 100 ms) and stays.
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    await expect.poll(() => pings, { timeout: 3000 }).toBeGreaterThanOrEqual(4);
    await alive.sync();
    expect(alive.closed).toBeNull();
    expect(hub.info().clients).toBe(1);
  });

  it('refuses a cross-origin browser with 403 and accepts same-origin and origin-less clients', async () => {
    const { port, url } = await start();
    await expect(Peer.open(url, { headers: { Origin: 'https://evil.example' } })).rejects.toThrow('HTTP 403');
    await expect(Peer.open(url, { headers: { Origin: `http://127.0.0.1:${port}.evil.example` } })).rejects.toThrow('HTTP 403');
    await expect(Peer.open(url, { headers: { Origin: 'null' } })).rejects.toThrow('HTTP 403');
    await peer(url, { headers: { Origin: `http://127.0.0.1:${port}` } });
    await peer(url);
  });

  it('accepts exactly the origins of an allowlist', async () => {
    const { url } = await start({ origins: ['https://app.example'] });
    await peer(url, { headers: { Origin: 'https://app.example' } });
    await expect(Peer.open(url, { headers: { Origin: 'https://app.example.evil' } })).rejects.toThrow('HTTP 403');
  });

  it('flushes queued messages, then closes every client with 1001 on hub.close()', async () => {
    const started = await startHub();
    const a = await Peer.open(started.url);
    await a.subscribe('bye');
    for (let i = 0; i < 100; i++) started.hub.publish('bye', 'n', i);
    await started.hub.close();
    const closed = await a.whenClosed();
    expect(closed.code).toBe(CloseCode.GoingAway);
    expect(a.messages.filter((m) => m.channel === 'bye').map((m) => m.data)).toEqual([...Array(100).keys()]);
    await expect(Peer.open(started.url)).rejects.toThrow();
    started.server.close();
  });
});
