import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { LiveClient, type LiveClientOptions } from '../../client/index.js';
import { perTest } from '../helpers.js';
import { gateProxy } from './gate-proxy.js';

const { cleanup, start } = perTest();

/**
 * A dead link: a network that goes silent between a real hub and a Node client, neither side closing
 * (a proxy that stops forwarding). The client runs with its default options against a hub with its
 * defaults: it must show the connection as stale and be connected again, on a new connection, within
 * 10 s of the silence.
 */
async function deadLink(options: LiveClientOptions) {
  const { hub, port } = await start({ logger: false }, { attach: { path: '/ws', eventsPath: '/events' } });
  const proxy = await gateProxy(port, () => 'forward');
  cleanup(() => proxy.close());
  const client = new LiveClient(`ws://127.0.0.1:${proxy.port}/ws`, { ...options, autoConnect: false });
  cleanup(() => client.dispose());
  const seen: Array<{ at: number; what: string }> = [];
  client.events.on('stale', (stale) => seen.push({ at: Date.now(), what: stale ? 'stale' : 'live' }));
  client.events.on('status', (status) => seen.push({ at: Date.now(), what: status }));
  const got: unknown[] = [];
  client.on('room', (data) => got.push(data));
  client.connect();
  await expect.poll(() => hub.info().subscriptions, { timeout: 5000 }).toBe(1);

  // Idle but alive: the hub's heartbeat comes (a write to the one connection) and nothing goes stale.
  const { writes } = hub.info();
  await expect.poll(() => hub.info().writes, { timeout: 7000, interval: 20 }).toBeGreaterThan(writes);
  expect(seen.map((e) => e.what)).toEqual(['connecting', 'open']);
  expect(client.stale).toBe(false);

  // Right after traffic the client has seen, the worst moment: the next heartbeat is a whole period
  // away. (A write the hub counted may still be on its way on a busy machine: a message received is not.)
  await expect.poll(async () => {
    await hub.publish('room', 'said', 'before');
    return got.includes('before');
  }, { timeout: 5000 }).toBe(true);
  proxy.silence();
  const silent = Date.now();
  await expect.poll(() => client.stale, { timeout: 6500, interval: 20 }).toBe(true);
  expect(client.status).toBe('open');
  await expect.poll(() => seen.at(-1)?.what, { timeout: 5000, interval: 20 }).toBe('open');
  const stale = seen.find((e) => e.what === 'stale')!;
  const reopened = seen.at(-1)!;
  expect(seen.slice(2).map((e) => e.what)).toEqual(['stale', 'live', 'reconnecting', 'open']);
  // Stale once the period (4 s) and the allowance (1 s) passed without traffic, not before the period.
  expect(stale.at - silent).toBeGreaterThanOrEqual(3500);
  expect(stale.at - silent).toBeLessThan(5500);
  expect(reopened.at - silent).toBeLessThan(10_000);
  // The new connection works: a message published now arrives (retried until its subscribe is in).
  await expect.poll(async () => {
    await hub.publish('room', 'said', 'after');
    return got.includes('after');
  }, { timeout: 5000 }).toBe(true);
}

describe('a link that goes silent', () => {
  it('over WebSocket, the client shows it stale within 5.5 s and is connected again within 10 s, with the default options', async () => {
    await deadLink({});
  }, 30_000);

  it('over Server-Sent Events, the client shows it stale within 5.5 s and is connected again within 10 s, with the default options', async () => {
    await deadLink({ transport: 'sse', EventSource });
  }, 30_000);
});
