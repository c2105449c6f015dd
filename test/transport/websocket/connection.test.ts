import { once } from 'node:events';
import { coreOf } from '../../../pkg/hub.js';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '../../../pkg/index.js';
import { HubWebSocket, MAX_PENDING_PONGS, type WebSocketTransport } from '../../../pkg/transport/websocket/websocket.js';
import { Peer, perTest, readByServer } from '../../helpers.js';
import { encodeClientFrame, RawPeer, until } from '../../hostile/raw.js';

/**
 * The server side of a WebSocket connection: livehub's own connection class hands ws's events to
 * the session without listeners, and answers the peer's pings itself (ws's auto-pong is off).
 */
const { start, cleanup } = perTest();
const EVENTS = ['message', 'ping', 'pong', 'error', 'close'] as const;

/** A hub that also records the transport of each connection it opens. */
async function watchedHub(options: Parameters<typeof start>[0] = {}) {
  const started = await start({ logger: false, ...options });
  const transports: WebSocketTransport[] = [];
  const core = coreOf(started.hub);
  const open = core.open.bind(core);
  core.open = (transport, ...rest) => {
    transports.push(transport as WebSocketTransport);
    return open(transport, ...rest);
  };
  return { ...started, transports };
}

/** Counts the pongs a client gets, with their data. */
function pongsOf(ws: WebSocket): string[] {
  const pongs: string[] = [];
  ws.on('pong', (data) => pongs.push(data.toString()));
  return pongs;
}

describe('a WebSocket connection of livehub\'s own server', () => {
  it('hands messages and the close to its session with no listeners on the connection', async () => {
    const { hub, url, transports } = await watchedHub();
    const closes: Array<{ code?: number; reason?: string }> = [];
    hub.on('connection.closed', (event) => { closes.push({ code: event.code, reason: event.reason }); });
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('room'); // the session got the message
    const ws = transports[0]!.ws;
    expect(ws).toBeInstanceOf(HubWebSocket);
    for (const event of EVENTS) expect(ws.listenerCount(event)).toBe(0);
    peer.ws.close(4321, 'bye');
    await until(() => closes.length === 1);
    expect(closes).toEqual([{ code: 4321, reason: 'bye' }]);
    expect(hub.info().clients).toBe(0);
  });

  it('answers each ping once, with a pong carrying the ping\'s data', async () => {
    const { url } = await watchedHub();
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    const pongs = pongsOf(peer.ws);
    peer.ws.ping('hello');
    await once(peer.ws, 'pong');
    expect(pongs).toEqual(['hello']);
    for (let i = 0; i < 5; i++) peer.ws.ping(String(i));
    peer.ws.ping(); // no data: an empty pong
    peer.ws.ping('sentinel'); // answered in order: once its pong is in, any second pong would be too
    await expect.poll(() => pongs.at(-1)).toBe('sentinel');
    expect(pongs).toEqual(['hello', '0', '1', '2', '3', '4', '', 'sentinel']);
  });

  it('answers far more pings than the pending-pong limit when the peer reads its pongs', async () => {
    const { url } = await watchedHub({ rateLimit: 10_000, rateLimitBurst: 10_000 });
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    const pongs = pongsOf(peer.ws);
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 30; i++) peer.ws.ping(String(batch * 30 + i));
      await until(() => pongs.length === (batch + 1) * 30);
    }
    expect(pongs.length).toBeGreaterThan(MAX_PENDING_PONGS);
    expect(pongs).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    expect(peer.closed).toBeNull();
    await peer.subscribe('room'); // still served
  });

  it('limits a ping flood as the inbound rate limit says: a rate_limited error, then 4003', async () => {
    const { hub, url } = await watchedHub({ rateLimit: 10, rateLimitBurst: 20 });
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    const pongs = pongsOf(peer.ws);
    let sent = 0;
    while (sent < 400 && !peer.closed) {
      for (let i = 0; i < 5; i++) peer.ws.ping(String(sent++)); // far below the pending-pong limit per read
      await readByServer(hub, (peer.ws as unknown as { _socket: Socket })._socket); // each batch a read of its own
    }
    expect(await peer.whenClosed()).toEqual({ code: CloseCode.RateLimited, reason: 'rate limited' });
    expect(peer.messages.filter((m) => m.type === 'error').map((m) => m.code)).toEqual([ErrorCode.RateLimited]);
    // The pings the limit admitted (the burst of 20 and what refilled) were answered, each with its
    // own data, in order; those it refused went unanswered.
    const answered = pongs.map(Number);
    expect(answered.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(answered).toEqual([...new Set(answered)].sort((x, y) => x - y));
    expect(answered.length).toBeLessThan(sent);
  });

  it('terminates a peer that sends more pings in one read than the pending-pong limit', async () => {
    const { port } = await watchedHub({ rateLimit: 10_000, rateLimitBurst: 10_000 });
    const peer = await RawPeer.open(port);
    cleanup(() => peer.destroy());
    const ping = Buffer.from([0x89, 0x80, 0, 0, 0, 0]);
    peer.socket.write(Buffer.concat(Array.from({ length: MAX_PENDING_PONGS + 40 }, () => ping)));
    await until(() => peer.ended);
    expect(peer.frames.filter((f) => f.opcode === 0x8)).toEqual([]); // terminated, not closed
    expect(peer.frames.filter((f) => f.opcode === 0xa).length).toBeLessThanOrEqual(MAX_PENDING_PONGS);
  });

  it('closes a binary message with 1003', async () => {
    const { url } = await watchedHub();
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    peer.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await peer.whenClosed()).toEqual({ code: CloseCode.UnsupportedData, reason: 'binary messages are not part of the JSON protocol' });
  });

  it('gives a failure to the session, with no error listener on the connection to throw for', async () => {
    const { url, transports } = await watchedHub();
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('room');
    expect(transports[0]!.ws.listenerCount('error')).toBe(0);
    peer.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }); // invalid UTF-8
    expect((await peer.whenClosed()).code).toBe(CloseCode.InvalidPayload);
    const next = await Peer.open(url);
    cleanup(() => next.close());
    await next.subscribe('room'); // the hub still serves
  });

  it('still gives every event to listeners others add to the connection', async () => {
    const { url, transports } = await watchedHub();
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('a');
    const ws = transports[0]!.ws;
    const seen: unknown[][] = [];
    for (const event of EVENTS) ws.on(event, (...args: unknown[]) => seen.push([event, ...args.map((a) => (Buffer.isBuffer(a) ? a.toString() : a))]));
    await peer.subscribe('b');
    peer.ws.ping('p');
    await once(peer.ws, 'pong');
    peer.ws.pong('q');
    peer.ws.close(4000, 'done');
    await until(() => seen.some(([event]) => event === 'close'));
    expect(seen).toEqual([
      ['message', JSON.stringify({ type: 'subscribe', channel: 'b' }), false],
      ['ping', 'p'],
      ['pong', 'q'],
      ['close', 4000, 'done'],
    ]);
  });

  it('parses frames split across reads and several frames in one read', async () => {
    const { hub, port } = await watchedHub();
    const peer = await RawPeer.open(port);
    cleanup(() => peer.destroy());
    const frame = (id: string) => encodeClientFrame({ opcode: 1, payload: JSON.stringify({ type: 'ping', id }) });
    const [a, b, c, d] = [frame('a'), frame('b'), frame('c'), frame('d')];
    peer.socket.write(a.subarray(0, 5));
    await readByServer(hub, peer.socket);
    peer.socket.write(Buffer.concat([a.subarray(5), b, c.subarray(0, 9)]));
    await readByServer(hub, peer.socket);
    peer.socket.write(c.subarray(9));
    await peer.next((m) => m.id === 'c');
    peer.socket.write(d);
    await peer.next((m) => m.id === 'd');
    expect(peer.messages().filter((m) => m.type === 'pong').map((m) => m.id)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('a connection an app hands over from its own WebSocketServer', () => {
  it('reaches its session through listeners, and ws answers its pings once', async () => {
    const { hub, server, port } = await start({ logger: false }, { attach: false });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, request) => hub.addConnection(ws, request));
    cleanup(() => new Promise((resolve) => wss.close(resolve)));
    const peer = await Peer.open(`ws://127.0.0.1:${port}`);
    cleanup(() => peer.close());
    await peer.subscribe('room');
    const pongs = pongsOf(peer.ws);
    for (let i = 0; i < 3; i++) peer.ws.ping(String(i));
    peer.ws.ping('sentinel'); // answered in order: once its pong is in, any second pong would be too
    await expect.poll(() => pongs.at(-1)).toBe('sentinel');
    expect(pongs).toEqual(['0', '1', '2', 'sentinel']);
  });
});
