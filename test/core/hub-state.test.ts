import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { CloseCode, Hub, type HubOptions } from '../../pkg/index.js';
import { decodeFrames } from '../frames.js';

/** A socket that records what the hub writes, and can pretend to be full. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  written: Buffer[] = [];
  full = false;
  cork() {}
  uncork() {}
  write(chunk: Buffer) {
    this.written.push(chunk);
    if (this.full) this.writableLength += chunk.length;
    return !this.full;
  }
  drain() {
    this.full = false;
    this.writableLength = 0;
    this.emit('drain');
  }
}

/** The part of a `ws` WebSocket the hub uses. */
class FakeWs extends EventEmitter {
  readyState = 1;
  protocol = 'livehub.v1';
  _socket = new FakeSocket();
  closedWith: { code: number; reason: string } | null = null;
  pings = 0;
  close(code: number, reason: string) {
    this.closedWith = { code, reason };
    this.readyState = 2;
    setImmediate(() => { this.readyState = 3; this.emit('close', code, Buffer.from(reason)); });
  }
  terminate() { this.readyState = 3; this.emit('close', 1006, Buffer.alloc(0)); }
  ping() { this.pings++; }
  say(message: unknown) { this.emit('message', Buffer.from(JSON.stringify(message)), false); }
  /** What the hub wrote, but its first frame (`connected`, announcing the heartbeat period). */
  received(): any[] { return decodeFrames(Buffer.concat(this._socket.written)).map((text) => JSON.parse(text)).filter((m) => m.type !== 'connected'); }
}

const hubs: Hub[] = [];
afterEach(async () => { await Promise.all(hubs.splice(0).map((h) => h.close())); });

function setup(options: HubOptions = {}) {
  const hub = new Hub(options);
  hubs.push(hub);
  const connect = () => {
    const ws = new FakeWs();
    hub.addConnection(ws as unknown as WebSocket, { headers: {} } as IncomingMessage);
    return ws;
  };
  return { hub, connect };
}
const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Enough turns for a subscribe to be answered (the engine's answer comes back in a later turn). */
const settle = async () => { await turn(); await turn(); };
/** A hub with one client subscribed to `c` whose socket then stops taking writes. */
async function blockedSubscriber(options: HubOptions) {
  const { hub, connect } = setup(options);
  const ws = connect();
  ws.say({ type: 'subscribe', channel: 'c' });
  await settle();
  ws._socket.full = true;
  return { hub, ws };
}

describe('Hub as a state machine', () => {
  it('registers a connection on the next turn, not before', async () => {
    const { hub, connect } = setup();
    connect();
    expect(hub.info().clients).toBe(0);
    await turn();
    expect(hub.info().clients).toBe(1);
  });

  it('applies subscribe, publish and unsubscribe of one turn in arrival order', async () => {
    const { hub, connect } = setup();
    const ws = connect();
    ws.say({ type: 'subscribe', channel: 'a' });
    hub.publish('a', 't', 1);
    await turn();
    await turn(); // the subscribe is answered once the engine has said where the stream stands
    const [subscribed, message] = ws.received();
    expect(subscribed).toMatchObject({ type: 'subscribed', channel: 'a', offset: 0 });
    expect(message).toEqual({ channel: 'a', type: 't', data: 1, offset: 1 });
    ws.say({ type: 'unsubscribe', channel: 'a' });
    hub.publish('a', 't', 2);
    await turn();
    expect(ws.received().slice(2)).toEqual([{ type: 'unsubscribed', channel: 'a' }]);
    expect(hub.info().channels).toBe(0);
  });

  it('encodes a channel\'s messages of a turn once, into one buffer all its subscribers share', async () => {
    const { hub, connect } = setup();
    const a = connect();
    const b = connect();
    a.say({ type: 'subscribe', channel: 'c' });
    b.say({ type: 'subscribe', channel: 'c' });
    await settle();
    a._socket.written = [];
    b._socket.written = [];
    hub.publish('c', 't', 1);
    hub.publish('c', 't', 2);
    await turn();
    expect(a._socket.written).toHaveLength(1);
    expect(a._socket.written[0]).toBe(b._socket.written[0]);
    expect(decodeFrames(a._socket.written[0]!)).toEqual(['{"channel":"c","type":"t","data":1,"offset":1}', '{"channel":"c","type":"t","data":2,"offset":2}']);
    expect(hub.info()).toMatchObject({ writes: 6, frames: 8, evictions: 0 }); // the announcement, 1 reply and 1 batch each
  });

  it('holds frames while the socket is full and writes them, in order, on drain', async () => {
    const { hub, ws } = await blockedSubscriber({ highWaterMark: 10 });
    hub.publish('c', 't', 1);
    await turn();
    const before = ws._socket.written.length;
    hub.publish('c', 't', 2);
    hub.publish('c', 't', 3);
    await turn();
    expect(ws._socket.written.length).toBe(before);
    ws._socket.drain();
    expect(ws.received().filter((m) => 'data' in m).map((m) => m.data)).toEqual([1, 2, 3]);
  });

  it('evicts with 4001 a client with more than sendBuffer messages waiting, and stops fanning out to it', async () => {
    const { hub, connect } = setup({ sendBuffer: 5, highWaterMark: 1 });
    const slow = connect();
    const fine = connect();
    for (const ws of [slow, fine]) ws.say({ type: 'subscribe', channel: 'c' });
    await settle();
    slow._socket.full = true;
    for (let i = 0; i < 7; i++) { hub.publish('c', 't', i); await turn(); }
    expect(slow.closedWith).toEqual({ code: CloseCode.SlowConsumer, reason: 'slow consumer' });
    expect(hub.info().evictions).toBe(1);
    await turn();
    expect(hub.info().clients).toBe(1);
    expect(fine.received().filter((m) => 'data' in m).map((m) => m.data)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('evicts a client whose waiting bytes pass maxBufferedBytes', async () => {
    const { hub, ws } = await blockedSubscriber({ maxBufferedBytes: 1000, highWaterMark: 1 });
    hub.publish('c', 't', 'x'.repeat(600));
    await turn();
    hub.publish('c', 't', 'x'.repeat(600));
    await turn();
    expect(ws.closedWith?.code).toBe(CloseCode.SlowConsumer);
  });

  it('evicts a client whose socket does not drain within writeWait', async () => {
    const { hub, ws } = await blockedSubscriber({ writeWait: 50, highWaterMark: 1 });
    hub.publish('c', 't', 1);
    await turn();
    expect(ws.closedWith).toBeNull();
    await new Promise((r) => setTimeout(r, 80));
    expect(ws.closedWith).toEqual({ code: CloseCode.SlowConsumer, reason: 'write timeout' });
  });

  it('delivers to every subscriber as a channel goes from one subscriber to three and back to none', async () => {
    const { hub, connect } = setup();
    const [a, b, c] = [connect(), connect(), connect()];
    const got = (ws: FakeWs) => ws.received().filter((m) => m.channel === 'c' && m.type === 't').map((m) => m.data);
    const step = async (n: number) => { hub.publish('c', 't', n); await turn(); };
    a.say({ type: 'subscribe', channel: 'c' });
    await settle();
    await step(1);
    b.say({ type: 'subscribe', channel: 'c' });
    c.say({ type: 'subscribe', channel: 'c' });
    await settle();
    await step(2);
    expect(hub.channelList()).toEqual([{ channel: 'c', subscribers: 3 }]);
    a.say({ type: 'unsubscribe', channel: 'c' });
    c.terminate();
    await settle();
    await step(3);
    expect(hub.channelList()).toEqual([{ channel: 'c', subscribers: 1 }]);
    a.say({ type: 'subscribe', channel: 'c' }); // back to two
    await settle();
    await step(4);
    b.say({ type: 'unsubscribe', channel: 'c' });
    await settle();
    await step(5);
    expect([got(a), got(b), got(c)]).toEqual([[1, 2, 4, 5], [2, 3, 4], [2]]);
    a.say({ type: 'unsubscribe', channel: 'c' });
    await settle();
    expect(hub.channelList()).toEqual([]);
    expect(hub.info()).toMatchObject({ channels: 0, subscriptions: 0 });
  });

  it('removes a client from the channel index when its socket closes', async () => {
    const { hub, connect } = setup();
    const ws = connect();
    ws.say({ type: 'subscribe', channel: 'a' });
    ws.say({ type: 'subscribe', channel: 'b' });
    await settle();
    expect(hub.info()).toMatchObject({ clients: 1, channels: 2 });
    ws.terminate();
    await turn();
    expect(hub.info()).toMatchObject({ clients: 0, channels: 0 });
  });

  it('pings every pingPeriod and terminates a client silent for longer than pongWait', async () => {
    const { connect } = setup({ pongWait: 100, pingPeriod: 40 });
    const ws = connect();
    await turn();
    await new Promise((r) => setTimeout(r, 80));
    expect(ws.pings).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(ws.readyState).toBe(3);
  });

  it('keeps a client that answers pings', async () => {
    const { connect } = setup({ pongWait: 100, pingPeriod: 40 });
    const ws = connect();
    ws.ping = () => { ws.pings++; setTimeout(() => ws.emit('pong'), 5); };
    await turn();
    await new Promise((r) => setTimeout(r, 300));
    expect(ws.readyState).toBe(1);
    expect(ws.pings).toBeGreaterThanOrEqual(3);
  });

  it('ignores __proto__, constructor and toString as channel names beyond treating them as names', async () => {
    const { hub, connect } = setup();
    const ws = connect();
    ws.emit('message', Buffer.from('{"type":"subscribe","channel":"__proto__","__proto__":{"polluted":true}}'), false);
    ws.say({ type: 'subscribe', channel: 'constructor' });
    ws.say({ type: 'subscribe', channel: 'toString' });
    await settle();
    hub.publish('__proto__', 't', 1);
    await turn();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(hub.info().channels).toBe(3);
    expect(ws.received().filter((m) => m.channel === '__proto__' && 'data' in m)).toHaveLength(1);
  });
});
