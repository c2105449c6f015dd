import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { coreOf } from '../../pkg/hub.js';
import { CloseCode, Hub } from '../../pkg/index.js';
import { closeServer, perTest, recordingLogger } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';

const { cleanup, start } = perTest();

function node(url: string, prefix: string) {
  return start({ logger: false, engine: new RedisEngine({ url, prefix }), history: { size: 10_000, ttl: 120_000 } });
}

/** Whether every subscription to `channel` on this hub is in place, its engine's included. */
const subscribed = (hub: Hub, channel: string) => !(coreOf(hub) as unknown as { subscribing: Map<string, unknown> }).subscribing.has(channel);

/** A node on the memory engine listening on `port` (0: any), as a process that is restarted on its port is. */
async function memoryNode(port: number) {
  const { lines, logger } = recordingLogger();
  const hub = new Hub({ logger });
  const server = createHttpServer((_req, res) => { res.writeHead(404); res.end(); });
  hub.attach(server, { path: '/ws' });
  await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(port, '127.0.0.1', resolve); });
  const stop = async () => { await hub.close(); await closeServer(server); };
  cleanup(stop);
  return { hub, server, lines, stop, port: (server.address() as AddressInfo).port };
}

/** A load balancer of our own: each new connection goes to the first node that is not draining. */
async function balancer(nodes: Array<{ hub: Hub; port: number }>): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const target = nodes.find((n) => !n.hub.draining) ?? nodes[0]!;
    const upstream = connect(target.port, '127.0.0.1');
    for (const s of [socket, upstream]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)); }
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => { for (const s of sockets) s.destroy(); return new Promise<void>((resolve) => server.close(() => resolve())); });
  return (server.address() as AddressInfo).port;
}

describe('hub.drain', () => {
  it('moves every client of a draining node to the other one under 500 messages/s, losing and doubling nothing', async () => {
    const url = await sharedRedisUrl();
    const prefix = `drain-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const a = await node(url, prefix);
    const b = await node(url, prefix);
    const lb = await balancer([a, b]);
    const clients = [...Array(20)].map(() => new LiveClient(`ws://127.0.0.1:${lb}/ws`, { WebSocket, reconnect: { delay: 50, maxDelay: 300 } }));
    const got = clients.map(() => [] as number[]);
    const closes: number[] = [];
    clients.forEach((client, i) => {
      cleanup(() => client.dispose());
      client.on<number>('feed', (n) => got[i]!.push(n));
      client.events.on('close', (e) => closes.push(e.code));
    });
    await expect.poll(() => a.hub.info().clients, { timeout: 5000 }).toBe(20);
    await expect.poll(() => a.hub.info().subscriptions === 20 && subscribed(a.hub, 'feed'), { timeout: 5000 }).toBe(true);
    let sent = 0;
    const publisher = setInterval(() => { for (let i = 0; i < 5; i++) b.hub.publish('feed', 'n', sent++); }, 10);
    cleanup(() => clearInterval(publisher));
    await expect.poll(() => sent, { timeout: 5000 }).toBeGreaterThanOrEqual(150); // the load runs before the drain
    expect(a.hub.draining).toBe(false);
    await a.hub.drain({ spread: 500 });
    expect(a.hub.draining).toBe(true);
    expect(a.hub.info().clients).toBe(0);
    // The load goes on while the clients move, and after they have all moved.
    await expect.poll(() => b.hub.info().clients, { timeout: 10_000 }).toBe(20);
    const moved = sent;
    await expect.poll(() => sent, { timeout: 5000 }).toBeGreaterThanOrEqual(moved + 100);
    clearInterval(publisher);
    const total = sent;
    await expect.poll(() => Math.min(...got.map((g) => g.length)), { timeout: 10_000 }).toBe(total);
    for (const g of got) expect(g).toEqual([...Array(total).keys()]);
    expect(b.hub.info().clients).toBe(20);
    expect(closes.filter((c) => c === CloseCode.ServiceRestart)).toHaveLength(20);
  }, 30_000);

  it('refuses new connections with 503 once draining', async () => {
    const { hub, url } = await start({ logger: false });
    await hub.drain({ spread: 0 });
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(status).toBe(503);
  });

  it('on the memory engine closes every connection at once, and its clients, refused while it restarts, come back within the first backoff step', async () => {
    const old = await memoryNode(0);
    // A growing backoff would wait 200, 400, 800, 1600, 3200 ms (random 0.999) after five refusals; the
    // restart window holds each wait under 200 ms, so the polls below time out without it.
    const clients = [...Array(10)].map(() => new LiveClient(`ws://127.0.0.1:${old.port}/ws`, { WebSocket, reconnect: { delay: 200, maxDelay: 60_000 }, random: () => 0.999 }));
    const got = clients.map(() => [] as string[]);
    const closes: number[] = [];
    clients.forEach((client, i) => {
      cleanup(() => client.dispose());
      client.on<string>('feed', (m) => got[i]!.push(m));
      client.events.on('close', (e) => closes.push(e.code));
    });
    await expect.poll(() => old.hub.info().subscriptions, { timeout: 5000 }).toBe(10);
    let refused = 0;
    old.server.on('upgrade', () => { refused++; });
    await old.hub.drain();
    expect(closes).toEqual(Array(10).fill(CloseCode.ServiceRestart));
    expect(old.lines.find((l) => l.code === 'draining')?.message).toMatch(/10 connections closed at once; they reconnect to the next process/);
    expect(old.lines.filter((l) => l.level === 'warn')).toEqual([]);
    await expect.poll(() => refused, { timeout: 4000 }).toBeGreaterThanOrEqual(50);
    await old.stop();
    const next = await memoryNode(old.port);
    await expect.poll(() => next.hub.info().subscriptions, { timeout: 3000 }).toBe(10);
    next.hub.publish('feed', 'm', 'after the restart');
    await expect.poll(() => got.map((g) => g.at(-1)), { timeout: 5000 }).toEqual(Array(10).fill('after the restart'));
  }, 20_000);

  it('warns when a memory-engine node is drained with a spread, naming what it costs and the fix', async () => {
    const alone = await memoryNode(0);
    const client = new LiveClient(`ws://127.0.0.1:${alone.port}/ws`, { WebSocket });
    cleanup(() => client.dispose());
    await expect.poll(() => alone.hub.info().clients, { timeout: 5000 }).toBe(1);
    await alone.hub.drain({ spread: 50 });
    const warning = alone.lines.find((l) => l.code === 'drain_spread_alone');
    expect(warning?.level).toBe('warn');
    expect(warning?.message).toMatch(/over 50 ms on the memory engine, where no other node can take its 1 connections.*drain\(\{ spread: 0 \}\)/);
  });

  it('keeps a 5 s spread by default on a shared engine, and refuses a spread that is not a number of ms', async () => {
    const url = await sharedRedisUrl();
    const shared = await start({ engine: new RedisEngine({ url, prefix: `drain-default-${Date.now()}` }) }, { record: true });
    expect(() => shared.hub.drain({ spread: -1 })).toThrow(/drain spread must be a number of milliseconds >= 0, got -1/);
    expect(() => shared.hub.drain({ spread: '5000' as unknown as number })).toThrow(TypeError);
    expect(() => shared.hub.drain({ sprad: 5 } as never)).toThrow(/unknown option 'sprad'/);
    await shared.hub.drain();
    expect(shared.logs.find((l) => l.code === 'draining')?.message).toMatch(/0 connections move to other nodes over 5000 ms/);
  });
});
