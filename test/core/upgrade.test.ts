import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { closeServer, Peer, sleep } from '../helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function expressApp(hub: Hub) {
  const app = express();
  app.use('/ws', (req, res, next) => {
    if (req.headers['x-token'] === 'nope') return void res.status(401).send('no');
    next();
  });
  app.get('/ws', hub.handleWebSocket);
  app.get('/', (_req, res) => void res.send('page'));
  return app;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => closeServer(server));
  return (server.address() as AddressInfo).port;
}

function status(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
  });
}

describe('Express mounting', () => {
  it('serves app.get("/ws", hub.handleWebSocket) on app.listen() with no attach call', async () => {
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const app = expressApp(hub);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    cleanups.push(() => closeServer(server));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const first = await Peer.open(url);
    const second = await Peer.open(url);
    cleanups.push(() => first.close(), () => second.close());
    for (const p of [first, second]) await p.subscribe('room');
    hub.publish('room', 'hello', 1);
    expect((await first.next((m) => m.channel === 'room')).data).toBe(1);
    expect((await second.next((m) => m.channel === 'room')).data).toBe(1);
  });

  it('keeps the first connection (taken from the request path) alive past the server request timeout', async () => {
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const server = createServer({ requestTimeout: 600, headersTimeout: 300, connectionsCheckingInterval: 50 }, expressApp(hub));
    const port = await listen(server);
    const peer = await Peer.open(`ws://127.0.0.1:${port}/ws`);
    cleanups.push(() => peer.close());
    await peer.subscribe('t');
    for (let i = 0; i < 6; i++) {
      await sleep(250);
      peer.send({ type: 'ping', id: i });
      expect(await peer.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: i });
    }
    expect(peer.closed).toBeNull();
  });

  it('runs middleware before the upgrade, so it can refuse with an HTTP status', async () => {
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const server = createServer(expressApp(hub));
    hub.attach(server);
    const port = await listen(server);
    await expect(Peer.open(`ws://127.0.0.1:${port}/ws`, { headers: { 'x-token': 'nope' } })).rejects.toThrow('HTTP 401');
    const ok = await Peer.open(`ws://127.0.0.1:${port}/ws`, { headers: { 'x-token': 'fine' } });
    cleanups.push(() => ok.close());
    expect(hub.info().clients).toBeLessThanOrEqual(1);
  });

  it('answers an upgrade to a path no route takes with 404, and a plain GET of the endpoint with 426', async () => {
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const server = createServer(expressApp(hub));
    hub.attach(server);
    const port = await listen(server);
    await expect(Peer.open(`ws://127.0.0.1:${port}/nowhere`)).rejects.toThrow('HTTP 404');
    expect(await status(port, '/ws')).toBe(426);
    expect(await status(port, '/')).toBe(200);
  });

  it('serves hub.attach(server, { path }) on a plain http.Server', async () => {
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const server = createServer((_req, res) => res.end('plain'));
    hub.attach(server, { path: '/live' });
    const port = await listen(server);
    const peer = await Peer.open(`ws://127.0.0.1:${port}/live?token=x`);
    cleanups.push(() => peer.close());
    await peer.subscribe('a');
    hub.publish('a', 'b', 'c');
    expect((await peer.next((m) => m.channel === 'a')).data).toBe('c');
    await expect(Peer.open(`ws://127.0.0.1:${port}/other`)).rejects.toThrow('HTTP 404');
  });

  it('answers a malformed handshake with 400 and a refused origin with 403 before the upgrade', async () => {
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const server = createServer();
    hub.attach(server, { path: '/ws' });
    const port = await listen(server);
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
