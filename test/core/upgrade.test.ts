import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { describe, expect, it } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { closeServer, Peer, perTest, sleep } from '../helpers.js';

const { start, cleanup, hub: newHub } = perTest();

/** The app's routes: middleware that refuses x-token: nope, the hub at GET /ws, a page at /. */
function routes(app: Express, hub: Hub) {
  app.use('/ws', (req, res, next) => {
    if (req.headers['x-token'] === 'nope') return void res.status(401).send('no');
    next();
  });
  app.get('/ws', hub.handleWebSocket);
  app.get('/', (_req, res) => void res.send('page'));
}

function status(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
  });
}

describe('Express mounting', () => {
  it('serves app.get("/ws", hub.handleWebSocket) on app.listen() with no attach call', async () => {
    const hub = newHub();
    const app = express();
    routes(app, hub);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    cleanup(() => closeServer(server));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const first = await Peer.open(url);
    const second = await Peer.open(url);
    cleanup(() => first.close(), () => second.close());
    for (const p of [first, second]) await p.subscribe('room');
    hub.publish('room', 'hello', 1);
    expect((await first.next((m) => m.channel === 'room')).data).toBe(1);
    expect((await second.next((m) => m.channel === 'room')).data).toBe(1);
  });

  it('keeps the first connection (taken from the request path) alive past the server request timeout', async () => {
    const { url } = await start({}, { attach: false, express: routes, server: { requestTimeout: 600, headersTimeout: 300, connectionsCheckingInterval: 50 } });
    const peer = await Peer.open(url);
    cleanup(() => peer.close());
    await peer.subscribe('t');
    for (let i = 0; i < 6; i++) {
      // Kept sleep: the request timeout (600 ms) passing is the behaviour; 6 × 250 ms outlasts it twice.
      await sleep(250);
      peer.send({ type: 'ping', id: i });
      expect(await peer.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: i });
    }
    expect(peer.closed).toBeNull();
  });

  it('runs middleware before the upgrade, so it can refuse with an HTTP status', async () => {
    const { hub, url } = await start({}, { attach: {}, express: routes });
    await expect(Peer.open(url, { headers: { 'x-token': 'nope' } })).rejects.toThrow('HTTP 401');
    const ok = await Peer.open(url, { headers: { 'x-token': 'fine' } });
    cleanup(() => ok.close());
    expect(hub.info().clients).toBeLessThanOrEqual(1);
  });

  it('answers an upgrade to a path no route takes with 404, and a plain GET of the endpoint with 426', async () => {
    const { port } = await start({}, { attach: {}, express: routes });
    await expect(Peer.open(`ws://127.0.0.1:${port}/nowhere`)).rejects.toThrow('HTTP 404');
    expect(await status(port, '/ws')).toBe(426);
    expect(await status(port, '/')).toBe(200);
  });

  it('serves hub.attach(server, { path }) on a plain http.Server', async () => {
    const { hub, port, url } = await start({}, { attach: { path: '/live' }, handler: () => (_req, res) => res.end('plain') });
    const peer = await Peer.open(`${url}?token=x`);
    cleanup(() => peer.close());
    await peer.subscribe('a');
    hub.publish('a', 'b', 'c');
    expect((await peer.next((m) => m.channel === 'a')).data).toBe('c');
    await expect(Peer.open(`ws://127.0.0.1:${port}/other`)).rejects.toThrow('HTTP 404');
  });

  it('answers a malformed handshake with 400 and a refused origin with 403 before the upgrade', async () => {
    const { port } = await start();
    const bad = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'short' };
    expect(await upgradeStatus(port, '/ws', bad)).toBe(400);
    expect(await upgradeStatus(port, '/ws', { ...bad, 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Origin: 'https://evil.example' })).toBe(403);
  });

  it('rejects bad options with a TypeError at once', () => {
    expect(() => new Hub({ sendBuffer: 0 })).toThrow(TypeError);
    expect(() => new Hub({ pongWait: 1000, pingPeriod: 1000 })).toThrow(TypeError);
    expect(() => new Hub({ origins: 'https://a.example' as never })).toThrow(TypeError);
    expect(() => new Hub({ codec: 'gzip' as never })).toThrow(TypeError);
    expect(() => new Hub({ clientIp: 'x-forwarded-for' as never })).toThrow(TypeError);
    const hub = new Hub();
    expect(() => hub.attach(createServer(), { path: 'ws' })).toThrow(TypeError);
    expect(() => hub.publish('bad channel', 't', 1)).toThrow(TypeError);
    expect(() => hub.publish('c', 't', { big: 10n })).toThrow(TypeError);
    return hub.close();
  });
});

/** Sends a raw upgrade request and returns the HTTP status of the answer. */
function upgradeStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, headers });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('upgrade', () => resolve(101));
    req.on('error', reject);
  });
}
