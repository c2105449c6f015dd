import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { RedisEngine } from '../../pkg/engine/redis.js';
import { coreOf } from '../../pkg/hub.js';
import { CloseCode, type Hub } from '../../pkg/index.js';
import { perTest } from '../helpers.js';
import { sharedRedisUrl } from '../redis.js';

const { cleanup, start } = perTest();

function node(url: string, prefix: string) {
  return start({ logger: false, engine: new RedisEngine({ url, prefix }), history: { size: 10_000, ttl: 120_000 } });
}

/** Whether every subscription to `channel` on this hub is in place, its engine's included. */
const subscribed = (hub: Hub, channel: string) => !(coreOf(hub) as unknown as { subscribing: Map<string, unknown> }).subscribing.has(channel);

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
});
