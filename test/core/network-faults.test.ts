import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type WebSocketConstructor } from '../../client/index.js';
import { perTest } from '../helpers.js';

/**
 * A TCP proxy of our own that misbehaves like a bad network: it delays every chunk (keeping order),
 * and on command drops a connection (both sides destroyed) or blackholes it (kept open, nothing
 * forwarded either way, so only a heartbeat can notice).
 */
function faultyProxy(target: number, maxDelay = 15) {
  interface Pair { client: Socket; upstream: Socket; blackholed: boolean }
  const pairs = new Set<Pair>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    const pair: Pair = { client, upstream, blackholed: false };
    pairs.add(pair);
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      let chain = Promise.resolve();
      from.on('data', (chunk: Buffer) => {
        if (pair.blackholed) return;
        const delay = Math.random() * maxDelay;
        chain = chain.then(() => new Promise((r) => setTimeout(r, delay))).then(() => {
          if (!pair.blackholed && !to.destroyed) to.write(chunk);
        });
      });
      from.on('close', end);
      from.on('error', end);
    }
  });
  return {
    server,
    pairs,
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    },
    /** Drops or blackholes one established connection; returns what it did. */
    fault(): 'drop' | 'blackhole' | null {
      const pair = [...pairs].find((p) => !p.blackholed);
      if (!pair) return null;
      if (Math.random() < 0.7) {
        pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
        return 'drop';
      }
      pair.blackholed = true;
      setTimeout(() => { pairs.delete(pair); pair.client.destroy(); pair.upstream.destroy(); }, 2000);
      return 'blackhole';
    },
    close() {
      for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const { start, cleanup } = perTest();

describe('through a faulty network', () => {
  it('loses no message within the history window over 50+ forced disconnects, and delivers each once, in order', async () => {
    const s = await start({ history: { size: 20_000, ttl: 120_000 }, pongWait: 2000, pingPeriod: 500 });
    const proxy = faultyProxy(s.port);
    const port = await proxy.listen();
    cleanup(() => proxy.close());
    const client = new LiveClient(`ws://127.0.0.1:${port}/ws`, {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      reconnect: { delay: 20, maxDelay: 200 }, heartbeat: { interval: 150, timeout: 250 },
    });
    cleanup(() => client.dispose());
    const got: number[] = [];
    client.on<number>('stream', (n) => got.push(n));
    await expect.poll(() => client.status, { timeout: 5000 }).toBe('open');
    await expect.poll(() => s.hub.info().channels, { timeout: 5000 }).toBe(1); // subscribed to 'stream'

    // About 1,000 messages a second until the faults are done.
    let published = 0;
    const publisher = setInterval(() => {
      for (let k = 0; k < 5; k++) s.hub.publish('stream', 'n', published++);
    }, 5);
    cleanup(() => clearInterval(publisher));

    const faults = { drop: 0, blackhole: 0 };
    const deadline = Date.now() + 40_000;
    while (faults.drop + faults.blackhole < 55 && Date.now() < deadline) {
      // A fault every 60 to 120 messages published (as many milliseconds at this rate).
      const from = published;
      await expect.poll(() => published, { timeout: 5000 }).toBeGreaterThanOrEqual(from + 60 + Math.floor(Math.random() * 60));
      const done = proxy.fault();
      if (done) faults[done]++;
    }
    clearInterval(publisher);
    const total = published;
    await expect.poll(() => got.length, { timeout: 20_000 }).toBe(total);
    expect(faults.drop + faults.blackhole).toBeGreaterThanOrEqual(50);
    expect(faults.blackhole).toBeGreaterThan(0);
    expect(got).toEqual([...Array(total).keys()]);
  }, 60_000);
});
